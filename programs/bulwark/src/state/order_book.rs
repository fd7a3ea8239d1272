use anchor_lang::prelude::*;

use crate::constants::MAX_ORDERS_PER_SIDE;

pub const SIDE_BID: u8 = 0;
pub const SIDE_ASK: u8 = 1;

/// `Order::flags` bits.
pub const ORDER_FLAG_REDUCE_ONLY: u8 = 1 << 0;
/// Placed by the account's delegate: it fills only at prices no worse than the oracle for the
/// account (checked again when it is reached).
pub const ORDER_FLAG_DELEGATE: u8 = 1 << 1;

/// One resting order.
#[zero_copy]
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Order {
    /// The maker's margin account.
    pub maker: Pubkey,
    pub order_id: u64,
    pub client_order_id: u64,
    pub price_ticks: u64,
    /// Remaining size.
    pub base_lots: u64,
    /// Unix time after which the order cannot fill (0: good till cancelled).
    pub expiry_unix: i64,
    pub flags: u8,
    pub padding: [u8; 7],
}
const_assert_size!(Order, 80);

impl Order {
    pub fn is_expired(&self, now_unix: i64) -> bool {
        self.expiry_unix != 0 && now_unix >= self.expiry_unix
    }
}

/// A market's limit order book: two sorted arrays in price-time priority (bids: best = highest
/// price; asks: best = lowest), fixed capacity, index 0 is the best order.
/// PDA: `["order_book", market]`.
#[account(zero_copy)]
#[derive(Debug)]
pub struct OrderBook {
    pub market: Pubkey,
    pub next_order_id: u64,
    pub bid_count: u16,
    pub ask_count: u16,
    pub padding: [u8; 4],
    pub bids: [Order; MAX_ORDERS_PER_SIDE],
    pub asks: [Order; MAX_ORDERS_PER_SIDE],
}
const_assert_size!(OrderBook, 48 + 2 * 80 * MAX_ORDERS_PER_SIDE);

/// Does `a` rest ahead of `b` on `side`?
fn ahead(side: u8, a: &Order, b: &Order) -> bool {
    if a.price_ticks != b.price_ticks {
        return if side == SIDE_BID { a.price_ticks > b.price_ticks } else { a.price_ticks < b.price_ticks };
    }
    a.order_id < b.order_id
}

impl OrderBook {
    pub fn count(&self, side: u8) -> usize {
        (if side == SIDE_BID { self.bid_count } else { self.ask_count }) as usize
    }

    pub fn orders(&self, side: u8) -> &[Order] {
        let n = self.count(side).min(MAX_ORDERS_PER_SIDE);
        if side == SIDE_BID {
            &self.bids[..n]
        } else {
            &self.asks[..n]
        }
    }

    fn side_mut(&mut self, side: u8) -> (&mut [Order; MAX_ORDERS_PER_SIDE], &mut u16) {
        if side == SIDE_BID {
            (&mut self.bids, &mut self.bid_count)
        } else {
            (&mut self.asks, &mut self.ask_count)
        }
    }

    /// Insert in priority order; `None` when the side is full.
    pub fn insert(&mut self, side: u8, order: Order) -> Option<usize> {
        let (orders, count) = self.side_mut(side);
        let n = (*count as usize).min(MAX_ORDERS_PER_SIDE);
        if n == MAX_ORDERS_PER_SIDE {
            return None;
        }
        let at = orders[..n].iter().position(|o| ahead(side, &order, o)).unwrap_or(n);
        orders.copy_within(at..n, at + 1);
        orders[at] = order;
        *count += 1;
        Some(at)
    }

    /// Insert in priority order; when the side is full, a better-priced order evicts the
    /// worst-priced one (returned), so no set of far or stale orders can close a side to
    /// better prices. `None` when the side is full and the order is not better than its worst.
    pub fn insert_or_evict(&mut self, side: u8, order: Order) -> Option<(usize, Option<Order>)> {
        let n = self.count(side).min(MAX_ORDERS_PER_SIDE);
        if n < MAX_ORDERS_PER_SIDE {
            return self.insert(side, order).map(|at| (at, None));
        }
        let worst = self.orders(side)[n - 1];
        if worst.price_ticks == order.price_ticks || !ahead(side, &order, &worst) {
            return None;
        }
        let evicted = self.remove(side, n - 1)?;
        self.insert(side, order).map(|at| (at, Some(evicted)))
    }

    /// Lots and orders `maker` rests on `side`.
    pub fn resting_of(&self, side: u8, maker: &Pubkey) -> (u64, u8) {
        let mut lots = 0u64;
        let mut count = 0u8;
        for order in self.orders(side).iter().filter(|o| o.maker == *maker) {
            lots = lots.saturating_add(order.base_lots);
            count = count.saturating_add(1);
        }
        (lots, count)
    }

