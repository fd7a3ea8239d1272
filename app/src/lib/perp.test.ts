import { describe, expect, it } from 'vitest';

import { accountHealth, meetsMaintenance } from './margin';
import {
    bankruptcyPrice,
    baseValue,
    fundingOwed,
    fundingPerLot,
    liquidationPrice,
    type PerpSpec,
    scaledMarginRatioBps,
    valuePosition,
} from './perp';

/** perp.rs's test market: 0.0001 BTC lots, $0.1 ticks, 6-decimal collateral: 10 atoms/lot/tick. */
const SPEC: PerpSpec = {
    tickSize: 100_000n,
    quotePerLotTick: 10n,
    initialMarginBps: 1_000n,
    maintenanceMarginBps: 500n,
    sizePremiumBps: 0n,
    sizePremiumUnitLots: 0n,
};

describe('perp math (math/perp.rs)', () => {
    it('values a position rounding down, so a short liability rounds up', () => {
        expect(baseValue(3n, 100_000_000_000n, SPEC)).toBe(30_000_000n);
        expect(baseValue(-3n, 100_000_000_000n, SPEC)).toBe(-30_000_000n);
        expect(baseValue(1n, 150_001n, SPEC)).toBe(15n);
        expect(baseValue(-1n, 150_001n, SPEC)).toBe(-16n);
    });

    it('grows the margin ratio with size, capped at 100%', () => {
        const spec = { ...SPEC, sizePremiumBps: 10n, sizePremiumUnitLots: 100n };
        expect(scaledMarginRatioBps(1_000n, 0n, spec)).toBe(1_000n);
        expect(scaledMarginRatioBps(1_000n, 250n, spec)).toBe(1_025n);
        expect(scaledMarginRatioBps(1_000n, (1n << 64n) - 1n, spec)).toBe(10_000n);
    });

    it('counts resting orders in the initial requirement only', () => {
        const at = (base: bigint, quote: bigint, bid: bigint, ask: bigint) => valuePosition(base, quote, bid, ask, 0n, 100_000_000_000n, SPEC);
        const flatBid = at(0n, 0n, 5n, 0n);
        expect([flatBid.notional, flatBid.openOrderNotional]).toEqual([0n, 50_000_000n]);
        expect(at(5n, -50_000_000n, 0n, 3n).openOrderNotional).toBe(0n);
        expect(at(5n, -50_000_000n, 0n, 8n).openOrderNotional).toBe(0n);
        // Long 5 with 12 asked could end 7 short: 2 lots more than now.
        expect(at(5n, -50_000_000n, 0n, 12n).openOrderNotional).toBe(20_000_000n);
    });

    it('clamps and signs funding', () => {
        expect(fundingPerLot(101_000_000_000n, 100_000_000_000n, 10_000n, SPEC)).toBe(100_000n);
        expect(fundingPerLot(101_000_000_000n, 100_000_000_000n, 50n, SPEC)).toBe(50_000n);
        expect(fundingPerLot(99_000_000_000n, 100_000_000_000n, 50n, SPEC)).toBe(-50_000n);
        expect(fundingPerLot(0n, 100_000_000_000n, 50n, SPEC)).toBe(0n);
        expect(fundingOwed(4n, 150n, 100n)).toBe(-200n);
        expect(fundingOwed(-4n, 150n, 100n)).toBe(200n);
    });

    it('solves the liquidation and bankruptcy prices', () => {
        // 10 lots long bought at 100,000.0 with 20,000,000 atoms (5x).
        const liq = liquidationPrice(10n, -100_000_000n, 20_000_000n, 0n, SPEC);
        expect(liq).toBe(84_210_526_315n); // 80,000 / 0.95
        expect(bankruptcyPrice(10n, -100_000_000n, 20_000_000n, SPEC)).toBe(80_000_000_000n);
        const at = (price: bigint) => accountHealth(20_000_000n, [valuePosition(10n, -100_000_000n, 0n, 0n, 0n, price, SPEC)]);
        expect(meetsMaintenance(at(liq! + 10_000n))).toBe(true);
        expect(meetsMaintenance(at(liq! - 10_000n))).toBe(false);
        expect(at(80_000_000_000n).equity).toBe(0n);
        // A short is liquidated above its entry.
        expect(liquidationPrice(-10n, 100_000_000n, 20_000_000n, 0n, SPEC)).toBe(114_285_714_285n);
        expect(bankruptcyPrice(-10n, 100_000_000n, 20_000_000n, SPEC)).toBe(120_000_000_000n);
        // An unlevered long never is.
        expect(liquidationPrice(10n, -100_000_000n, 100_000_000n, 0n, SPEC)).toBeNull();
        expect(liquidationPrice(0n, 0n, 1n, 0n, SPEC)).toBeNull();
    });
});
