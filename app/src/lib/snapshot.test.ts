// The whole read path on bytes made by the generated encoders: a fake node answers
// getProgramAccounts (with memcmp filters), getMultipleAccounts and getAccountInfo as a node
// would, and the derived view is checked against hand-computed values.

import type { Address } from '@solana/kit';
import { describe, expect, it } from 'vitest';

import { IDL_ACCOUNTS } from '../generated/bulwarkIdl';
import { buildView, fetchRaw, type RawSnapshot } from './snapshot';
import { CH, deployment, fakeRpc, FEED0, MARKET0, MARKET1, NOW, PROGRAM, SLOT, STAKE } from '../test/fakeChain';

let A1: Address, A2: Address, A3: Address;

async function read(): Promise<RawSnapshot> {
    const { store, accounts } = await deployment();
    ({ A1, A2, A3 } = accounts);
    return fetchRaw(fakeRpc(store) as never, PROGRAM, null);
}

describe('snapshot', () => {
    it('finds the clearinghouse and its accounts through memcmp filters', async () => {
        const raw = await read();
        expect(raw.selected).toBe(CH);
        expect([raw.slot, raw.unixTimestamp]).toEqual([SLOT, NOW]);
        expect(raw.markets.map((m) => m.address).sort()).toEqual([MARKET0, MARKET1].sort());
        expect(raw.marginAccounts).toHaveLength(4);
        expect(raw.stakes.map((s) => s.address)).toEqual([STAKE]);
        // Rounds are read only when the IDL has the account type, and none exist here.
        expect(raw.adlRounds).toEqual(IDL_ACCOUNTS.some((a) => a.name === 'AdlRound') ? [] : null);
        expect(raw.others.get(FEED0)?.owner).toBe(PROGRAM);
    });

    it('derives markets: oracle in collateral, validity, mark, funding', async () => {
        const view = buildView(await read());
        const [m0, m1] = view.markets;
        expect(m0.oracle).toMatchObject({ validity: 'valid', usdPrice: 93_500_000n, price: 93_500_000n, usable: true });
        // Best bid 93, best ask 95, both inside [90, 97]: mid 94.
        expect(m0.mark).toBe(94_000_000n);
        // Mark TWAP 1% over the oracle TWAP, clamped to 0.5%: 500,000 atoms a lot.
        expect(m0.fundingPerLot).toBe(500_000n);
        expect(m0.fundingRateBps).toEqual({ numerator: 500_000n, denominator: 100_000_000n });
        expect(m0.depth?.asks).toEqual([{ priceTicks: 95n, baseLots: 5n, orders: 2, cumulativeLots: 5n }]);
        expect(m1.oracle).toMatchObject({ validity: 'not decoded here', usable: false, price: null });
        expect(m1.lastOracleSample).toBe(42_000_000n);
        expect(view.prices.map((p) => p.index)).toEqual([0]);
    });

    it('derives accounts at risk, ADL lights and the grace clock', async () => {
        const view = buildView(await read());
        const byAddress = (a: Address) => view.accounts.find((x) => x.address === a)!;
        const a1 = byAddress(A1);
        expect(a1.health).toEqual({ equity: 440_000_000n, initialRequirement: 935_000_000n, maintenanceRequirement: 467_500_000n });
        expect(a1.liquidatable).toBe(true);
        expect(a1.positions[0].risk?.liquidationPrice).toBe(93_789_473n);
        expect(a1.adlEligibleSlot).toBe(SLOT - 50n + 100n);
        const a2 = byAddress(A2);
        // Short 50 from $100 at $93.5: +325; 4,675 notional on 1,325 equity.
        expect(a2.health?.equity).toBe(1_325_000_000n);
        expect(a2.positions[0].adlScore).toBe(229_339n);
        expect(a2.positions[0].adlLight).toBe(5);
        expect(a2.liquidatable).toBe(false);
        const a3 = byAddress(A3);
        expect([a3.health, a3.unpricedMarkets]).toEqual([null, [1]]);
        expect(view.undecodable).toBe(1);
    });

    it('derives the insurance vault and the collateral oracle', async () => {
        const view = buildView(await read());
        expect(view.insurance).toMatchObject({ balance: 1_500_000_000n, vaultTokens: 1_500_000_000n, valuePerMillionShares: 750_000n });
        expect(view.insurance?.stakes[0].view).toMatchObject({ value: 750_000_000n, request: 'cooling down', claimAmount: 375_000_000n });
        expect(view.collateral).toMatchObject({ fixed: true, priceInForce: 1_000_000n, priceSource: 'fixed price', redemptionMode: 'not used' });
    });

    it('shows an empty program as such', async () => {
        const raw = await fetchRaw(fakeRpc(new Map()) as never, PROGRAM, null);
        const view = buildView(raw);
        expect([view.clearinghouses.length, view.clearinghouse, view.markets.length]).toEqual([0, null, 0]);
    });
});
