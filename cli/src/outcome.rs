//! What an order did, read from the events its transaction logged: fills, the part that rests
//! (with its order id), and the part cancelled.

use anchor_lang::prelude::Pubkey;
use bulwark::events::{
    FillV1, OrderCancelledV1, OrderPlacedV1, CANCEL_REASON_DELEGATE_PRICE, CANCEL_REASON_EVICTED,
    CANCEL_REASON_EXPIRED, CANCEL_REASON_IMMEDIATE_OR_CANCEL, CANCEL_REASON_LIQUIDATION, CANCEL_REASON_MAKER_MARGIN,
    CANCEL_REASON_MATCH_BUDGET, CANCEL_REASON_OUT_OF_BAND, CANCEL_REASON_PRICE_BAND, CANCEL_REASON_REDUCE_ONLY,
    CANCEL_REASON_SELF_TRADE, CANCEL_REASON_USER,
};
use bulwark_sdk::events::decode_events;
use bulwark_sdk::units::{format_decimal, PRICE_DECIMALS};

/// The order's own result.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderOutcome {
    pub filled_lots: u64,
    /// Σ fill price (ticks) × lots, for the average.
    pub filled_tick_lots: u128,
    /// Collateral atoms paid in taker fees.
    pub fees: i128,
    /// The remainder resting on the book.
    pub resting: Option<Resting>,
    /// The remainder cancelled and why (`CANCEL_REASON_*`).
    pub cancelled: Option<(u64, u8)>,
    /// The signer's own resting orders the order removed (self-trade prevention), by id.
    pub own_orders_removed: Vec<u64>,
    /// The signer's other orders the transaction cancelled, by id and `CANCEL_REASON_*` (e.g.
    /// pushed off a full book by this one).
    pub own_orders_cancelled: Vec<(u64, u8)>,
    /// Any of the order's events were in the logs (none: the node did not return them).
    pub events_seen: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resting {
    pub order_id: u64,
    pub lots: u64,
    pub price_ticks: u64,
}

impl OrderOutcome {
    /// The order's events in `logs`: `margin` is the taker's margin account in `market`.
    pub fn from_logs(logs: &[String], market: &Pubkey, margin: &Pubkey) -> Self {
        let mut outcome = Self::default();
        for fill in decode_events::<FillV1>(logs).iter().filter(|f| f.market == *market && f.taker == *margin) {
            outcome.events_seen = true;
            outcome.filled_lots += fill.base_lots;
            outcome.filled_tick_lots += fill.price_ticks as u128 * fill.base_lots as u128;
            outcome.fees += fill.taker_fee as i128;
        }
        let placed = decode_events::<OrderPlacedV1>(logs);
        if let Some(p) = placed.iter().find(|p| p.market == *market && p.margin_account == *margin) {
            outcome.events_seen = true;
            outcome.resting = Some(Resting { order_id: p.order_id, lots: p.base_lots, price_ticks: p.price_ticks });
        }
        for c in decode_events::<OrderCancelledV1>(logs)
            .iter()
            .filter(|c| c.market == *market && c.margin_account == *margin)
        {
            outcome.events_seen = true;
            if c.order_id == u64::MAX {
                outcome.cancelled = Some((c.base_lots, c.reason));
            } else if c.reason == CANCEL_REASON_SELF_TRADE {
                outcome.own_orders_removed.push(c.order_id);
            } else {
                outcome.own_orders_cancelled.push((c.order_id, c.reason));
            }
        }
        outcome
    }

    /// The average fill price in `PRICE_PRECISION`, when anything filled.
    pub fn average_price(&self, tick_size: u64) -> Option<String> {
        (self.filled_lots > 0).then(|| {
            let precise = self.filled_tick_lots * tick_size as u128 / self.filled_lots as u128;
            format_decimal(precise as i128, PRICE_DECIMALS)
        })
    }
}

