import { describe, expect, it } from 'vitest';

import { adlIndicator, AdlQueues, adlQuintile, adlScore, type RankedPosition } from './adl';
import { U128 } from './safeMath';

describe('ADL ranking (math/adl.rs, sdk/src/adl.rs)', () => {
    it('scores PnL% × leverage, rounded down, zero when not in profit', () => {
        // +20% on a 1,000 entry, notional 1,200 on 400 equity: 0.2 × 3 = 0.6.
        expect(adlScore(200n, 1_000n, 1_200n, 400n)).toBe(600_000n);
        expect(adlScore(200n, 1_000n, 1_200n, 1_000n)).toBe(240_000n);
        expect(adlScore(0n, 1_000n, 1_200n, 400n)).toBe(0n);
        expect(adlScore(-5n, 1_000n, 1_200n, 400n)).toBe(0n);
        expect(adlScore(200n, 1_000n, 1_200n, 0n)).toBe(0n);
        // Saturates, never fails.
        const i128Max = (1n << 127n) - 1n;
        expect(adlScore(i128Max, 1n, i128Max, 1n)).toBe(U128.max);
        // A short's entry is positive quote: its magnitude counts. 1/3 of 100 = 333,333; ×2.
        expect(adlScore(100n, 300n, 200n, 100n)).toBe(666_666n);
    });

    it('gives quintile lights', () => {
        const scores = [900n, 800n, 700n, 600n, 500n, 400n, 300n, 200n, 100n, 50n];
        expect(adlQuintile(900n, scores)).toBe(5);
        expect(adlQuintile(700n, scores)).toBe(4);
        expect(adlQuintile(50n, scores)).toBe(1);
        expect(adlQuintile(0n, scores)).toBe(0);
        expect(adlQuintile(10n, [])).toBe(0);
    });

    it('queues each side best first, ties by address bytes', () => {
        const q = new AdlQueues();
        const entry = (marginAccount: string, baseLots: bigint, score: bigint, marketIndex = 0): RankedPosition => ({ marginAccount, marketIndex, baseLots, score });
        q.push(entry('b', 5n, 10n));
        q.push(entry('a', 7n, 10n));
        q.push(entry('c', 1n, 30n));
        q.push(entry('d', -4n, 99n));
        q.push(entry('e', 2n, 1n, 3));
        q.finish((a) => new TextEncoder().encode(a));
        expect(q.queueOf(0, true).map((e) => e.marginAccount)).toEqual(['c', 'a', 'b']);
        expect(q.counterparties(0, false).map((e) => e.marginAccount)).toEqual(['c', 'a', 'b']);
        expect(q.counterparties(0, true).map((e) => e.marginAccount)).toEqual(['d']);
        expect(q.markets()).toEqual([0, 3]);
        expect(adlIndicator(30n, q.queueOf(0, true))).toBe(5);
        // 10 has one score ahead of three: 5/3 = 1 -> 4.
        expect(adlIndicator(10n, q.queueOf(0, true))).toBe(4);
    });
});
