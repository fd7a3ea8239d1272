//! A read-only view of a market's order book: price levels, and the maker accounts an order
//! or a prune crank must pass.

use anchor_lang::prelude::Pubkey;
use bulwark::state::{Market, Order, OrderBook, SIDE_ASK, SIDE_BID};

/// Orders one taker instruction touches at most (filled, cancelled as expired or out of the
/// fill band, or its own removed by self-trade prevention); the makers passed cover these.
pub const MAX_MAKER_TOUCHES_PER_ORDER: usize = bulwark::constants::MAX_MAKER_TOUCHES_PER_ORDER;

/// Most maker entries a keeper passes to a crank that takes makers (`prune_expired_orders`).
pub const MAX_MAKER_ACCOUNTS: usize = 8;

/// One price level: total size and how many orders rest there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Level {
    pub price_ticks: u64,
    pub base_lots: u64,
    pub orders: usize,
}

impl Level {
    /// The level's price in `PRICE_PRECISION` units per base unit.
    pub fn price(&self, market: &Market) -> u128 {
        self.price_ticks as u128 * market.params.tick_size as u128
    }
}

/// Levels best first. Expired orders are left out: they can no longer fill.
pub fn levels(book: &OrderBook, side: u8, now_unix: i64) -> Vec<Level> {
    let mut out: Vec<Level> = Vec::new();
    for order in book.orders(side).iter().filter(|o| !o.is_expired(now_unix)) {
        match out.last_mut() {
            Some(level) if level.price_ticks == order.price_ticks => {
                level.base_lots += order.base_lots;
                level.orders += 1;
            }
            _ => out.push(Level { price_ticks: order.price_ticks, base_lots: order.base_lots, orders: 1 }),
        }
    }
    out
}

/// Best bid and ask, if any.
pub fn best_prices(book: &OrderBook, now_unix: i64) -> (Option<u64>, Option<u64>) {
    let best = |side| levels(book, side, now_unix).first().map(|l| l.price_ticks);
    (best(SIDE_BID), best(SIDE_ASK))
}

/// The orders a taker on `side` may touch, as the program's matching loop meets them: the
/// opposite side best first, at most `MAX_MAKER_TOUCHES_PER_ORDER` orders, stopping at the
/// first that does not cross `limit_ticks`. Returns the makers in the order the program's
/// cursor takes them (`next_maker`: the same maker is reused only while its orders follow one
/// another, so a maker met again after another one is passed again), and whether one of the
/// touched orders can fill (live, and no better than `fill_floor_ticks`, the best price a fill
/// may take). `own_orders_touch`: the taker's own orders are in the way (self-trade prevention
/// removes them, one touch each, and the cursor stays); a liquidation cancels them before it
/// matches, so there they are not.
fn walk(
    book: &OrderBook,
    side: u8,
    taker: &Pubkey,
    own_orders_touch: bool,
    now_unix: i64,
    fill_floor_ticks: u64,
    limit_ticks: u64,
) -> (Vec<Pubkey>, bool) {
    let opposite = if side == SIDE_BID { SIDE_ASK } else { SIDE_BID };
    let buying = side == SIDE_BID;
    let crosses = |price: u64| if buying { price <= limit_ticks } else { price >= limit_ticks };
    let past_floor = |price: u64| if buying { price < fill_floor_ticks } else { price > fill_floor_ticks };
    let mut makers: Vec<Pubkey> = Vec::new();
    let mut fillable = false;
    let mut touches = 0;
    for o in book.orders(opposite) {
        if touches == MAX_MAKER_TOUCHES_PER_ORDER || !crosses(o.price_ticks) {
            break; // sorted best first: the rest is further out
        }
        if o.maker == *taker {
            touches += usize::from(own_orders_touch);
            continue;
        }
        touches += 1;
        if makers.last() != Some(&o.maker) {
            makers.push(o.maker);
        }
        fillable |= !o.is_expired(now_unix) && !past_floor(o.price_ticks);
    }
    (makers, fillable)
}

/// The makers an order on `side` limited to `limit_ticks` may meet, in the order
/// `place_order` takes them (see `walk`). The taker's own orders need no account:
/// self-trade prevention cancels them.
pub fn makers_crossing(book: &OrderBook, side: u8, taker: &Pubkey, limit_ticks: u64) -> Vec<Pubkey> {
    walk(book, side, taker, true, i64::MIN, if side == SIDE_BID { 0 } else { u64::MAX }, limit_ticks).0
}

/// The makers a taker on `side` may meet at any price, in the order `place_order` takes them.
pub fn makers_for(book: &OrderBook, side: u8, taker: &Pubkey) -> Vec<Pubkey> {
    makers_crossing(book, side, taker, if side == SIDE_BID { u64::MAX } else { 0 })
}

/// The band of prices an order may rest at: oracle ± 5 × the fill band (`max_fill_deviation_bps`),
/// at most ±50 %, in ticks, `(lowest, highest)` allowed (the program's own function). Orders
/// outside it around the market's oracle TWAP may be pruned by anyone through
/// `prune_expired_orders`. `None` when the price or tick makes no band.
pub fn resting_band_ticks(oracle_price: i64, tick_size: u64, max_fill_deviation_bps: u32) -> Option<(u64, u64)> {
    bulwark::math::liquidation::resting_band_ticks(oracle_price, tick_size, max_fill_deviation_bps).ok()
}

