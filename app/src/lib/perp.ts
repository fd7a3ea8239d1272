// Port of programs/bulwark/src/math/perp.rs (the parts a dashboard needs): position valuation,
// size-scaled margin ratios, funding, and liquidation / bankruptcy prices. Same integer types,
// same rounding, same overflow failures.

import { BPS_DENOMINATOR } from './constants';
import { abs, add, div, divFloor, I128, max, min, mul, sub, toI64, U128, unsignedAbs } from './safeMath';
import type { PositionValuation } from './margin';

/** What the margin math needs to know about a market (`PerpSpec`). */
export type PerpSpec = {
    tickSize: bigint;
    quotePerLotTick: bigint;
    initialMarginBps: bigint;
    maintenanceMarginBps: bigint;
    sizePremiumBps: bigint;
    sizePremiumUnitLots: bigint;
};

/** Signed value of `baseLots` at `price`, rounded down (`base_value`). */
export function baseValue(baseLots: bigint, price: bigint, spec: PerpSpec): bigint {
    return divFloor(mul(mul(baseLots, price, I128), spec.quotePerLotTick, I128), spec.tickSize, I128);
}

/** A margin ratio grown by the size premium, capped at 100% (`scaled_margin_ratio_bps`). */
export function scaledMarginRatioBps(baseRatioBps: bigint, absLots: bigint, spec: PerpSpec): bigint {
    const premium =
        spec.sizePremiumUnitLots === 0n
            ? 0n
            : div(mul(absLots, spec.sizePremiumBps, U128), spec.sizePremiumUnitLots, U128);
    return min(add(baseRatioBps, premium, U128), BPS_DENOMINATOR);
}

/** Funding owed to (+) or by (−) a position since its last settlement (`funding_owed`). */
export function fundingOwed(baseLots: bigint, cumulativeNow: bigint, cumulativeLast: bigint): bigint {
    const owed = mul(baseLots, sub(cumulativeNow, cumulativeLast, I128), I128);
    return sub(0n, owed, I128); // checked_neg
}

/** Value a position at `price` for the margin math (`value_position`). */
export function valuePosition(
    baseLots: bigint,
    quoteEntry: bigint,
    openBidLots: bigint,
    openAskLots: bigint,
    unsettledFunding: bigint,
    price: bigint,
    spec: PerpSpec,
): PositionValuation {
    const value = baseValue(baseLots, price, spec);
    // Worst case if every resting order filled: the larger of all bids or all asks.
    const longWorst = unsignedAbs(add(baseLots, openBidLots, I128));
    const shortWorst = unsignedAbs(sub(baseLots, openAskLots, I128));
    const worstLots = max(longWorst, shortWorst);
    const extraLots = max(sub(worstLots, unsignedAbs(baseLots), I128), 0n);
    const extraNotional = unsignedAbs(baseValue(toI64(extraLots), price, spec));
    // `worst_lots as u64` in Rust: a cast, which keeps the low 64 bits.
    const initial = scaledMarginRatioBps(spec.initialMarginBps, BigInt.asUintN(64, worstLots), spec);
    const maintenance = scaledMarginRatioBps(spec.maintenanceMarginBps, unsignedAbs(baseLots), spec);
    return {
        notional: abs(value, I128),
        unrealizedPnl: add(value, quoteEntry, I128),
        unsettledFunding,
        openOrderNotional: extraNotional,
        initialRatioBps: initial,
        maintenanceRatioBps: maintenance,
    };
}

/**
 * One funding period's payment per lot (`funding_per_lot`): the mark TWAP's premium over the
 * oracle TWAP, clamped to `maxRateBps` of the oracle TWAP, on one lot. Positive: longs pay.
 */
export function fundingPerLot(markTwap: bigint, oracleTwap: bigint, maxRateBps: bigint, spec: PerpSpec): bigint {
    if (oracleTwap <= 0n || markTwap <= 0n) return 0n;
    const bound = div(mul(oracleTwap, maxRateBps, I128), BPS_DENOMINATOR, I128);
    const premium = sub(markTwap, oracleTwap, I128);
    const clamped = premium < -bound ? -bound : premium > bound ? bound : premium;
    return div(mul(clamped, spec.quotePerLotTick, I128), spec.tickSize, I128);
}

/** Solve `constant = k · p · coefficient / BPS` for `p`, with `k = qplt / tick_size`. */
function solvePrice(constant: bigint, coefficient: bigint, spec: PerpSpec): bigint | null {
    if (coefficient === 0n) return null;
    const numerator = mul(mul(constant, spec.tickSize, I128), BPS_DENOMINATOR, I128);
    const denominator = mul(coefficient, spec.quotePerLotTick, I128);
    const price = div(numerator, denominator, I128);
    if (price <= 0n) return null;
    return toI64(price);
}

/**
 * Price at which equity equals the maintenance requirement for one position, everything else
 * fixed (`liquidation_price`). `null`: no positive price does it.
 */
export function liquidationPrice(
    baseLots: bigint,
    quoteEntry: bigint,
    otherEquity: bigint,
    otherMaintenance: bigint,
    spec: PerpSpec,
): bigint | null {
    if (baseLots === 0n) return null;
    const ratio = scaledMarginRatioBps(spec.maintenanceMarginBps, unsignedAbs(baseLots), spec);
    const coefficient = sub(mul(abs(baseLots, I128), ratio, I128), mul(baseLots, BPS_DENOMINATOR, I128), I128);
    return solvePrice(sub(add(otherEquity, quoteEntry, I128), otherMaintenance, I128), coefficient, spec);
}

/** Price at which the account's equity is zero (`bankruptcy_price`). */
export function bankruptcyPrice(
    baseLots: bigint,
    quoteEntry: bigint,
    otherEquity: bigint,
    spec: PerpSpec,
): bigint | null {
    if (baseLots === 0n) return null;
    const coefficient = sub(0n, mul(baseLots, BPS_DENOMINATOR, I128), I128);
    return solvePrice(add(otherEquity, quoteEntry, I128), coefficient, spec);
}
