// A browser wallet through the Wallet Standard, for devnet: list the wallets that can sign
// Solana transactions on the chosen chain, connect one, and use it as a kit signer.

import { getWallets } from '@wallet-standard/app';
import type { Wallet, WalletAccount } from '@wallet-standard/base';
import {
    type Address,
    getTransactionDecoder,
    getTransactionEncoder,
    type SignatureDictionary,
    type Transaction,
    type TransactionPartialSigner,
} from '@solana/kit';

export type SolanaChain = 'solana:devnet' | 'solana:testnet' | 'solana:mainnet' | 'solana:localnet';

const CONNECT = 'standard:connect';
const SIGN_TRANSACTION = 'solana:signTransaction';

type ConnectFeature = { connect: (input?: { silent?: boolean }) => Promise<{ accounts: readonly WalletAccount[] }> };
type SignTransactionFeature = {
    signTransaction: (
        ...inputs: Array<{ account: WalletAccount; transaction: Uint8Array; chain?: string }>
    ) => Promise<ReadonlyArray<{ signedTransaction: Uint8Array }>>;
};

/** Wallets registered with the page that can connect and sign transactions for `chain`. */
export function solanaWallets(chain: SolanaChain): Wallet[] {
    return getWallets()
        .get()
        .filter((w) => CONNECT in w.features && SIGN_TRANSACTION in w.features && w.chains.includes(chain));
}

/** Call `listener` whenever a wallet registers (extensions load after the page). */
export function onWalletsChanged(listener: () => void): () => void {
    const wallets = getWallets();
    const offRegister = wallets.on('register', listener);
    const offUnregister = wallets.on('unregister', listener);
    return () => {
        offRegister();
        offUnregister();
    };
}

export async function connectWallet(wallet: Wallet): Promise<WalletAccount> {
    const { accounts } = await (wallet.features[CONNECT] as ConnectFeature).connect();
    const account = accounts[0] ?? wallet.accounts[0];
    if (!account) throw new Error(`${wallet.name} did not share an account.`);
    return account;
}

/**
 * A kit signer backed by the wallet's `solana:signTransaction`: the wallet signs the wire
 * transaction and its signature for our address is taken back. A wallet that changes the
 * transaction before signing (adding instructions) invalidates that signature, and the node
 * refuses it with a signature error.
 */
export function walletSigner(wallet: Wallet, account: WalletAccount, chain: SolanaChain): TransactionPartialSigner {
    const feature = wallet.features[SIGN_TRANSACTION] as SignTransactionFeature;
    const encoder = getTransactionEncoder();
    const decoder = getTransactionDecoder();
    const address = account.address as Address;
    return {
        address,
        async signTransactions(transactions: readonly Transaction[]): Promise<readonly SignatureDictionary[]> {
            const outputs = await feature.signTransaction(
                ...transactions.map((t) => ({ account, transaction: Uint8Array.from(encoder.encode(t)), chain })),
            );
            return outputs.map((o) => {
                const signed = decoder.decode(o.signedTransaction);
                const signature = signed.signatures[address];
                if (!signature) throw new Error(`${wallet.name} returned a transaction without a signature for ${address}.`);
                return Object.freeze({ [address]: signature }) as SignatureDictionary;
            });
        },
    };
}
