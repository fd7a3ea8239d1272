import { describe, expect, it } from 'vitest';

import { accountHealth, freeCollateral, healthAfterWithdrawal, isLiquidatable, meetsBuffer, meetsInitial, type PositionValuation } from './margin';

const position = (notional: bigint, pnl: bigint): PositionValuation => ({
    notional,
    unrealizedPnl: pnl,
    unsettledFunding: 0n,
    openOrderNotional: 0n,
    initialRatioBps: 1_000n,
    maintenanceRatioBps: 500n,
});

describe('margin (math/margin.rs, math/liquidation.rs)', () => {
    it('an empty account is its balance', () => {
        const h = accountHealth(1_000n, []);
        expect(h).toEqual({ equity: 1_000n, initialRequirement: 0n, maintenanceRequirement: 0n });
        expect(freeCollateral(h)).toBe(1_000n);
        expect(meetsInitial(healthAfterWithdrawal(h, 1_000n))).toBe(true);
        expect(meetsInitial(healthAfterWithdrawal(h, 1_001n))).toBe(false);
    });

    it('rounds every requirement up and sums them', () => {
        // 10% of 10,001 = 1,000.1 -> 1,001; 5% -> 500.05 -> 501; a short counts by |notional|.
        const short = { ...position(-10_001n, -50n), unsettledFunding: -3n, openOrderNotional: 999n };
        const h = accountHealth(2_100n, [position(10_001n, 120n), short]);
        expect(h.equity).toBe(2_100n + 120n - 50n - 3n);
        expect(h.initialRequirement).toBe(1_001n + 1_100n);
        expect(h.maintenanceRequirement).toBe(501n + 501n);
        expect(freeCollateral(h)).toBe(66n);
        expect(freeCollateral({ ...h, equity: -1n })).toBe(0n);
    });

    it('keeps a flagged account liquidatable until it is back above the buffer', () => {
        const h = { equity: 105n, initialRequirement: 0n, maintenanceRequirement: 100n };
        expect(meetsBuffer(h, 500n)).toBe(true);
        expect(meetsBuffer(h, 501n)).toBe(false);
        expect(isLiquidatable(h, true, 500n)).toBe(false);
        expect(isLiquidatable(h, true, 600n)).toBe(true);
        expect(isLiquidatable(h, false, 600n)).toBe(false);
        expect(isLiquidatable({ ...h, equity: 99n }, false, 0n)).toBe(true);
    });
});
