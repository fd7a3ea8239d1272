// The book's mark price (controller/market.rs `mark_sample`) and the band it is clamped to
// (math/liquidation.rs `band_limit_ticks`).

import { BPS_DENOMINATOR } from './constants';
import { add, divCeil, divFloor, I128, max, min, mul, sub, toI64, toU64 } from './safeMath';
import { orders, type BookInput } from './book';
import { SIDE_ASK, SIDE_BID } from './constants';

/**
 * The worst price, in ticks, `bandBps` through `oraclePrice`, rounded toward the oracle (a
 * seller's floor rounds up, a buyer's cap down), at least one tick (`band_limit_ticks`).
 */
export function bandLimitTicks(oraclePrice: bigint, tickSize: bigint, bandBps: bigint, selling: boolean): bigint {
    const ticks = selling
        ? divCeil(mul(oraclePrice, sub(BPS_DENOMINATOR, bandBps, I128), I128), mul(BPS_DENOMINATOR, tickSize, I128), I128)
        : divFloor(mul(oraclePrice, add(BPS_DENOMINATOR, bandBps, I128), I128), mul(BPS_DENOMINATOR, tickSize, I128), I128);
    return toU64(max(ticks, 1n));
}

/**
 * The mark (`mark_sample`): the mid of the best bid and ask, each clamped to the fill band
 * around the oracle, or the oracle price when the book is one-sided. Expired orders count,
 * as in the program (it reads the first order of each side).
 */
export function markSample(book: BookInput, tickSize: bigint, oraclePrice: bigint, fillBandBps: bigint): bigint {
    const bid = orders(book, SIDE_BID)[0]?.priceTicks;
    const ask = orders(book, SIDE_ASK)[0]?.priceTicks;
    if (bid === undefined || ask === undefined) return oraclePrice;
    const low = bandLimitTicks(oraclePrice, tickSize, fillBandBps, true);
    const high = max(bandLimitTicks(oraclePrice, tickSize, fillBandBps, false), low);
    const clamp = (v: bigint) => min(max(v, low), high);
    const midTicks = (clamp(bid) + clamp(ask)) / 2n;
    return toI64(midTicks * tickSize);
}
