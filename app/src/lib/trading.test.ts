import { AccountRole, type Address, createNoopSigner, generateKeyPairSigner, getBase64Encoder, getTransactionDecoder } from '@solana/kit';
import { describe, expect, it } from 'vitest';

import { getPlaceOrderInstructionDataDecoder } from '../generated/instructions';
import { BOOK0, CH, deployment, fakeRpc, FEED0, INSURANCE, key, MARKET0, MARKET1, MINT, OWNERS, PROGRAM, PYTH1, VAULT } from '../test/fakeChain';
import { ORDER_TYPE, SIDE_BID } from './constants';
import { describeError } from './errors';
import { associatedTokenAddress, marginAccountPda } from './pda';
import { buildView, fetchRaw } from './snapshot';
import {
    buildCancel,
    buildDeposit,
    buildPlaceOrder,
    buildWithdraw,
    collateralRefresh,
    computeUnitLimit,
    computeUnitLimitInstruction,
    instructionNames,
    matchingRemaining,
    sendInstructions,
    TransactionFailedError,
} from './trading';

async function view() {
    const { store, accounts } = await deployment();
    return { view: buildView(await fetchRaw(fakeRpc(store) as never, PROGRAM, null)), accounts };
}

const addresses = (ix: { accounts?: readonly { address: Address }[] }) => (ix.accounts ?? []).map((a) => a.address);

describe('trading instructions (sdk/src/ix.rs, cli/src/main.rs)', () => {
    it('sizes the compute-unit limit from the budgets', () => {
        expect([...computeUnitLimitInstruction(200_000).data!]).toEqual([2, 0x40, 0x0d, 0x03, 0]);
        expect(computeUnitLimit(['RefreshCollateralPrice', 'PlaceOrder'])).toBe(300 + 10_000 + 560_000);
        expect(computeUnitLimit(['LiquidateTakeover'])).toBe(1_400_000); // no budget known here: the maximum
    });

    it("passes the taker's and each maker's other markets, then the makers in book order", async () => {
        const { view: v, accounts } = await view();
        // A2 buying up to 95 meets A3's two asks at 95; A3 also holds market 1.
        expect(matchingRemaining(v, 0, accounts.A2, [accounts.A3])).toEqual([MARKET1, PYTH1, accounts.A3]);
        // A maker the view does not know ends the list (the program would stop there).
        expect(matchingRemaining(v, 0, accounts.A2, [key(99), accounts.A3])).toEqual([]);
        const [place] = await buildPlaceOrder(v, {
            authority: createNoopSigner(OWNERS.a2),
            subAccountId: 0,
            marketIndex: 0,
            side: SIDE_BID,
            orderType: ORDER_TYPE.limit,
            priceTicks: 95n,
            baseLots: 4n,
            reduceOnly: false,
            expiryUnix: 0n,
            clientOrderId: 7n,
        });
        expect(place.name).toBe('PlaceOrder'); // a fixed-price collateral needs no refresh
        expect(addresses(place.instruction)).toEqual([
            OWNERS.a2, CH, accounts.A2, MARKET0, BOOK0, FEED0, VAULT, INSURANCE, 'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA',
            MARKET1, PYTH1, accounts.A3,
        ]);
        expect(place.instruction.accounts![11].role).toBe(AccountRole.WRITABLE);
        expect(getPlaceOrderInstructionDataDecoder().decode(place.instruction.data!)).toMatchObject({ side: 0, orderType: 0, priceTicks: 95n, baseLots: 4n, reduceOnly: false, clientOrderId: 7n });
    });

    it('opens the margin account on a first deposit, from the associated token account', async () => {
        const { view: v } = await view();
        const owner = key(60);
        const ixs = await buildDeposit(v, { owner: createNoopSigner(owner), amount: 5n, subAccountId: 0 });
        expect(ixs.map((i) => i.name)).toEqual(['CreateMarginAccount', 'Deposit']);
        expect(addresses(ixs[1].instruction)).toEqual([owner, CH, await marginAccountPda(CH, owner, 0), VAULT, await associatedTokenAddress(owner, MINT), 'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA']);
        const again = await buildDeposit(v, { owner: createNoopSigner(OWNERS.a1), amount: 5n, subAccountId: 0 });
        expect(again.map((i) => i.name)).toEqual(['Deposit']);
    });

    it('withdraws to the owner\'s token account, pricing every market the account holds', async () => {
        const { view: v, accounts } = await view();
        const ixs = await buildWithdraw(v, { owner: createNoopSigner(OWNERS.a3), amount: 1n, subAccountId: 0 });
        expect(ixs.map((i) => i.name)).toEqual(['CreateAssociatedTokenAccount', 'Withdraw']);
        expect(addresses(ixs[1].instruction).slice(-2)).toEqual([MARKET1, PYTH1]);
        expect(addresses(ixs[1].instruction)[2]).toBe(accounts.A3);
    });

    it('cancels one order or all, and refreshes a non-fixed collateral price first', async () => {
        const { view: v } = await view();
        const signer = createNoopSigner(OWNERS.a1);
        expect((await buildCancel(v, { authority: signer, subAccountId: 0, marketIndex: 0, orderId: 3n })).map((i) => i.name)).toEqual(['CancelOrder']);
        expect((await buildCancel(v, { authority: signer, subAccountId: 0, marketIndex: 0, orderId: null })).map((i) => i.name)).toEqual(['CancelAllOrders']);
        expect(collateralRefresh(v)).toEqual([]);
        const ch = v.clearinghouse!;
        const aware = { ...v, clearinghouse: { ...ch, collateralOracle: { ...ch.collateralOracle, mode: 1, redemptionRateFeed: key(70), redemptionHealthFeed: key(71), market: { ...ch.collateralOracle.market, source: 1, feed: key(72) } } } };
        const [refresh] = collateralRefresh(aware);
        expect(addresses(refresh.instruction)).toEqual([CH, key(72), key(70), key(71)]);
    });
});

