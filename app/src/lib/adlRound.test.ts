import { describe, expect, it } from 'vitest';

import { summarizeAdlRound } from './adlRound';

const fields = {
    clearinghouse: 'C',
    market: 'M',
    target: 'T',
    opener: 'O',
    openedSlot: 10n,
    targetLiquidatableSinceSlot: 5n,
    windowEndSlot: 14n,
    price: 85_000_000n,
    targetLots: 100n,
    remainingLots: 60n,
    uncovered: 300_000_000n,
    uncoveredLeft: 180_000_000n,
    haircutTotal: 120_000_000n,
    deficit: 400_000_000n,
    insurancePays: 100_000_000n,
    fillCount: 1,
    restartCount: 0,
    nomineeCount: 2,
    nominees: [
        { marginAccount: 'A', score: { lo: 5n, hi: 1n }, deferred: 0, padding: new Uint8Array(7) },
        { marginAccount: 'B', score: { lo: 7n, hi: 0n }, deferred: 1, padding: new Uint8Array(7) },
        { marginAccount: '11111111111111111111111111111111', score: { lo: 0n, hi: 0n }, deferred: 0, padding: new Uint8Array(7) },
    ],
};

describe('ADL round summary', () => {
    it('reads the round, its nominees up to the count, and 128-bit scores', () => {
        const s = summarizeAdlRound(fields)!;
        expect([s.market, s.target, s.windowEndSlot, s.remainingLots, s.uncoveredLeft]).toEqual(['M', 'T', 14n, 60n, 180_000_000n]);
        expect(s.nominees).toEqual([
            { marginAccount: 'A', score: (1n << 64n) + 5n, deferred: false },
            { marginAccount: 'B', score: 7n, deferred: true },
        ]);
    });

    it('declines a layout it does not know', () => {
        expect(summarizeAdlRound({ clearinghouse: 'C', something: 1n })).toBeNull();
    });
});
