import { describe, expect, it } from 'vitest';

import { depth, levels, makersCrossing, type BookInput, type BookOrder } from './book';
import { SIDE_ASK, SIDE_BID } from './constants';
import { bandLimitTicks, markSample } from './mark';

type Spec = [maker: string, price: bigint, lots: bigint, expiry: bigint];

function book(bids: Spec[], asks: Spec[]): BookInput {
    const order = ([maker, priceTicks, baseLots, expiryUnix]: Spec, i: number): BookOrder => ({
        maker,
        orderId: BigInt(i),
        priceTicks,
        baseLots,
        expiryUnix,
        flags: 0,
    });
    // Slots past the counts hold whatever the program left there: they must be ignored.
    const junk: BookOrder = { maker: 'junk', orderId: 99n, priceTicks: 1n, baseLots: 1000n, expiryUnix: 0n, flags: 0 };
    return { bidCount: bids.length, askCount: asks.length, bids: [...bids.map(order), junk], asks: [...asks.map(order), junk] };
}

describe('book view (sdk/src/book.rs)', () => {
    it('aggregates levels best first, with cumulative depth, leaving out expired orders', () => {
        const b = book([['1', 99n, 5n, 0n], ['2', 99n, 3n, 0n], ['3', 98n, 1n, 50n]], [['4', 101n, 2n, 0n]]);
        expect(levels(b, SIDE_BID, 10n)).toEqual([
            { priceTicks: 99n, baseLots: 8n, orders: 2, cumulativeLots: 8n },
            { priceTicks: 98n, baseLots: 1n, orders: 1, cumulativeLots: 9n },
        ]);
        expect(levels(b, SIDE_BID, 50n)).toHaveLength(1);
        const d = depth(b, 50n);
        expect([d.bestBidTicks, d.bestAskTicks, d.spreadTicks, d.expiredOrders]).toEqual([99n, 101n, 2n, 1]);
        expect(depth(book([], []), 0n).spreadTicks).toBeNull();
    });

    it("lists makers in the order the program takes them, the taker's own orders touching", () => {
        // Asks: maker 1, the taker (9) twice, maker 1 again (its run goes on), then 2s, 3, 4, 5.
        const asks: Spec[] = [
            ['1', 100n, 1n, 0n], ['9', 100n, 1n, 0n], ['9', 101n, 1n, 0n], ['1', 101n, 1n, 0n],
            ['2', 102n, 1n, 0n], ['2', 102n, 1n, 0n], ['3', 103n, 1n, 0n], ['4', 104n, 1n, 0n], ['5', 105n, 1n, 0n],
        ];
        const b = book([], asks);
        expect(makersCrossing(b, SIDE_BID, '9', 1n << 63n)).toEqual(['1', '2', '3', '4']);
        // Limited to 102: orders at 100, 101 and 102 only.
        expect(makersCrossing(b, SIDE_BID, '7', 102n)).toEqual(['1', '9', '1', '2']);
        // Alternating makers are passed again, up to eight orders.
        const alternating = book([], Array.from({ length: 10 }, (_, i): Spec => [String(1 + (i % 2)), 100n + BigInt(i), 1n, 0n]));
        expect(makersCrossing(alternating, SIDE_BID, '9', 200n)).toEqual(['1', '2', '1', '2', '1', '2', '1', '2']);
        expect(makersCrossing(book([['1', 99n, 1n, 0n]], []), SIDE_ASK, '9', 100n)).toEqual([]);
    });

    it('marks at the mid of the clamped best prices, or the oracle when one-sided', () => {
        // $100 oracle, $1 ticks, 4% fill band: prices clamp to [96, 104] ticks.
        expect(bandLimitTicks(100_000_000n, 1_000_000n, 400n, true)).toBe(96n);
        expect(bandLimitTicks(100_000_000n, 1_000_000n, 400n, false)).toBe(104n);
        // $93.5 ± 20% rounds inward: [74.8, 112.2] -> 75, 112 ticks.
        expect(bandLimitTicks(93_500_000n, 1_000_000n, 2_000n, true)).toBe(75n);
        expect(bandLimitTicks(93_500_000n, 1_000_000n, 2_000n, false)).toBe(112n);
        expect(markSample(book([['1', 99n, 1n, 0n]], [['2', 102n, 1n, 0n]]), 1_000_000n, 100_000_000n, 400n)).toBe(100_000_000n); // (99+102)/2 = 100
        expect(markSample(book([['1', 90n, 1n, 0n]], [['2', 120n, 1n, 0n]]), 1_000_000n, 100_000_000n, 400n)).toBe(100_000_000n); // (96+104)/2
        expect(markSample(book([['1', 99n, 1n, 0n]], [['2', 100n, 1n, 0n]]), 1_000_000n, 100_000_000n, 400n)).toBe(99_000_000n); // 199/2 = 99
        expect(markSample(book([['1', 99n, 1n, 0n]], []), 1_000_000n, 100_500_000n, 400n)).toBe(100_500_000n);
    });
});