/// Why an order (or its remainder) left without filling.
pub fn cancel_reason(reason: u8) -> &'static str {
    match reason {
        CANCEL_REASON_USER => "cancelled by its owner",
        CANCEL_REASON_IMMEDIATE_OR_CANCEL => "an immediate-or-cancel or market order does not rest",
        CANCEL_REASON_SELF_TRADE => "it would have traded with an order of the same account",
        CANCEL_REASON_EXPIRED => "it expired",
        CANCEL_REASON_REDUCE_ONLY => "reduce-only: it would have grown the position",
        CANCEL_REASON_LIQUIDATION => "the account is being liquidated or deleveraged",
        CANCEL_REASON_PRICE_BAND => "its price was outside the fill band around the oracle",
        CANCEL_REASON_MAKER_MARGIN => "the fill would have left its maker under margin",
        CANCEL_REASON_EVICTED => "a better-priced order took its place on a full book",
        CANCEL_REASON_OUT_OF_BAND => "it rested outside the band around the oracle",
        CANCEL_REASON_DELEGATE_PRICE => "a delegate's order reached a price worse than the oracle",
        CANCEL_REASON_MATCH_BUDGET => "matching reached its per-transaction budget; place the rest again",
        _ => "cancelled",
    }
}

/// The order as it was asked for, to say what became of it.
pub struct OrderAsked<'a> {
    pub buy: bool,
    pub lots: u64,
    /// The limit (or worst) price as text.
    pub price: &'a str,
    pub market: &'a str,
    pub tick_size: u64,
    /// The collateral's decimals, for fees.
    pub decimals: u32,
    pub price_text: &'a dyn Fn(u64) -> String,
}

