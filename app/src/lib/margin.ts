// Port of programs/bulwark/src/math/margin.rs and the liquidation test of math/liquidation.rs:
// equity against the initial and maintenance requirements, every requirement rounded up.

import { BPS_DENOMINATOR } from './constants';
import { abs, add, divCeil, I128, mul, sub } from './safeMath';

/** One position valued at the oracle price, in collateral atoms (`PositionValuation`). */
export type PositionValuation = {
    notional: bigint;
    unrealizedPnl: bigint;
    unsettledFunding: bigint;
    openOrderNotional: bigint;
    initialRatioBps: bigint;
    maintenanceRatioBps: bigint;
};

export type Health = {
    equity: bigint;
    initialRequirement: bigint;
    maintenanceRequirement: bigint;
};

export const meetsInitial = (h: Health): boolean => h.equity >= h.initialRequirement;
export const meetsMaintenance = (h: Health): boolean => h.equity >= h.maintenanceRequirement;

/** Collateral that can leave while the account stays at or above its initial requirement. */
export function freeCollateral(h: Health): bigint {
    const free = h.equity - h.initialRequirement; // saturating in Rust; bigint cannot overflow
    return free > 0n ? free : 0n;
}

function requirement(notional: bigint, ratioBps: bigint): bigint {
    return divCeil(mul(abs(notional, I128), ratioBps, I128), BPS_DENOMINATOR, I128);
}

/** Equity and requirements of an account holding `collateralBalance` and `positions`. */
export function accountHealth(collateralBalance: bigint, positions: readonly PositionValuation[]): Health {
    const health: Health = { equity: collateralBalance, initialRequirement: 0n, maintenanceRequirement: 0n };
    for (const p of positions) {
        health.equity = add(add(health.equity, p.unrealizedPnl, I128), p.unsettledFunding, I128);
        const initialNotional = add(abs(p.notional, I128), abs(p.openOrderNotional, I128), I128);
        health.initialRequirement = add(health.initialRequirement, requirement(initialNotional, p.initialRatioBps), I128);
        health.maintenanceRequirement = add(
            health.maintenanceRequirement,
            requirement(p.notional, p.maintenanceRatioBps),
            I128,
        );
    }
    return health;
}

/** `equity >= maintenance × (1 + buffer)` (`meets_buffer`). */
export function meetsBuffer(h: Health, bufferBps: bigint): boolean {
    const target = mul(h.maintenanceRequirement, add(BPS_DENOMINATOR, bufferBps, I128), I128);
    return mul(h.equity, BPS_DENOMINATOR, I128) >= target;
}

/**
 * Liquidatable (`is_liquidatable`): below maintenance, or flagged as being liquidated and not
 * yet back above the buffer.
 */
export function isLiquidatable(h: Health, beingLiquidated: boolean, bufferBps: bigint): boolean {
    return !meetsMaintenance(h) || (beingLiquidated && !meetsBuffer(h, bufferBps));
}

/** Equity over maintenance requirement (`null` with no requirement), for sorting by risk. */
export function maintenanceCoverage(h: Health): number | null {
    if (h.maintenanceRequirement === 0n) return null;
    // Display only: four decimals are enough to order accounts.
    return Number((h.equity * 10_000n) / h.maintenanceRequirement) / 10_000;
}

export const healthAfterWithdrawal = (h: Health, amount: bigint): Health => ({
    ...h,
    equity: sub(h.equity, amount, I128),
});
