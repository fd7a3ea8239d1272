import { createHash } from 'node:crypto';

import { address, getAddressEncoder, getBase58Decoder } from '@solana/kit';
import { describe, expect, it } from 'vitest';

import { findCollateralVaultPda, findInsuranceStakePda, findInsuranceVaultPda, findMarginAccountPda, findMarketPda, findOrderBookPda, findPriceFeedPda } from '../generated/pdas';
import { BULWARK_PROGRAM_ADDRESS } from '../generated/programs';
import {
    associatedTokenAddress,
    clearinghousePda,
    collateralVaultPda,
    insuranceStakePda,
    insuranceVaultPda,
    marginAccountPda,
    marketPda,
    orderBookPda,
    priceFeedPda,
} from './pda';

const creator = address('4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T');
const mint = address('Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB');
const owner = address('9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM');

/** Whether `found` is sha256(seeds ‖ bump ‖ program ‖ "ProgramDerivedAddress") for some bump. */
function isDerivedFrom(found: string, seeds: Uint8Array[], program: string): boolean {
    const programBytes = Uint8Array.from(getAddressEncoder().encode(address(program)));
    for (let bump = 255; bump >= 0; bump--) {
        const hash = createHash('sha256');
        for (const s of seeds) hash.update(s);
        hash.update(Uint8Array.of(bump));
        hash.update(programBytes);
        hash.update('ProgramDerivedAddress');
        if (getBase58Decoder().decode(hash.digest()) === found) return true;
    }
    return false;
}

const enc = (s: string) => new TextEncoder().encode(s);
const key = (a: string) => Uint8Array.from(getAddressEncoder().encode(address(a)));
const u16 = (n: number) => Uint8Array.of(n & 0xff, n >> 8);

describe('PDAs (sdk/src/pda.rs)', () => {
    it('hash exactly the seeds the program declares', async () => {
        const ch = await clearinghousePda(creator, mint, 258);
        expect(isDerivedFrom(ch, [enc('clearinghouse'), key(creator), key(mint), u16(258)], BULWARK_PROGRAM_ADDRESS)).toBe(true);
        expect(isDerivedFrom(await collateralVaultPda(ch), [enc('collateral_vault'), key(ch)], BULWARK_PROGRAM_ADDRESS)).toBe(true);
        expect(isDerivedFrom(await insuranceVaultPda(ch), [enc('insurance_vault'), key(ch)], BULWARK_PROGRAM_ADDRESS)).toBe(true);
        expect(isDerivedFrom(await marginAccountPda(ch, owner, 3), [enc('margin_account'), key(ch), key(owner), u16(3)], BULWARK_PROGRAM_ADDRESS)).toBe(true);
        const feed = await priceFeedPda(owner, 0x0102n);
        expect(isDerivedFrom(feed, [enc('price_feed'), key(owner), Uint8Array.of(2, 1, 0, 0, 0, 0, 0, 0)], BULWARK_PROGRAM_ADDRESS)).toBe(true);
        const market = await marketPda(ch, 7);
        expect(isDerivedFrom(market, [enc('market'), key(ch), u16(7)], BULWARK_PROGRAM_ADDRESS)).toBe(true);
        expect(isDerivedFrom(await orderBookPda(market), [enc('order_book'), key(market)], BULWARK_PROGRAM_ADDRESS)).toBe(true);
        expect(isDerivedFrom(await insuranceStakePda(ch, owner), [enc('insurance_stake'), key(ch), key(owner)], BULWARK_PROGRAM_ADDRESS)).toBe(true);
    });

    it('agree with the PDAs the IDL declares (the generated client)', async () => {
        const ch = await clearinghousePda(creator, mint, 0);
        expect(await marginAccountPda(ch, owner, 1)).toBe((await findMarginAccountPda({ clearinghouse: ch, owner, subAccountId: 1 }))[0]);
        const market = await marketPda(ch, 2);
        expect(market).toBe((await findMarketPda({ clearinghouse: ch, index: 2 }))[0]);
        expect(await orderBookPda(market)).toBe((await findOrderBookPda({ market }))[0]);
        expect(await insuranceStakePda(ch, owner)).toBe((await findInsuranceStakePda({ clearinghouse: ch, owner }))[0]);
        expect(await priceFeedPda(owner, 10n)).toBe((await findPriceFeedPda({ authority: owner, feedId: 10n }))[0]);
        expect(await collateralVaultPda(ch)).toBe((await findCollateralVaultPda({ clearinghouse: ch }))[0]);
        expect(await insuranceVaultPda(ch)).toBe((await findInsuranceVaultPda({ clearinghouse: ch }))[0]);
    });

    it('are distinct where the seeds differ', async () => {
        const ch = await clearinghousePda(creator, mint, 0);
        expect(ch).not.toBe(await clearinghousePda(creator, mint, 1));
        expect(await collateralVaultPda(ch)).not.toBe(await insuranceVaultPda(ch));
        expect(await marginAccountPda(ch, owner, 0)).not.toBe(await marginAccountPda(ch, owner, 1));
    });

    it('derives associated token accounts under the ATA program', async () => {
        const ata = await associatedTokenAddress(owner, mint);
        const tokenProgram = 'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA';
        expect(isDerivedFrom(ata, [key(owner), key(tokenProgram), key(mint)], 'ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL')).toBe(true);
    });
});
