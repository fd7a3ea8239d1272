// The health port against app/fixtures/health.json (format: app/fixtures/FIXTURE.md), cases the
// Rust side computes with the program's own functions.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { adlQuintile } from './adl';
import { ACCOUNT_FLAG_BEING_LIQUIDATED } from './constants';
import { adlScoreOf, health, positionRisks, type AccountInput, type MarketPrice } from './health';
import { freeCollateral, isLiquidatable, meetsInitial, meetsMaintenance } from './margin';

type Dec = string;
type Fixture = {
    format: string;
    version: number;
    cases: Array<{
        name: string;
        liquidation_buffer_bps: Dec;
        markets: Array<Record<
            | 'index'
            | 'tick_size'
            | 'quote_per_lot_tick'
            | 'initial_margin_bps'
            | 'maintenance_margin_bps'
            | 'size_premium_bps'
            | 'size_premium_unit_lots'
            | 'cumulative_funding_per_lot'
            | 'price',
            Dec
        >>;
        account: {
            collateral_balance: Dec;
            status_flags: Dec;
            positions: Array<Record<
                'market_index' | 'base_lots' | 'quote_entry' | 'open_bid_lots' | 'open_ask_lots' | 'open_order_count' | 'last_cumulative_funding',
                Dec
            >>;
        };
        expected: {
            equity: Dec;
            initial_requirement: Dec;
            maintenance_requirement: Dec;
            free_collateral: Dec;
            meets_initial: boolean;
            meets_maintenance: boolean;
            liquidatable: boolean;
            positions: Array<{
                market_index: Dec;
                unrealized_pnl: Dec;
                liquidation_price: Dec | null;
                bankruptcy_price: Dec | null;
                adl_score: Dec | null;
            }>;
        };
    }>;
    adl_indicator_cases: Array<{ name: string; scores: Dec[]; expected: Dec[] }>;
};

const path = fileURLToPath(new URL('../../fixtures/health.json', import.meta.url));
const fixture = JSON.parse(readFileSync(path, 'utf8')) as Fixture;

/** A fixture integer: decimal digits only, so a number that lost precision cannot slip in. */
function int(text: Dec): bigint {
    if (typeof text !== 'string' || !/^-?\d+$/.test(text)) throw new Error(`not a decimal string: ${JSON.stringify(text)}`);
    return BigInt(text);
}

const str = (v: bigint | null) => (v === null ? null : v.toString());

describe('health fixture', () => {
    it('is a version 1 bulwark-health-fixture with cases', () => {
        expect(fixture.format).toBe('bulwark-health-fixture');
        expect(fixture.version).toBe(1);
        expect(fixture.cases.length).toBeGreaterThan(0);
    });

    for (const c of fixture.cases) {
        it(c.name, () => {
            const prices: MarketPrice[] = c.markets.map((m) => ({
                index: Number(int(m.index)),
                spec: {
                    tickSize: int(m.tick_size),
                    quotePerLotTick: int(m.quote_per_lot_tick),
                    initialMarginBps: int(m.initial_margin_bps),
                    maintenanceMarginBps: int(m.maintenance_margin_bps),
                    sizePremiumBps: int(m.size_premium_bps),
                    sizePremiumUnitLots: int(m.size_premium_unit_lots),
                },
                cumulativeFundingPerLot: int(m.cumulative_funding_per_lot),
                price: int(m.price),
            }));
            const account: AccountInput = {
                collateralBalance: int(c.account.collateral_balance),
                positions: c.account.positions.map((p) => ({
                    marketIndex: Number(int(p.market_index)),
                    baseLots: int(p.base_lots),
                    quoteEntry: int(p.quote_entry),
                    openBidLots: int(p.open_bid_lots),
                    openAskLots: int(p.open_ask_lots),
                    openOrderCount: Number(int(p.open_order_count)),
                    lastCumulativeFunding: int(p.last_cumulative_funding),
                })),
            };
            const h = health(account, prices);
            const flagged = (Number(int(c.account.status_flags)) & ACCOUNT_FLAG_BEING_LIQUIDATED) !== 0;
            expect({
                equity: h.equity.toString(),
                initial_requirement: h.initialRequirement.toString(),
                maintenance_requirement: h.maintenanceRequirement.toString(),
                free_collateral: freeCollateral(h).toString(),
                meets_initial: meetsInitial(h),
                meets_maintenance: meetsMaintenance(h),
                liquidatable: isLiquidatable(h, flagged, int(c.liquidation_buffer_bps)),
                positions: positionRisks(account, prices).map((r) => ({
                    market_index: String(r.marketIndex),
                    unrealized_pnl: r.unrealizedPnl.toString(),
                    liquidation_price: str(r.liquidationPrice),
                    bankruptcy_price: str(r.bankruptcyPrice),
                    adl_score: str(adlScoreOf(account, r.marketIndex, prices)),
                })),
            }).toEqual(c.expected);
        });
    }

    for (const c of fixture.adl_indicator_cases) {
        it(`ADL lights: ${c.name}`, () => {
            const scores = c.scores.map(int);
            expect(scores.map((s) => String(adlQuintile(s, scores)))).toEqual(c.expected);
        });
    }
});