/// The makers of the orders `prune_expired_orders` removes: expired orders and, when the
/// resting `band` (from `resting_band_ticks`) is known, orders outside it. One entry per run as
/// the program's cursor takes them, bids then asks in book order, covering at most `max`
/// orders (the program's per-call bound): the prune stops where the list ends.
pub fn prunable_makers(book: &OrderBook, now_unix: i64, band: Option<(u64, u64)>, max: usize) -> Vec<Pubkey> {
    let prunable = |o: &Order| {
        o.is_expired(now_unix) || band.is_some_and(|(low, high)| o.price_ticks < low || o.price_ticks > high)
    };
    let mut makers: Vec<Pubkey> = Vec::new();
    // The program's maker cursor carries across sides, so a run may continue from bids to asks.
    let mut previous: Option<Pubkey> = None;
    let mut orders = 0;
    for side in [SIDE_BID, SIDE_ASK] {
        for o in book.orders(side).iter().filter(|o| prunable(o)) {
            if orders == max {
                return makers;
            }
            orders += 1;
            if previous != Some(o.maker) {
                makers.push(o.maker);
            }
            previous = Some(o.maker);
        }
    }
    makers
}

/// The makers of expired orders as `prune_expired_orders` takes them (`prunable_makers`
/// without a band), covering at most `max` orders.
pub fn expired_makers(book: &OrderBook, now_unix: i64, max: usize) -> Vec<Pubkey> {
    prunable_makers(book, now_unix, None, max)
}