describe('sending', () => {
    it('signs, sends with preflight, and turns a landed failure into the program error', async () => {
        const signer = await generateKeyPairSigner();
        const sent: string[] = [];
        const logs = [`Program ${PROGRAM} invoke [1]`, `Program ${PROGRAM} failed: custom program error: 0x177d`];
        const rpc = {
            getLatestBlockhash: () => ({ send: async () => ({ value: { blockhash: key(50), lastValidBlockHeight: 100n } }) }),
            sendTransaction: (wire: string) => ({ send: async () => (sent.push(wire), 'sig') }),
            getSignatureStatuses: () => ({ send: async () => ({ value: [{ confirmationStatus: 'confirmed', err: { InstructionError: [1, { Custom: 6013 }] } }] }) }),
            getTransaction: () => ({ send: async () => ({ meta: { logMessages: logs } }) }),
        };
        const ix = { name: 'Withdraw', instruction: { programAddress: PROGRAM, accounts: [{ address: signer.address, role: AccountRole.WRITABLE_SIGNER, signer }], data: new Uint8Array([1]) } };
        const error = await sendInstructions(rpc as never, signer, [ix as never]).catch((e) => e);
        expect(error).toBeInstanceOf(TransactionFailedError);
        expect(describeError(error, { rpcUrl: 'x', programAddress: PROGRAM, instructionNames: instructionNames([ix as never]) }).message).toBe(
            "The program refused the transaction in instruction 2 (Withdraw): InsufficientCollateral (6013): Withdrawal exceeds the account's collateral balance.",
        );
        // One signed v0 transaction: the compute-budget instruction first, then ours.
        const tx = getTransactionDecoder().decode(getBase64Encoder().encode(sent[0]));
        expect(Object.keys(tx.signatures)).toEqual([signer.address]);
        expect(tx.signatures[signer.address]).not.toBeNull();
    });
});
