// A keypair kept in the browser's local storage, for localnet only: it signs without a wallet,
// so the page can trade against bulwark-localnet. Stored in the Solana CLI's format (a JSON
// array of the 32-byte secret followed by the 32-byte public key) so the same key can be used
// with `bulwark --keypair`, e.g. to receive collateral from `bulwark mint-collateral --to`.

import { createKeyPairSignerFromBytes, getAddressEncoder, type KeyPairSigner, createKeyPairSignerFromPrivateKeyBytes } from '@solana/kit';

export const STORAGE_KEY = 'bulwark.localnet.keypair';

export type StoredKeypair = { signer: KeyPairSigner; bytes: Uint8Array };

export async function keypairFromJson(text: string): Promise<StoredKeypair> {
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch {
        throw new Error('The keypair is not JSON: paste the contents of a Solana CLI keypair file (an array of 64 numbers).');
    }
    if (!Array.isArray(parsed) || parsed.length !== 64 || !parsed.every((n) => Number.isInteger(n) && n >= 0 && n <= 255)) {
        throw new Error('A Solana CLI keypair is an array of 64 numbers from 0 to 255.');
    }
    const bytes = Uint8Array.from(parsed as number[]);
    // Throws when the public half does not belong to the secret half.
    const signer = await createKeyPairSignerFromBytes(bytes, true);
    return { signer, bytes };
}

export async function generateKeypair(): Promise<StoredKeypair> {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const signer = await createKeyPairSignerFromPrivateKeyBytes(secret, true);
    const bytes = new Uint8Array(64);
    bytes.set(secret, 0);
    bytes.set(getAddressEncoder().encode(signer.address), 32);
    return { signer, bytes };
}

export const keypairToJson = (bytes: Uint8Array): string => JSON.stringify([...bytes]);

export async function loadStoredKeypair(storage: Storage): Promise<StoredKeypair | null> {
    const text = storage.getItem(STORAGE_KEY);
    if (!text) return null;
    try {
        return await keypairFromJson(text);
    } catch {
        return null;
    }
}

export function storeKeypair(storage: Storage, kp: StoredKeypair | null): void {
    if (kp) storage.setItem(STORAGE_KEY, keypairToJson(kp.bytes));
    else storage.removeItem(STORAGE_KEY);
}
