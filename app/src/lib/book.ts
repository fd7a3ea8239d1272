// A read-only view of a market's order book (sdk/src/book.rs): price levels best first with
// their cumulative depth, and the makers an order must pass to the program in book order.

import { MAX_MAKER_TOUCHES_PER_ORDER, MAX_ORDERS_PER_SIDE, SIDE_ASK, SIDE_BID } from './constants';

/** The fields of one resting order the view needs (a decoded `Order`). */
export type BookOrder = {
    maker: string;
    orderId: bigint;
    priceTicks: bigint;
    baseLots: bigint;
    expiryUnix: bigint;
    flags: number;
};

/** The fields of a decoded `OrderBook` the view needs. */
export type BookInput = {
    bidCount: number;
    askCount: number;
    bids: readonly BookOrder[];
    asks: readonly BookOrder[];
};

export type Level = {
    priceTicks: bigint;
    baseLots: bigint;
    orders: number;
    /** Lots from the best level through this one. */
    cumulativeLots: bigint;
};

export type Side = typeof SIDE_BID | typeof SIDE_ASK;

const isExpired = (o: BookOrder, nowUnix: bigint): boolean => o.expiryUnix !== 0n && nowUnix >= o.expiryUnix;

/** The live orders of a side, best first (index 0 is the best; the count bounds the array). */
export function orders(book: BookInput, side: Side): readonly BookOrder[] {
    const count = Math.min(side === SIDE_BID ? book.bidCount : book.askCount, MAX_ORDERS_PER_SIDE);
    return (side === SIDE_BID ? book.bids : book.asks).slice(0, count);
}

/** Levels best first, expired orders left out (they can no longer fill) (`levels`). */
export function levels(book: BookInput, side: Side, nowUnix: bigint): Level[] {
    const out: Level[] = [];
    for (const order of orders(book, side)) {
        if (isExpired(order, nowUnix)) continue;
        const last = out[out.length - 1];
        if (last && last.priceTicks === order.priceTicks) {
            last.baseLots += order.baseLots;
            last.orders += 1;
        } else {
            out.push({ priceTicks: order.priceTicks, baseLots: order.baseLots, orders: 1, cumulativeLots: 0n });
        }
    }
    let total = 0n;
    for (const level of out) {
        total += level.baseLots;
        level.cumulativeLots = total;
    }
    return out;
}

export type Depth = {
    bids: Level[];
    asks: Level[];
    bestBidTicks: bigint | null;
    bestAskTicks: bigint | null;
    /** Best ask − best bid, in ticks (`null` with a side empty). */
    spreadTicks: bigint | null;
    expiredOrders: number;
};

/** Both sides of the book as depth, at unix time `nowUnix`. */
export function depth(book: BookInput, nowUnix: bigint): Depth {
    const bids = levels(book, SIDE_BID, nowUnix);
    const asks = levels(book, SIDE_ASK, nowUnix);
    const bestBidTicks = bids[0]?.priceTicks ?? null;
    const bestAskTicks = asks[0]?.priceTicks ?? null;
    const expiredOrders = [...orders(book, SIDE_BID), ...orders(book, SIDE_ASK)].filter((o) =>
        isExpired(o, nowUnix),
    ).length;
    return {
        bids,
        asks,
        bestBidTicks,
        bestAskTicks,
        spreadTicks: bestBidTicks !== null && bestAskTicks !== null ? bestAskTicks - bestBidTicks : null,
        expiredOrders,
    };
}

/**
 * The makers an order on `side` limited to `limitTicks` may meet, in the order `place_order`
 * takes them (`makers_crossing`): the opposite side best first, at most
 * `MAX_MAKER_TOUCHES_PER_ORDER` orders (the taker's own orders count: self-trade prevention
 * removes them), stopping at the first order that does not cross. A maker is passed again
 * when another maker came in between.
 */
export function makersCrossing(book: BookInput, side: Side, taker: string, limitTicks: bigint): string[] {
    const buying = side === SIDE_BID;
    const crosses = (price: bigint) => (buying ? price <= limitTicks : price >= limitTicks);
    const makers: string[] = [];
    let touches = 0;
    for (const o of orders(book, buying ? SIDE_ASK : SIDE_BID)) {
        if (touches === MAX_MAKER_TOUCHES_PER_ORDER || !crosses(o.priceTicks)) break;
        touches += 1;
        if (o.maker === taker) continue;
        if (makers[makers.length - 1] !== o.maker) makers.push(o.maker);
    }
    return makers;
}
