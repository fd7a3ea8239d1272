import { describe, expect, it } from 'vitest';

import { adlIndicator } from './adl';
import { adlLight, adlScoreOf, buildAdlQueues, health, MissingMarketPriceError, positionRisks, type AccountInput, type MarketPrice } from './health';
import { meetsMaintenance } from './margin';

/** sdk/src/health.rs's test market: 1 lot = 1 unit, $1 ticks, IMR 10%, MMR 5%. */
const market = (index: number, price: bigint, cumulativeFundingPerLot = 0n): MarketPrice => ({
    index,
    spec: { tickSize: 1_000_000n, quotePerLotTick: 1_000_000n, initialMarginBps: 1_000n, maintenanceMarginBps: 500n, sizePremiumBps: 0n, sizePremiumUnitLots: 0n },
    cumulativeFundingPerLot,
    price,
});

const account = (balance: bigint, positions: Array<[number, bigint, bigint]>): AccountInput => ({
    collateralBalance: balance,
    positions: positions.map(([marketIndex, baseLots, quoteEntry]) => ({
        marketIndex,
        baseLots,
        quoteEntry,
        openBidLots: 0n,
        openAskLots: 0n,
        openOrderCount: 0,
        lastCumulativeFunding: 0n,
    })),
});

describe('account health (sdk/src/health.rs)', () => {
    it('matches the SDK: 100 long from $100 with $1,090, at $93.5', () => {
        const a = account(1_090_000_000n, [[0, 100n, -10_000_000_000n]]);
        const h = health(a, [market(0, 93_500_000n)]);
        expect([h.equity, h.maintenanceRequirement]).toEqual([440_000_000n, 467_500_000n]);
        const [risk] = positionRisks(a, [market(0, 93_500_000n)]);
        expect(risk.bankruptcyPrice).toBe(89_100_000n); // 100 − 10.9
        expect(risk.liquidationPrice).toBe(93_789_473n); // 89.1 / 0.95
        const at = (p: bigint) => health(a, [market(0, p)]);
        expect(meetsMaintenance(at(93_789_474n))).toBe(true);
        expect(meetsMaintenance(at(93_789_472n))).toBe(false);
        expect(at(89_100_000n).equity).toBe(0n);
    });

    it('refuses to guess a market it has no price for', () => {
        const a = account(1_090_000_000n, [[0, 100n, -10_000_000_000n]]);
        expect(() => health(a, [market(1, 1n)])).toThrow(MissingMarketPriceError);
    });

    it('charges unsettled funding: a long pays a rising index', () => {
        // 10 long at $100 exactly (no PnL), the index 30 atoms/lot above the position's.
        const a: AccountInput = { collateralBalance: 1_000n, positions: [{ ...account(0n, [[0, 10n, -1_000_000_000n]]).positions[0], lastCumulativeFunding: 20n }] };
        expect(health(a, [market(0, 100_000_000n, 50n)]).equity).toBe(1_000n - 300n);
    });

    it('scores a position after settling its funding, as the program does', () => {
        // 10 long from $100 at $110 with 100 atoms of balance and 500,000 of funding owed: the
        // balance pays 100, the other 499,900 stays on the quote, so the profit is 99,500,100
        // on an entry of 1,000,499,900 (not 100,000,000 on 1,000,000,000).
        const a: AccountInput = { collateralBalance: 100n, positions: [account(0n, [[0, 10n, -1_000_000_000n]]).positions[0]] };
        const prices = [market(0, 110_000_000n, 50_000n)];
        expect(health(a, prices).equity).toBe(99_500_100n);
        // 99,450 (PnL fraction) × 11,055,265 (leverage) / 10⁶; unsettled it would be 1,105,526.
        expect(adlScoreOf(a, 0, prices)).toBe(1_099_446n);
    });

    it('ranks ADL counterparties exactly as the SDK', () => {
        const prices = [market(0, 85_000_000n)];
        const accounts = [
            account(2_001_200_000n, [[0, -60n, 6_000_000_000n]]), // short from 100: +900, 1.76x
            account(2_000_808_000n, [[0, -40n, 4_040_000_000n]]), // short from 101: +640, 1.29x
            account(1_000_000_000n, [[0, 10n, -840_000_000n]]), // long
            account(1_000_000_000n, [[0, -10n, 800_000_000n]]), // short from 80: losing
            account(1_000_000_000n, []),
        ].map((a, i) => ({ address: `k${i + 1}`, account: a }));
        const queues = buildAdlQueues(accounts, prices, (a) => new TextEncoder().encode(a));
        const shorts = queues.counterparties(0, true);
        expect(shorts.map((c) => [c.marginAccount, c.score])).toEqual([
            ['k1', 263_683n],
            ['k2', 203_956n],
        ]);
        expect(adlIndicator(shorts[0].score, shorts)).toBe(5);
        expect(adlIndicator(shorts[1].score, shorts)).toBe(3);
        expect(adlScoreOf(accounts[3].account, 0, prices)).toBeNull();
        expect(adlLight(accounts[1].account, 0, false, prices, queues)).toBe(3);
        expect(adlLight(accounts[3].account, 0, false, prices, queues)).toBe(0);
    });
});
