// @solana/kit against bulwark-localnet: cluster queries, an airdrop, a transfer built, signed,
// simulated and sent by kit, its status and transaction, a refused preflight, Bulwark's
// accounts through getProgramAccounts, and the WebSocket subscriptions: kit's
// sendAndConfirmTransactionFactory (signature and slot notifications, getEpochInfo), account,
// program (filtered) and logs notifications, each ended by aborting it (the unsubscribe).
// Exits non-zero on the first mismatch.
// Usage: node localnet-client.mjs <rpc url> <websocket url> <clearinghouse> <clearinghouse admin>
import {
  SOLANA_ERROR__JSON_RPC__SERVER_ERROR_SEND_TRANSACTION_PREFLIGHT_FAILURE,
  address,
  appendTransactionMessageInstruction,
  compileTransactionMessage,
  createSolanaRpc,
  createSolanaRpcSubscriptions,
  createTransactionMessage,
  generateKeyPairSigner,
  getBase58Decoder,
  getBase64Decoder,
  getBase64EncodedWireTransaction,
  getBase64Encoder,
  getCompiledTransactionMessageEncoder,
  getSignatureFromTransaction,
  isSolanaError,
  lamports,
  pipe,
  sendAndConfirmTransactionFactory,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  signTransactionMessageWithSigners,
} from "@solana/kit";
import { getTransferSolInstruction } from "@solana-program/system";

const [url, wsUrl, clearinghouse, admin] = process.argv.slice(2);
const BULWARK = address("Euo6vbzdPvbSkFy53qc6QdTLkAskw8JX14ejb8Wgrub4");
const rpc = createSolanaRpc(url);
const rpcSubscriptions = createSolanaRpcSubscriptions(wsUrl);

function check(condition, what) {
  if (!condition) {
    console.error(`FAILED: ${what}`);
    process.exit(1);
  }
  console.log(`ok: ${what}`);
}

