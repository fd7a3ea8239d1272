//! A read-only view of a market's order book: price levels, and the maker accounts an order
//! or a prune crank must pass.

use anchor_lang::prelude::Pubkey;
use bulwark::state::{Market, OrderBook, SIDE_ASK, SIDE_BID};

/// Orders a taker's instruction can walk through; the program takes at most this many distinct
/// maker runs in remaining accounts.
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

/// The makers a taker on `side` would hit, in book order, one entry per run of consecutive
/// orders by the same maker (at most `MAX_MAKER_ACCOUNTS`). The taker's own orders need no
/// account: self-trade prevention cancels them.
pub fn makers_for(book: &OrderBook, side: u8, taker: &Pubkey) -> Vec<Pubkey> {
    let opposite = if side == SIDE_BID { SIDE_ASK } else { SIDE_BID };
    let mut makers: Vec<Pubkey> = Vec::new();
    for o in book.orders(opposite) {
        if o.maker != *taker && makers.last() != Some(&o.maker) {
            makers.push(o.maker);
        }
        if makers.len() == MAX_MAKER_ACCOUNTS {
            break;
        }
    }
    makers
}

/// The makers of expired orders as `prune_expired_orders` takes them: one entry per run of
/// consecutive expired orders by the same maker, bids then asks, in book order.
/// At most `max` entries: the prune then stops where the list ends.
pub fn expired_makers(book: &OrderBook, now_unix: i64, max: usize) -> Vec<Pubkey> {
    let mut makers: Vec<Pubkey> = Vec::new();
    // The program's maker cursor carries across sides, so a run may continue from bids to asks.
    let mut previous: Option<Pubkey> = None;
    for side in [SIDE_BID, SIDE_ASK] {
        for o in book.orders(side).iter().filter(|o| o.is_expired(now_unix)) {
            if previous != Some(o.maker) && makers.len() < max {
                makers.push(o.maker);
            }
            previous = Some(o.maker);
        }
    }
    makers
}

/// The makers a liquidation closing on `side` (the taker side) passes, and whether it can fill.
/// The program walks the book from the best order: orders better than the oracle by more than
/// the fill band (`fill_floor_ticks`, the best price a fill may take) are cancelled on the way
/// and need their makers too; fills happen between that and `limit_ticks` (from
/// `math::liquidation::band_limit_ticks`). Runs in book order, at most `MAX_MAKER_ACCOUNTS`.
/// Empty when no live order in that window is reachable.
pub fn makers_within(
    book: &OrderBook,
    side: u8,
    taker: &Pubkey,
    now_unix: i64,
    fill_floor_ticks: u64,
    limit_ticks: u64,
) -> Vec<Pubkey> {
    let opposite = if side == SIDE_BID { SIDE_ASK } else { SIDE_BID };
    let buying = side == SIDE_BID;
    let within_limit = |price: u64| if buying { price <= limit_ticks } else { price >= limit_ticks };
    let past_floor = |price: u64| if buying { price < fill_floor_ticks } else { price > fill_floor_ticks };
    let mut makers: Vec<Pubkey> = Vec::new();
    let mut fillable = false;
    for o in book.orders(opposite) {
        if !within_limit(o.price_ticks) || makers.len() == MAX_MAKER_ACCOUNTS {
            break; // sorted best first: the rest is further out
        }
        if o.maker == *taker {
            continue;
        }
        if makers.last() != Some(&o.maker) {
            if makers.len() == MAX_MAKER_ACCOUNTS {
                break;
            }
            makers.push(o.maker);
        }
        fillable |= !o.is_expired(now_unix) && !past_floor(o.price_ticks);
        if fillable {
            break; // one fillable order is enough to make progress; the crank repeats
        }
    }
    if fillable {
        makers
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulwark::state::Order;

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
        assert_eq!(makers_within(&b, SIDE_ASK, &key(9), 10, u64::MAX, 99), vec![key(1)]);
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
}
