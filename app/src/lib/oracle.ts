// Price reading as programs/bulwark/src/math/oracle.rs and controller/pricing.rs do it, for
// the feeds a browser can decode: `Fixed` prices and Bulwark's own `Manual` feeds (PriceFeed
// accounts). Pyth accounts are not decoded here; markets on them show the program's last sample.

import { BPS_DENOMINATOR, MAX_ORACLE_EXPONENT, MAX_ORACLE_FUTURE_SKEW_SECONDS, PRICE_DECIMALS, PRICE_PRECISION } from './constants';
import { abs, div, divCeil, I128, MathError, mul, sub, toI64 } from './safeMath';

/** Rescale `value × 10^exponent` to `PRICE_DECIMALS` (`normalize_to_price_precision`). */
export function normalizeToPricePrecision(value: bigint, exponent: number, roundUp: boolean): bigint {
    if (Math.abs(exponent) > MAX_ORACLE_EXPONENT) throw new MathError('overflow', `exponent ${exponent}`);
    const shift = PRICE_DECIMALS + exponent;
    if (shift >= 0) return toI64(mul(value, 10n ** BigInt(shift), I128));
    const divisor = 10n ** BigInt(-shift);
    return toI64(roundUp ? divCeil(value, divisor, I128) : div(value, divisor, I128));
}

/** A USD price in collateral terms, rounded toward zero (`in_collateral`). */
export function inCollateral(usdPrice: bigint, collateralUsd: bigint): bigint {
    return toI64(div(mul(usdPrice, PRICE_PRECISION, I128), collateralUsd, I128));
}

export type OracleGuards = {
    maxStalenessSlots: bigint;
    maxStalenessSeconds: bigint;
    maxConfidenceBps: bigint;
    maxTwapDivergenceBps: bigint;
};

export type Observation = {
    price: bigint;
    conf: bigint;
    emaPrice: bigint;
    publishTime: bigint;
    publishSlot: bigint;
};

export type OracleValidity = 'valid' | 'non-positive' | 'stale (time)' | 'stale (slots)' | 'wide confidence' | 'too volatile';

const saturatingSubI64 = (a: bigint, b: bigint): bigint => {
    const v = a - b;
    const limit = (1n << 63n) - 1n;
    return v > limit ? limit : v < -limit - 1n ? -limit - 1n : v;
};

/** The first check an observation fails, in the program's order (`assess`). */
export function assess(obs: Observation, guards: OracleGuards, nowUnix: bigint, nowSlot: bigint): OracleValidity {
    if (obs.price <= 0n) return 'non-positive';
    const ageSeconds = saturatingSubI64(nowUnix, obs.publishTime);
    if (ageSeconds > guards.maxStalenessSeconds || ageSeconds < -MAX_ORACLE_FUTURE_SKEW_SECONDS) return 'stale (time)';
    const ageSlots = nowSlot > obs.publishSlot ? nowSlot - obs.publishSlot : 0n;
    if (ageSlots > guards.maxStalenessSlots) return 'stale (slots)';
    if (mul(obs.conf, BPS_DENOMINATOR, I128) > mul(obs.price, guards.maxConfidenceBps, I128)) return 'wide confidence';
    if (obs.emaPrice <= 0n) return 'too volatile';
    const divergence = abs(sub(obs.price, obs.emaPrice, I128), I128);
    if (mul(divergence, BPS_DENOMINATOR, I128) > mul(obs.emaPrice, guards.maxTwapDivergenceBps, I128)) {
        return 'too volatile';
    }
    return 'valid';
}

/** A Manual feed's fields, normalised (`oracle::manual::decode` then `normalize`). */
export function observationOfFeed(feed: {
    price: bigint;
    conf: bigint;
    emaPrice: bigint;
    exponent: number;
    publishTime: bigint;
    publishSlot: bigint;
}): Observation {
    return {
        price: normalizeToPricePrecision(feed.price, feed.exponent, false),
        conf: normalizeToPricePrecision(feed.conf, feed.exponent, true),
        emaPrice: normalizeToPricePrecision(feed.emaPrice, feed.exponent, false),
        publishTime: feed.publishTime,
        publishSlot: feed.publishSlot,
    };
}
