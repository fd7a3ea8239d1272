// Program-derived addresses, with the seeds of the program's `seeds` constraints
// (programs/bulwark/src/constants.rs, state/*.rs) and sdk/src/pda.rs.

import {
    type Address,
    address,
    getAddressEncoder,
    getProgramDerivedAddress,
    getU16Encoder,
    getU64Encoder,
    getUtf8Encoder,
} from '@solana/kit';

import { BULWARK_PROGRAM_ADDRESS } from '../generated/programs';
import { SEEDS } from './constants';

export const TOKEN_PROGRAM_ADDRESS = address('TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA');
export const ASSOCIATED_TOKEN_PROGRAM_ADDRESS = address('ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL');
export const SYSTEM_PROGRAM_ADDRESS = address('11111111111111111111111111111111');

const utf8 = getUtf8Encoder();
const addr = getAddressEncoder();
const u16 = getU16Encoder();
const u64 = getU64Encoder();

async function find(seeds: Uint8Array[], programAddress: Address): Promise<Address> {
    const [pda] = await getProgramDerivedAddress({ programAddress, seeds });
    return pda;
}

const bytes = (v: ArrayLike<number>) => Uint8Array.from(v);

/** `["clearinghouse", creator, collateral_mint, id (u16 LE)]`. */
export const clearinghousePda = (creator: Address, mint: Address, id: number, program = BULWARK_PROGRAM_ADDRESS) =>
    find([bytes(utf8.encode(SEEDS.clearinghouse)), bytes(addr.encode(creator)), bytes(addr.encode(mint)), bytes(u16.encode(id))], program);

/** `["collateral_vault", clearinghouse]`: an SPL token account owned by the clearinghouse. */
export const collateralVaultPda = (clearinghouse: Address, program = BULWARK_PROGRAM_ADDRESS) =>
    find([bytes(utf8.encode(SEEDS.collateralVault)), bytes(addr.encode(clearinghouse))], program);

/** `["insurance_vault", clearinghouse]`. */
export const insuranceVaultPda = (clearinghouse: Address, program = BULWARK_PROGRAM_ADDRESS) =>
    find([bytes(utf8.encode(SEEDS.insuranceVault)), bytes(addr.encode(clearinghouse))], program);

/** `["margin_account", clearinghouse, owner, sub_account_id (u16 LE)]`. */
export const marginAccountPda = (
    clearinghouse: Address,
    owner: Address,
    subAccountId: number,
    program = BULWARK_PROGRAM_ADDRESS,
) =>
    find(
        [
            bytes(utf8.encode(SEEDS.marginAccount)),
            bytes(addr.encode(clearinghouse)),
            bytes(addr.encode(owner)),
            bytes(u16.encode(subAccountId)),
        ],
        program,
    );

/** `["price_feed", authority, feed_id (u64 LE)]`. */
export const priceFeedPda = (authority: Address, feedId: bigint, program = BULWARK_PROGRAM_ADDRESS) =>
    find([bytes(utf8.encode(SEEDS.priceFeed)), bytes(addr.encode(authority)), bytes(u64.encode(feedId))], program);

/** `["market", clearinghouse, index (u16 LE)]`. */
export const marketPda = (clearinghouse: Address, index: number, program = BULWARK_PROGRAM_ADDRESS) =>
    find([bytes(utf8.encode(SEEDS.market)), bytes(addr.encode(clearinghouse)), bytes(u16.encode(index))], program);

/** `["order_book", market]`. */
export const orderBookPda = (market: Address, program = BULWARK_PROGRAM_ADDRESS) =>
    find([bytes(utf8.encode(SEEDS.orderBook)), bytes(addr.encode(market))], program);

/** `["insurance_stake", clearinghouse, owner]`. */
export const insuranceStakePda = (clearinghouse: Address, owner: Address, program = BULWARK_PROGRAM_ADDRESS) =>
    find([bytes(utf8.encode(SEEDS.insuranceStake)), bytes(addr.encode(clearinghouse)), bytes(addr.encode(owner))], program);

/** The associated token account of `owner` for `mint` (SPL Token program). */
export const associatedTokenAddress = (owner: Address, mint: Address) =>
    find([bytes(addr.encode(owner)), bytes(addr.encode(TOKEN_PROGRAM_ADDRESS)), bytes(addr.encode(mint))], ASSOCIATED_TOKEN_PROGRAM_ADDRESS);

/** The 32 bytes of an address (for ordering ties as the SDK orders `Pubkey`s). */
export const addressBytes = (a: string): Uint8Array => bytes(addr.encode(address(a)));