/// The makers a liquidation closing on `side` (the taker side) passes, when it can fill.
/// The program cancels the account's own orders, then walks the book from the best order up
/// to `MAX_MAKER_TOUCHES_PER_ORDER` orders: orders better than the oracle by more than the
/// fill band (`fill_floor_ticks`, the best price a fill may take) or expired are cancelled on
/// the way and need their makers too; fills happen between that and `limit_ticks` (from
/// `math::liquidation::band_limit_ticks`). Every maker run of those orders is passed, so a
/// book of small interleaved orders is worked through in one call. Empty when none of those
/// orders can fill.
pub fn makers_within(
    book: &OrderBook,
    side: u8,
    taker: &Pubkey,
    now_unix: i64,
    fill_floor_ticks: u64,
    limit_ticks: u64,
) -> Vec<Pubkey> {
    match walk(book, side, taker, false, now_unix, fill_floor_ticks, limit_ticks) {
        (makers, true) => makers,
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(bids: &[(u8, u64, u64, i64)], asks: &[(u8, u64, u64, i64)]) -> OrderBook {
        let mut b: OrderBook = bytemuck::Zeroable::zeroed();
        let order = |(maker, price_ticks, base_lots, expiry_unix): (u8, u64, u64, i64)| Order {
            maker: Pubkey::new_from_array([maker; 32]),
            price_ticks,
            base_lots,
            expiry_unix,
            ..Default::default()
        };
        for (i, o) in bids.iter().enumerate() {
            b.bids[i] = order(*o);
        }
        for (i, o) in asks.iter().enumerate() {
            b.asks[i] = order(*o);
        }
        b.bid_count = bids.len() as u16;
        b.ask_count = asks.len() as u16;
        b
    }

    #[test]
    fn levels_aggregate_and_skip_expired() {
        let b = book(&[(1, 99, 5, 0), (2, 99, 3, 0), (3, 98, 1, 50)], &[(4, 101, 2, 0)]);
        assert_eq!(
            levels(&b, SIDE_BID, 10),
            vec![
                Level { price_ticks: 99, base_lots: 8, orders: 2 },
                Level { price_ticks: 98, base_lots: 1, orders: 1 }
            ]
        );
        assert_eq!(levels(&b, SIDE_BID, 50).len(), 1);
        assert_eq!(best_prices(&b, 10), (Some(99), Some(101)));
        assert_eq!(expired_makers(&b, 50, 8), vec![Pubkey::new_from_array([3; 32])]);
        assert!(expired_makers(&b, 49, 8).is_empty());
        // A selling close limited to 99 ticks reaches the orders at 99, not the one at 98.
        let key = |n| Pubkey::new_from_array([n; 32]);
        assert_eq!(makers_within(&b, SIDE_ASK, &key(9), 10, u64::MAX, 99), vec![key(1), key(2)]);
        assert!(makers_within(&b, SIDE_ASK, &key(9), 10, u64::MAX, 100).is_empty());
        // Bids above the fill floor (too good) are passed for cancelling, not filled.
        assert!(makers_within(&b, SIDE_ASK, &key(9), 10, 97, 98).is_empty(), "every bid is too good to fill");
        assert_eq!(makers_within(&b, SIDE_ASK, &key(9), 10, 98, 98), vec![key(1), key(2), key(3)]);
        assert!(makers_within(&b, SIDE_ASK, &key(9), 50, 98, 98).is_empty(), "the only fillable order expired");
        assert_eq!(makers_within(&b, SIDE_BID, &key(9), 10, 0, 101), vec![key(4)]);
    }

    #[test]
    fn expired_makers_are_runs_in_book_order() {
        let b = book(&[(1, 99, 1, 5), (2, 99, 1, 5), (1, 98, 1, 5), (1, 97, 1, 5)], &[(1, 101, 1, 5)]);
        let key = |n| Pubkey::new_from_array([n; 32]);
        assert_eq!(expired_makers(&b, 5, 8), vec![key(1), key(2), key(1)]);
        assert_eq!(expired_makers(&b, 5, 2), vec![key(1), key(2)]);
    }

    #[test]
    fn makers_are_runs_in_book_order_without_the_taker() {
        let b = book(&[], &[(1, 100, 1, 0), (1, 100, 1, 0), (2, 101, 1, 0), (9, 101, 1, 0), (1, 102, 1, 0)]);
        let taker = Pubkey::new_from_array([9; 32]);
        let key = |n| Pubkey::new_from_array([n; 32]);
        assert_eq!(makers_for(&b, SIDE_BID, &taker), vec![key(1), key(2), key(1)]);
    }

    #[test]
    fn interleaved_makers_are_passed_again_for_up_to_eight_orders() {
        let key = |n| Pubkey::new_from_array([n; 32]);
        // Ten 1-lot asks alternating between makers 1 and 2: the program's cursor moves on at
        // each change of maker, so each order needs its own entry; eight orders are touched.
        let asks: Vec<(u8, u64, u64, i64)> = (0..10).map(|i| (1 + (i % 2) as u8, 100 + i as u64, 1, 0)).collect();
        let b = book(&[], &asks);
        let alternating: Vec<Pubkey> = (0..8).map(|i| key(1 + (i % 2) as u8)).collect();
        assert_eq!(makers_for(&b, SIDE_BID, &key(9)), alternating);
        assert_eq!(makers_within(&b, SIDE_BID, &key(9), 10, 0, 120), alternating);
        // Limited to 102 ticks: the orders at 100, 101 and 102.
        assert_eq!(makers_crossing(&b, SIDE_BID, &key(9), 102), vec![key(1), key(2), key(1)]);
        assert_eq!(makers_within(&b, SIDE_BID, &key(9), 10, 0, 102), vec![key(1), key(2), key(1)]);
    }

    #[test]
    fn the_takers_own_orders_are_touches_for_an_order_not_for_a_liquidation() {
        let key = |n| Pubkey::new_from_array([n; 32]);
        // Asks: maker 1, the taker (9) twice, maker 1 again (the cursor stays on 1), then 2s.
        let asks = [(1, 100, 1, 0), (9, 100, 1, 0), (9, 101, 1, 0), (1, 101, 1, 0), (2, 102, 1, 0), (2, 102, 1, 0)];
        let mut all = asks.to_vec();
        all.extend([(3, 103, 1, 0), (4, 104, 1, 0), (5, 105, 1, 0)]);
        let b = book(&[], &all);
        // An order touches 8: 1, 9, 9, 1, 2, 2, 3, 4 (self-trade removals count).
        assert_eq!(makers_for(&b, SIDE_BID, &key(9)), vec![key(1), key(2), key(3), key(4)]);
        // A liquidation has cancelled its own orders first: 1, 1, 2, 2, 3, 4, 5.
        assert_eq!(makers_within(&b, SIDE_BID, &key(9), 10, 0, 200), vec![key(1), key(2), key(3), key(4), key(5)]);
    }

    #[test]
    fn the_resting_band_is_five_fill_bands_at_most_half_the_oracle() {
        // $100 oracle, $1 ticks: a 4% fill band rests within ±20%, a 15% one within ±50%.
        assert_eq!(resting_band_ticks(100_000_000, 1_000_000, 400), Some((80, 120)));
        assert_eq!(resting_band_ticks(100_000_000, 1_000_000, 1_500), Some((50, 150)));
        // Rounded to the ticks inside the band: $93.5 ± 20% is [74.8, 112.2].
        assert_eq!(resting_band_ticks(93_500_000, 1_000_000, 400), Some((75, 112)));
        let key = |n| Pubkey::new_from_array([n; 32]);
        // Bids: 1 in band, 2 below it, 3 expired; asks: 2 above the band, 1 in band.
        let b = book(&[(1, 99, 1, 0), (2, 79, 1, 0), (3, 78, 1, 5)], &[(1, 101, 1, 0), (2, 121, 1, 0)]);
        let band = resting_band_ticks(100_000_000, 1_000_000, 400);
        assert_eq!(prunable_makers(&b, 5, band, 8), vec![key(2), key(3), key(2)]);
        assert_eq!(prunable_makers(&b, 5, band, 2), vec![key(2), key(3)]);
        assert_eq!(prunable_makers(&b, 5, None, 8), vec![key(3)]);
        assert_eq!(prunable_makers(&b, 4, None, 8), Vec::<Pubkey>::new());
    }
}