/// One sentence: what filled at what average, what rests under which id, what was cancelled.
pub fn describe(outcome: &OrderOutcome, asked: &OrderAsked) -> String {
    let market = asked.market;
    let (verb, side, other_side, beyond) =
        if asked.buy { ("bought", "buy", "ask", "at or below") } else { ("sold", "sell", "bid", "at or above") };
    if !outcome.events_seen {
        return format!(
            "the order landed in {market}, but the node returned no events to tell what filled: `bulwark positions` \
             shows the position and open orders"
        );
    }
    let mut parts = Vec::new();
    if outcome.filled_lots > 0 {
        let of = if outcome.filled_lots < asked.lots { format!(" of {}", asked.lots) } else { String::new() };
        parts.push(format!(
            "{verb} {}{of} lots in {market} at an average {} (fee {})",
            outcome.filled_lots,
            outcome.average_price(asked.tick_size).unwrap_or_default(),
            format_decimal(outcome.fees, asked.decimals)
        ));
    }
    let rest = if outcome.filled_lots > 0 { "the other " } else { "" };
    if let Some(r) = outcome.resting {
        if outcome.filled_lots > 0 {
            parts.push(format!(
                "{rest}{} lots rest as order {} at {}",
                r.lots,
                r.order_id,
                (asked.price_text)(r.price_ticks)
            ));
        } else {
            parts.push(format!(
                "nothing filled yet: order {} rests in {market}, {side} {} lots at {}",
                r.order_id,
                r.lots,
                (asked.price_text)(r.price_ticks)
            ));
        }
    }
    if let Some((lots, reason)) = outcome.cancelled {
        if outcome.filled_lots == 0 && reason == CANCEL_REASON_IMMEDIATE_OR_CANCEL {
            parts.push(format!(
                "nothing filled: no {other_side} in {market} {beyond} {} to take, and {}, so the {side} of {lots} lots \
                 was cancelled",
                asked.price,
                cancel_reason(reason)
            ));
        } else if outcome.filled_lots == 0 {
            parts.push(format!(
                "nothing filled: the {side} of {lots} lots in {market} was cancelled ({})",
                cancel_reason(reason)
            ));
        } else {
            parts.push(format!("{rest}{lots} lots were cancelled ({})", cancel_reason(reason)));
        }
    }
    if parts.is_empty() {
        parts.push(format!("nothing filled and nothing rests in {market}"));
    }
    if !outcome.own_orders_removed.is_empty() {
        let ids: Vec<String> = outcome.own_orders_removed.iter().map(u64::to_string).collect();
        parts.push(format!("your own order(s) {} in its way were cancelled (no self-trades)", ids.join(", ")));
    }
    for (id, reason) in &outcome.own_orders_cancelled {
        parts.push(format!("your order {id} was cancelled: {}", cancel_reason(*reason)));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use anchor_lang::__private::base64::{prelude::BASE64_STANDARD, Engine};
    use anchor_lang::{Discriminator, Event};

    fn log<E: Event + Discriminator>(event: E) -> String {
        format!("Program data: {}", BASE64_STANDARD.encode(event.data()))
    }

    fn asked<'a>(buy: bool, lots: u64, price_text: &'a dyn Fn(u64) -> String) -> OrderAsked<'a> {
        OrderAsked { buy, lots, price: "100000", market: "BTC-PERP", tick_size: 1_000_000, decimals: 6, price_text }
    }

    #[test]
    fn fills_rests_and_cancels_are_told_apart() {
        let (market, me, maker) = (Pubkey::new_unique(), Pubkey::new_unique(), Pubkey::new_unique());
        let fill = |price_ticks, base_lots| FillV1 {
            market,
            maker,
            taker: me,
            maker_order_id: 1,
            taker_side: 0,
            price_ticks,
            base_lots,
            quote: 0,
            taker_fee: 1_500_000,
            maker_fee: 0,
        };
        let price_text = |t: u64| t.to_string();
        let logs = vec![
            log(fill(100_000, 30)),
            log(fill(100_001, 30)),
            log(OrderPlacedV1 {
                market,
                margin_account: me,
                order_id: 7,
                client_order_id: 0,
                side: 0,
                price_ticks: 100_001,
                base_lots: 30,
                expiry_unix: 0,
            }),
        ];
        let outcome = OrderOutcome::from_logs(&logs, &market, &me);
        assert_eq!(outcome.filled_lots, 60);
        assert_eq!(outcome.average_price(1_000_000).as_deref(), Some("100000.5"));
        assert_eq!(
            describe(&outcome, &asked(true, 90, &price_text)),
            "bought 60 of 90 lots in BTC-PERP at an average 100000.5 (fee 3); the other 30 lots rest as order 7 at \
             100001"
        );

        let ioc = vec![log(OrderCancelledV1 {
            market,
            margin_account: me,
            order_id: u64::MAX,
            side: 0,
            base_lots: 5,
            reason: CANCEL_REASON_IMMEDIATE_OR_CANCEL,
        })];
        let nothing = describe(&OrderOutcome::from_logs(&ioc, &market, &me), &asked(true, 5, &price_text));
        assert_eq!(
            nothing,
            "nothing filled: no ask in BTC-PERP at or below 100000 to take, and an immediate-or-cancel or market \
             order does not rest, so the buy of 5 lots was cancelled"
        );
        assert!(!nothing.contains("placed"));
        // Someone else's events are not ours.
        let theirs = OrderOutcome::from_logs(&ioc, &market, &maker);
        assert!(!theirs.events_seen);
        assert!(describe(&theirs, &asked(false, 5, &price_text)).contains("no events"));

        // Own orders cancelled on the way: a self-trade removal and an eviction are told apart.
        let own = |order_id, reason| {
            log(OrderCancelledV1 { market, margin_account: me, order_id, side: 1, base_lots: 3, reason })
        };
        let logs = vec![own(4, CANCEL_REASON_SELF_TRADE), own(5, CANCEL_REASON_EVICTED)];
        let outcome = OrderOutcome::from_logs(&logs, &market, &me);
        assert_eq!(outcome.own_orders_removed, vec![4]);
        assert_eq!(outcome.own_orders_cancelled, vec![(5, CANCEL_REASON_EVICTED)]);
        let told = describe(&outcome, &asked(true, 5, &price_text));
        assert!(told.contains("your own order(s) 4 in its way were cancelled (no self-trades)"), "{told}");
        assert!(
            told.contains("your order 5 was cancelled: a better-priced order took its place on a full book"),
            "{told}"
        );
    }
}