    /// Remove the order at `index` of `side`, keeping the rest in order.
    pub fn remove(&mut self, side: u8, index: usize) -> Option<Order> {
        let (orders, count) = self.side_mut(side);
        let n = (*count as usize).min(MAX_ORDERS_PER_SIDE);
        if index >= n {
            return None;
        }
        let removed = orders[index];
        orders.copy_within(index + 1..n, index);
        orders[n - 1] = Order::default();
        *count -= 1;
        Some(removed)
    }

    pub fn order_mut(&mut self, side: u8, index: usize) -> Option<&mut Order> {
        let n = self.count(side).min(MAX_ORDERS_PER_SIDE);
        if index >= n {
            return None;
        }
        Some(if side == SIDE_BID { &mut self.bids[index] } else { &mut self.asks[index] })
    }

    pub fn find(&self, order_id: u64) -> Option<(u8, usize)> {
        for side in [SIDE_BID, SIDE_ASK] {
            if let Some(i) = self.orders(side).iter().position(|o| o.order_id == order_id) {
                return Some((side, i));
            }
        }
        None
    }

    pub fn best_price(&self, side: u8) -> Option<u64> {
        self.orders(side).first().map(|o| o.price_ticks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> OrderBook {
        bytemuck::Zeroable::zeroed()
    }

    fn order(id: u64, price: u64) -> Order {
        Order { order_id: id, price_ticks: price, base_lots: 1, ..Order::default() }
    }

    #[test]
    fn price_time_priority_on_both_sides() {
        let mut b = book();
        for (id, price) in [(1, 100), (2, 102), (3, 100), (4, 101)] {
            b.insert(SIDE_BID, order(id, price)).unwrap();
            b.insert(SIDE_ASK, order(id, price)).unwrap();
        }
        let bids: Vec<u64> = b.orders(SIDE_BID).iter().map(|o| o.order_id).collect();
        let asks: Vec<u64> = b.orders(SIDE_ASK).iter().map(|o| o.order_id).collect();
        assert_eq!(bids, vec![2, 4, 1, 3]);
        assert_eq!(asks, vec![1, 3, 4, 2]);
        assert_eq!(b.best_price(SIDE_BID), Some(102));
        assert_eq!(b.best_price(SIDE_ASK), Some(100));
        assert_eq!(b.find(4), Some((SIDE_BID, 1)));
        assert_eq!(b.remove(SIDE_BID, 1).unwrap().order_id, 4);
        let bids: Vec<u64> = b.orders(SIDE_BID).iter().map(|o| o.order_id).collect();
        assert_eq!(bids, vec![2, 1, 3]);
        assert_eq!(b.remove(SIDE_BID, 3), None);
    }

    #[test]
    fn full_side_refuses_inserts() {
        let mut b = book();
        for id in 0..MAX_ORDERS_PER_SIDE as u64 {
            assert!(b.insert(SIDE_ASK, order(id, 10 + id)).is_some());
        }
        assert_eq!(b.insert(SIDE_ASK, order(99, 1)), None);
        assert!(b.insert(SIDE_BID, order(99, 1)).is_some());
    }

    #[test]
    fn a_full_side_evicts_its_worst_for_a_better_price_only() {
        let mut b = book();
        for id in 0..MAX_ORDERS_PER_SIDE as u64 {
            b.insert_or_evict(SIDE_BID, order(id, 10 + id)).unwrap();
        }
        // Worst bid is id 0 at 10. Same price or lower: refused.
        assert_eq!(b.insert_or_evict(SIDE_BID, order(100, 10)), None);
        assert_eq!(b.insert_or_evict(SIDE_BID, order(101, 5)), None);
        // Better: id 0 goes, the new one takes its place in priority order.
        let (at, evicted) = b.insert_or_evict(SIDE_BID, order(102, 11)).unwrap();
        assert_eq!(evicted.unwrap().order_id, 0);
        assert_eq!(at, MAX_ORDERS_PER_SIDE - 1, "behind the older order at 11");
        assert_eq!(b.count(SIDE_BID), MAX_ORDERS_PER_SIDE);
        // Asks: the worst is the highest.
        for id in 0..MAX_ORDERS_PER_SIDE as u64 {
            b.insert_or_evict(SIDE_ASK, order(id, 10 + id)).unwrap();
        }
        let (_, evicted) = b.insert_or_evict(SIDE_ASK, order(200, 12)).unwrap();
        assert_eq!(evicted.unwrap().price_ticks, 10 + MAX_ORDERS_PER_SIDE as u64 - 1);
        let who = Pubkey::new_unique();
        b.insert_or_evict(SIDE_ASK, Order { maker: who, base_lots: 3, ..order(201, 11) }).unwrap();
        b.insert_or_evict(SIDE_ASK, Order { maker: who, base_lots: 4, ..order(202, 11) }).unwrap();
        assert_eq!(b.resting_of(SIDE_ASK, &who), (7, 2));
        assert_eq!(b.resting_of(SIDE_BID, &who), (0, 0));
    }

    #[test]
    fn expiry() {
        let o = Order { expiry_unix: 100, ..order(1, 1) };
        assert!(!o.is_expired(99));
        assert!(o.is_expired(100));
        assert!(!order(1, 1).is_expired(i64::MAX));
    }
}