async function landed(signature) {
  for (let i = 0; i < 100; i++) {
    const { value } = await rpc.getSignatureStatuses([signature]).send();
    if (value[0]?.confirmationStatus === "finalized") return value[0];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${signature} never landed`);
}

async function transfer(from, to, amount) {
  const { value: blockhash } = await rpc.getLatestBlockhash().send();
  const message = pipe(
    createTransactionMessage({ version: 0 }),
    (m) => setTransactionMessageFeePayerSigner(from, m),
    (m) => setTransactionMessageLifetimeUsingBlockhash(blockhash, m),
    (m) => appendTransactionMessageInstruction(getTransferSolInstruction({ source: from, destination: to, amount }), m),
  );
  return { message, transaction: await signTransactionMessageWithSigners(message) };
}

const version = await rpc.getVersion().send();
check(typeof version["solana-core"] === "string", `getVersion ${version["solana-core"]}`);
check((await rpc.getHealth().send()) === "ok", "getHealth");
const slot = await rpc.getSlot().send();
check(slot > 0n && (await rpc.getBlockHeight().send()) > 0n, `getSlot ${slot}, getBlockHeight`);
check((await rpc.getMinimumBalanceForRentExemption(0n).send()) === 890880n, "getMinimumBalanceForRentExemption(0)");

const alice = await generateKeyPairSigner();
const bob = await generateKeyPairSigner();
const airdrop = await rpc.requestAirdrop(alice.address, lamports(2_000_000_000n)).send();
await landed(airdrop);
check((await rpc.getBalance(alice.address).send()).value === 2_000_000_000n, "requestAirdrop, getBalance");

// A v0 transfer built and signed by kit: fee, simulation, send, status, transaction.
const { message, transaction } = await transfer(alice, bob.address, lamports(1_000_000n));
const wire = getBase64EncodedWireTransaction(transaction);
const compiled = getBase64Decoder().decode(getCompiledTransactionMessageEncoder().encode(compileTransactionMessage(message)));
check((await rpc.getFeeForMessage(compiled).send()).value === 5000n, "getFeeForMessage");
check((await rpc.isBlockhashValid(message.lifetimeConstraint.blockhash).send()).value === true, "isBlockhashValid");
const simulation = await rpc.simulateTransaction(wire, { encoding: "base64", sigVerify: true }).send();
check(simulation.value.err === null && simulation.value.logs.length > 0, "simulateTransaction");
const signature = await rpc.sendTransaction(wire, { encoding: "base64" }).send();
check(signature === getSignatureFromTransaction(transaction), "sendTransaction returns the signature");
const status = await landed(signature);
check(status.err === null, "getSignatureStatuses: finalized, no error");
const tx = await rpc.getTransaction(signature, { encoding: "json", maxSupportedTransactionVersion: 0 }).send();
check(tx.version === 0 && tx.meta.fee === 5000n && tx.meta.err === null, "getTransaction (json, v0)");
check((await rpc.getBalance(bob.address).send()).value === 1_000_000n, "the transfer arrived exactly");

// More than Alice holds: the preflight refuses with -32002 and the simulation as data.
const { transaction: tooMuch } = await transfer(alice, bob.address, lamports(5_000_000_000n));
try {
  await rpc.sendTransaction(getBase64EncodedWireTransaction(tooMuch), { encoding: "base64" }).send();
  check(false, "an unpayable transfer was accepted");
} catch (e) {
  check(isSolanaError(e, SOLANA_ERROR__JSON_RPC__SERVER_ERROR_SEND_TRANSACTION_PREFLIGHT_FAILURE), `preflight failure: ${e.message}`);
}

// Bulwark's accounts: the clearinghouse (admin at bytes 40..72) and its markets by memcmp.
const account = await rpc.getAccountInfo(address(clearinghouse), { encoding: "base64" }).send();
check(account.value.owner === BULWARK, "getAccountInfo: owned by Bulwark");
const data = getBase64Encoder().encode(account.value.data[0]);
check(getBase58Decoder().decode(data.slice(40, 72)) === admin, "the clearinghouse's admin bytes");
const markets = await rpc
  .getProgramAccounts(BULWARK, {
    encoding: "base64",
    filters: [{ memcmp: { offset: 8n, bytes: clearinghouse, encoding: "base58" } }],
  })
  .send();
check(markets.length >= 1, `getProgramAccounts by clearinghouse: ${markets.length} accounts`);
const many = await rpc.getMultipleAccounts([address(clearinghouse), bob.address], { encoding: "base64" }).send();
check(many.value.length === 2 && many.value[1].lamports === 1_000_000n, "getMultipleAccounts");
// ---- WebSocket subscriptions
/**
 * Subscribe now and start listening at once (kit drops notifications that arrive before an
 * iterator polls); `take()` resolves with the first notification `accept` takes, within 10 s,
 * and unsubscribes.
 */
async function first(subscribe, accept, what) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 10_000);
  const notifications = await subscribe.subscribe({ abortSignal: abort.signal });
  const found = (async () => {
    try {
      for await (const notification of notifications) {
        if (accept(notification)) return notification;
      }
      throw new Error(`no ${what} within 10 s`);
    } finally {
      clearTimeout(timer);
      abort.abort(); // accountUnsubscribe & co.
    }
  })();
  found.catch(() => {}); // reported by take()
  return { take: () => found };
}

const slots = await first(rpcSubscriptions.slotNotifications(), () => true, "slot notification");
const slotNote = await slots.take();
check(slotNote.slot > 0n && slotNote.parent < slotNote.slot, `slotNotifications: slot ${slotNote.slot}`);

const carol = await generateKeyPairSigner();
const carolAccount = await first(
  rpcSubscriptions.accountNotifications(carol.address, { encoding: "base64", commitment: "confirmed" }),
  () => true,
  "account notification",
);
const systemAccounts = await first(
  rpcSubscriptions.programNotifications(address("11111111111111111111111111111111"), {
    encoding: "base64",
    filters: [{ dataSize: 0n }],
  }),
  (n) => n.value.pubkey === carol.address,
  "program notification",
);
const aliceLogs = await first(
  rpcSubscriptions.logsNotifications({ mentions: [alice.address] }, { commitment: "confirmed" }),
  () => true,
  "logs notification",
);
// kit's own send-and-confirm: signatureNotifications, slotNotifications and getEpochInfo.
const sendAndConfirm = sendAndConfirmTransactionFactory({ rpc, rpcSubscriptions });
const { transaction: toCarol } = await transfer(alice, carol.address, lamports(3_000_000n));
await sendAndConfirm(toCarol, { commitment: "confirmed" });
check(true, "sendAndConfirmTransactionFactory: confirmed over signatureNotifications");
const carolNote = await carolAccount.take();
check(carolNote.value.lamports === 3_000_000n && carolNote.context.slot > 0n, "accountNotifications: exact lamports");
const keyed = await systemAccounts.take();
check(keyed.value.account.lamports === 3_000_000n, "programNotifications with a dataSize filter");
const logs = await aliceLogs.take();
check(
  logs.value.signature === getSignatureFromTransaction(toCarol) && logs.value.err === null && logs.value.logs.length > 0,
  "logsNotifications mentioning the sender",
);
const epoch = await rpc.getEpochInfo().send();
check(epoch.absoluteSlot > 0n && epoch.blockHeight > 0n, `getEpochInfo: epoch ${epoch.epoch}`);
console.log("kit client: all checks passed");
