//! The matching engine: a taker order against the resting book, then the remainder rests or is
//! cancelled. Makers are the margin accounts passed in book order; matching stops at the first
//! maker not passed. Every fill updates both accounts at once, so there is no event queue.

use anchor_lang::prelude::*;

use crate::constants::{MAX_MAKER_TOUCHES_PER_ORDER, MAX_MARGIN_REFUSALS_PER_ORDER, MAX_STALE_REMOVALS_PER_ORDER};
use crate::controller::market::record_open_interest;
use crate::controller::position::{
    fill_account, find_position, position_index, reducible_lots, release_order, reserve_order, settle_funding,
};
use crate::controller::pricing::{MarketPrice, Valuation, ValuedAccount};
use crate::controller::waterfall::cover_flat_deficit;
use crate::error::BulwarkError;
use crate::events::*;
use crate::math::liquidation::{band_limit_ticks, resting_band_ticks};
use crate::math::margin::fill_keeps_health;
use crate::math::perp::{fill_quote, maker_fee, taker_fee};
use crate::math::safe::{to_i64, SafeMath};
use crate::state::{
    Clearinghouse, MarginAccount, Market, Order, OrderBook, ORDER_FLAG_DELEGATE, ORDER_FLAG_REDUCE_ONLY, SIDE_ASK,
    SIDE_BID,
};

pub const ORDER_TYPE_LIMIT: u8 = 0;
pub const ORDER_TYPE_POST_ONLY: u8 = 1;
pub const ORDER_TYPE_IMMEDIATE_OR_CANCEL: u8 = 2;
/// Immediate-or-cancel with `price_ticks` as the worst acceptable price.
pub const ORDER_TYPE_MARKET: u8 = 3;

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlaceOrderArgs {
    pub side: u8,
    pub order_type: u8,
    /// Limit price (the worst price for market orders), in ticks.
    pub price_ticks: u64,
    pub base_lots: u64,
    pub reduce_only: bool,
    /// 0: good till cancelled.
    pub expiry_unix: i64,
    pub client_order_id: u64,
}

impl PlaceOrderArgs {
    pub fn rests(&self) -> bool {
        self.order_type == ORDER_TYPE_LIMIT || self.order_type == ORDER_TYPE_POST_ONLY
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MatchOutcome {
    pub filled_lots: u64,
    pub filled_quote: u64,
    /// Taker plus maker fees charged in this instruction (maker rebates negative).
    pub net_fees: i128,
    pub rested_order_id: Option<u64>,
    /// Open interest after minus before.
    pub open_interest_change: i128,
    /// Σ change of the collateral balances of every account touched (taker and makers).
    pub balance_change: i128,
    /// Deficits of makers this order left flat, paid by the insurance vault (the taker's is
    /// settled by the caller, which may still charge it).
    pub insurance_payout: u64,
    /// What a taker's resting bid above (ask below) the oracle would lose the moment it fills:
    /// the caller counts it against the taker's initial margin.
    pub rested_loss_at_oracle: i128,
}

/// Where in `makers` the next order's maker is: the current one again, or the next account.
fn next_maker(makers: &[AccountInfo], cursor: &mut Option<usize>, maker: &Pubkey) -> Option<usize> {
    if let Some(i) = *cursor {
        if makers[i].key == maker {
            return Some(i);
        }
    }
    let next = cursor.map_or(0, |i| i + 1);
    if next < makers.len() && makers[next].key == maker {
        *cursor = Some(next);
        return Some(next);
    }
    None
}

fn opposite(side: u8) -> u8 {
    if side == SIDE_BID {
        SIDE_ASK
    } else {
        SIDE_BID
    }
}

fn crosses(side: u8, limit_ticks: u64, resting_ticks: u64) -> bool {
    if side == SIDE_BID {
        resting_ticks <= limit_ticks
    } else {
        resting_ticks >= limit_ticks
    }
}

/// Whether every market `account` holds a position in is among `prices`.
fn is_priced(account: &MarginAccount, prices: &[MarketPrice]) -> bool {
    account.open_positions().all(|p| prices.iter().any(|m| m.index == p.market_index))
}

/// Recount the reserves of `owner`'s position in `market` from the book: orders evicted by
/// others leave the owner's reserve behind (its account is not in their transaction), and the
/// owner's next touch of the market puts it right. A stale reserve only ever overstates the
/// initial requirement.
pub fn sync_reserves(owner_key: &Pubkey, owner: &mut MarginAccount, slot: usize, book: &OrderBook) {
    let (bid_lots, bids) = book.resting_of(SIDE_BID, owner_key);
    let (ask_lots, asks) = book.resting_of(SIDE_ASK, owner_key);
    let position = &mut owner.positions[slot];
    position.open_bid_lots = bid_lots.min(i64::MAX as u64) as i64;
    position.open_ask_lots = ask_lots.min(i64::MAX as u64) as i64;
    position.open_order_count = bids.saturating_add(asks);
}

/// Remove a resting order and release its reserve from its owner's position.
fn drop_order(
    book: &mut OrderBook,
    side: u8,
    index: usize,
    owner: &mut MarginAccount,
    market: &Market,
) -> Result<Order> {
    let order = book.remove(side, index).ok_or(BulwarkError::OrderNotFound)?;
    if let Some(slot) = find_position(owner, market.index) {
        release_order(&mut owner.positions[slot], side, order.base_lots, true);
    }
    Ok(order)
}

/// `fill_keeps_health` for a maker whose position in `market_index` changed from `before` to
/// `after`: only that position is valued twice, the maker's other markets (up to seven, each
/// at both ends of a band) once. Its own frame keeps the valuations off `place_order`'s stack.
#[inline(never)]
fn maker_fill_keeps_health(
    before: &MarginAccount,
    after: &MarginAccount,
    market_index: u16,
    prices: &[MarketPrice],
) -> Result<bool> {
    let mut valued = ValuedAccount::new(before, prices, Valuation::AgainstAccount)?;
    let health_before = valued.health(before.collateral_balance)?;
    valued.revalue_position(after, market_index, prices)?;
    fill_keeps_health(&health_before, &valued.health(after.collateral_balance)?).map_err(crate::math_err)
}

#[allow(clippy::too_many_arguments)]
pub fn place_order<'info>(
    market_key: Pubkey,
    clearinghouse_key: Pubkey,
    clearinghouse: &mut Clearinghouse,
    taker_key: Pubkey,
    taker: &mut MarginAccount,
    market: &mut Market,
    book: &mut OrderBook,
    makers: &'info [AccountInfo<'info>],
    prices: &[MarketPrice],
    unpriceable: &[u16],
    args: &PlaceOrderArgs,
    placed_by_delegate: bool,
    oracle_price: i64,
    now_unix: i64,
) -> Result<MatchOutcome> {
    require!(args.side == SIDE_BID || args.side == SIDE_ASK, BulwarkError::InvalidOrder);
    require!(args.order_type <= ORDER_TYPE_MARKET, BulwarkError::InvalidOrder);
    require!(args.price_ticks > 0 && args.base_lots > 0, BulwarkError::InvalidOrder);
    require!(args.expiry_unix == 0 || args.expiry_unix > now_unix, BulwarkError::OrderExpired);

    let taker_balance_before = taker.collateral_balance as i128;
    let taker_slot = position_index(taker, market)?;
    settle_funding(taker, taker_slot, market)?;
    sync_reserves(&taker_key, taker, taker_slot, book);

    let mut remaining = args.base_lots;
    let mut closes_all = false;
    if args.reduce_only {
        let reducible = reducible_lots(&taker.positions[taker_slot], args.side);
        remaining = remaining.min(reducible);
        require!(remaining > 0, BulwarkError::ReduceOnlyWouldIncrease);
        closes_all = remaining == reducible;
    }
    // A position under the minimum (left by a partial close) may still be closed whole.
    require!(args.base_lots >= market.params.min_order_lots || closes_all, BulwarkError::OrderBelowMinimumSize);
    // No fill strays further than the band from the oracle, whatever the limit says: a trade at
    // an arbitrary price could move value between accounts, and deficits onto insurance.
    let deviation = clearinghouse.waterfall.max_fill_deviation_bps;
    let band_low = band_limit_ticks(oracle_price, market.params.tick_size, deviation, true).map_err(crate::math_err)?;
    let band_high =
        band_limit_ticks(oracle_price, market.params.tick_size, deviation, false).map_err(crate::math_err)?;
    // A delegate trades for the owner but may never trade the owner's account at a price worse
    // than the oracle (a round trip against an account of its own at the band's edges would
    // move the owner's money to it): its limits stop at the oracle, rounded in the account's
    // favour.
    let tick = market.params.tick_size as i128;
    let oracle_bid_ticks = crate::math::safe::to_u64((oracle_price as i128).safe_div(tick).map_err(crate::math_err)?)
        .map_err(crate::math_err)?;
    let oracle_ask_ticks =
        crate::math::safe::to_u64((oracle_price as i128 + tick - 1).safe_div(tick).map_err(crate::math_err)?)
            .map_err(crate::math_err)?
            .max(1);
    let mut limit_ticks = args.price_ticks;
    if placed_by_delegate {
        limit_ticks = if args.side == SIDE_BID {
            limit_ticks.min(oracle_bid_ticks).max(1)
        } else {
            limit_ticks.max(oracle_ask_ticks)
        };
    }
    let fill_limit = if args.side == SIDE_BID { limit_ticks.min(band_high) } else { limit_ticks.max(band_low) };
    let maker_side = opposite(args.side);
    if args.order_type == ORDER_TYPE_POST_ONLY {
        if let Some(best) = book.best_price(maker_side) {
            require!(!crosses(args.side, limit_ticks, best), BulwarkError::PostOnlyWouldCross);
        }
    }

    let mut outcome = MatchOutcome::default();
    let mut cursor: Option<usize> = None;
    let mut fills = 0;
    let mut removals = 0;
    // A margin refusal costs a full valuation of the maker's account, the other removals
    // almost nothing: they have a smaller budget of their own, so stale orders cannot make
    // an order, or a book liquidation, run out of compute.
    let mut margin_refusals = 0;
    // Orders that leave the book without filling are counted apart from fills, so stale
    // orders at the top cannot use up an order's fills.
    macro_rules! remove_stale {
        ($owner:expr, $order:expr, $reason:expr) => {{
            drop_order(book, maker_side, 0, $owner, market)?;
            emit_cancel(market_key, &$order, maker_side, $reason);
            removals += 1;
        }};
    }
    while remaining > 0
        && fills < MAX_MAKER_TOUCHES_PER_ORDER
        && removals < MAX_STALE_REMOVALS_PER_ORDER
        && margin_refusals < MAX_MARGIN_REFUSALS_PER_ORDER
    {
        let Some(best) = book.orders(maker_side).first().copied() else { break };
        if !crosses(args.side, fill_limit, best.price_ticks) {
            break;
        }

        if best.maker == taker_key {
            // Self-trade prevention: the resting order goes, the taker keeps matching.
            remove_stale!(taker, best, CANCEL_REASON_SELF_TRADE);
            continue;
        }
        let Some(maker_index) = next_maker(makers, &mut cursor, &best.maker) else { break };
        let loader = AccountLoader::<MarginAccount>::try_from(&makers[maker_index])?;
        let mut maker = loader.load_mut()?;
        require_keys_eq!(maker.clearinghouse, clearinghouse_key, BulwarkError::InvalidMakerAccount);
        let maker_slot = find_position(&maker, market.index).ok_or(BulwarkError::InvalidMakerAccount)?;
        let maker_balance_before = maker.collateral_balance as i128;

        if best.is_expired(now_unix) {
            remove_stale!(&mut maker, best, CANCEL_REASON_EXPIRED);
            continue;
        }
        // A maker price past the band on the taker's good side (an ask under it, a bid over
        // it) is stale or a gift: it is cancelled, never filled.
        let off_band = if maker_side == SIDE_ASK { best.price_ticks < band_low } else { best.price_ticks > band_high };
        if off_band {
            remove_stale!(&mut maker, best, CANCEL_REASON_PRICE_BAND);
            continue;
        }
        // A delegate's order is reached at a price worse than the oracle for its account.
        let delegate_loss = best.flags & ORDER_FLAG_DELEGATE != 0
            && if maker_side == SIDE_ASK {
                best.price_ticks < oracle_ask_ticks
            } else {
                best.price_ticks > oracle_bid_ticks
            };
        if delegate_loss {
            remove_stale!(&mut maker, best, CANCEL_REASON_DELEGATE_PRICE);
            continue;
        }
        // The maker's margin is checked after the fill, which needs every market it holds
        // priced. A market whose passed feed is unusable even as a band cannot be: the maker
        // loses the order rather than freeze the book. A market not passed ends the matching,
        // as a maker not passed does.
        if maker.open_positions().any(|p| unpriceable.contains(&p.market_index)) {
            remove_stale!(&mut maker, best, CANCEL_REASON_MAKER_MARGIN);
            continue;
        }
        if !is_priced(&maker, prices) {
            break;
        }
        settle_funding(&mut maker, maker_slot, market)?;
        // Its reserve may be stale (an eviction by someone else): recount it from the book, so
        // a griefer evicting part of a ladder cannot inflate the rest's margin.
        sync_reserves(&best.maker, &mut maker, maker_slot, book);
        let mut lots = remaining.min(best.base_lots);
        if best.flags & ORDER_FLAG_REDUCE_ONLY != 0 {
            lots = lots.min(reducible_lots(&maker.positions[maker_slot], maker_side));
            if lots == 0 {
                remove_stale!(&mut maker, best, CANCEL_REASON_REDUCE_ONLY);
                outcome.balance_change += maker.collateral_balance as i128 - maker_balance_before;
                continue;
            }
        }

        let quote = fill_quote(lots, best.price_ticks, market.quote_per_lot_tick).map_err(crate::math_err)?;
        let taker_fee = taker_fee(quote, market.params.taker_fee_bps).map_err(crate::math_err)?;
        let maker_fee = maker_fee(quote, market.params.maker_fee_bps).map_err(crate::math_err)?;
        let signed = to_i64(lots).map_err(crate::math_err)?;
        let maker_lots = if maker_side == SIDE_BID { signed } else { -signed };

        // Try the maker's side first: a fill that would leave the maker under margin (below
        // its initial requirement with a lower equity/maintenance ratio, or below zero) costs
        // the maker its order, never the taker its trade or the insurance vault a deficit.
        let order_gone = lots == best.base_lots;
        let mut maker_after = *maker;
        let maker_fill = fill_account(&mut maker_after, maker_slot, maker_lots, quote, maker_fee)?;
        release_order(&mut maker_after.positions[maker_slot], maker_side, lots, order_gone);
        if !maker_fill_keeps_health(&maker, &maker_after, market.index, prices)? {
            remove_stale!(&mut maker, best, CANCEL_REASON_MAKER_MARGIN);
            margin_refusals += 1;
            outcome.balance_change += maker.collateral_balance as i128 - maker_balance_before;
            continue;
        }
        *maker = maker_after;
        fills += 1;
        let taker_fill = fill_account(taker, taker_slot, -maker_lots, quote, taker_fee)?;
        let oi_before = market.open_interest_long_lots as i128;
        record_open_interest(market, maker_fill.base_lots_before, maker_fill.base_lots_after)?;
        record_open_interest(market, taker_fill.base_lots_before, taker_fill.base_lots_after)?;
        outcome.open_interest_change += market.open_interest_long_lots as i128 - oi_before;

        if order_gone {
            book.remove(maker_side, 0);
        } else if let Some(resting) = book.order_mut(maker_side, 0) {
            resting.base_lots -= lots;
        }
        maker.last_active_slot = Clock::get()?.slot;
        let payout = cover_flat_deficit(clearinghouse_key, clearinghouse, best.maker, &mut maker)?;
        outcome.insurance_payout = outcome.insurance_payout.safe_add(payout).map_err(crate::math_err)?;
        outcome.balance_change += maker.collateral_balance as i128 - maker_balance_before;

        emit_event(FillV1 {
            market: market_key,
            maker: best.maker,
            taker: taker_key,
            maker_order_id: best.order_id,
            taker_side: args.side,
            price_ticks: best.price_ticks,
            base_lots: lots,
            quote,
            taker_fee: to_i64(taker_fee).map_err(crate::math_err)?,
            maker_fee: to_i64(maker_fee).map_err(crate::math_err)?,
        });
        remaining -= lots;
        outcome.filled_lots += lots;
        outcome.filled_quote = outcome.filled_quote.safe_add(quote).map_err(crate::math_err)?;
        outcome.net_fees = outcome.net_fees.safe_add(taker_fee + maker_fee).map_err(crate::math_err)?;
        market.last_trade_price =
            (best.price_ticks as i128 * market.params.tick_size as i128).min(i64::MAX as i128) as i64;
    }

    // Matching stopped at one of its per-instruction budgets rather than at the limit price or
    // the makers passed.
    let budget_spent = fills >= MAX_MAKER_TOUCHES_PER_ORDER
        || removals >= MAX_STALE_REMOVALS_PER_ORDER
        || margin_refusals >= MAX_MARGIN_REFUSALS_PER_ORDER;
    let crossing = book.best_price(maker_side).is_some_and(|best| crosses(args.side, limit_ticks, best));
    // A limit order still crossing when a budget ran out is not rested (a crossed book would
    // make every later taker's fill depend on who it passes) and not refused either: its fills
    // and the stale orders it removed stand, and the rest can be sent again. Refusing it would
    // undo the removals, so stale orders at the top could block every limit order for good.
    let rest_remainder = args.rests() && !(crossing && budget_spent);
    if remaining > 0 {
        if rest_remainder {
            require!(!crossing, BulwarkError::RestingOrderWouldCross);
            // Resting prices stay near the oracle: a far order is no liquidity, could pin the
            // mark, and (at an absurd price) overflow it.
            let (rest_low, rest_high) =
                resting_band_ticks(oracle_price, market.params.tick_size, deviation).map_err(crate::math_err)?;
            require!((rest_low..=rest_high).contains(&limit_ticks), BulwarkError::OrderPriceOutOfBand);
            let order_id = book.next_order_id;
            book.next_order_id = order_id.safe_add(1).map_err(crate::math_err)?;
            let order = Order {
                maker: taker_key,
                order_id,
                client_order_id: args.client_order_id,
                price_ticks: limit_ticks,
                base_lots: remaining,
                expiry_unix: args.expiry_unix,
                flags: if args.reduce_only { ORDER_FLAG_REDUCE_ONLY } else { 0 }
                    | if placed_by_delegate { ORDER_FLAG_DELEGATE } else { 0 },
                padding: [0; 7],
            };
            let (_, evicted) = book.insert_or_evict(args.side, order).ok_or(BulwarkError::OrderBookFull)?;
            if let Some(evicted) = evicted {
                // Its owner's reserve is recounted at the owner's next touch of this market.
                if evicted.maker == taker_key {
                    release_order(&mut taker.positions[taker_slot], args.side, evicted.base_lots, true);
                }
                emit_cancel(market_key, &evicted, args.side, CANCEL_REASON_EVICTED);
            }
            reserve_order(&mut taker.positions[taker_slot], args.side, remaining)?;
            if !args.reduce_only {
                let ticks_worse = if args.side == SIDE_BID {
                    (limit_ticks as i128) * (market.params.tick_size as i128) - oracle_price as i128
                } else {
                    oracle_price as i128 - (limit_ticks as i128) * (market.params.tick_size as i128)
                };
                if ticks_worse > 0 {
                    let spec = crate::controller::pricing::perp_spec(market);
                    let signed = to_i64(remaining).map_err(crate::math_err)?;
                    outcome.rested_loss_at_oracle =
                        crate::math::perp::base_value(signed, to_i64(ticks_worse).map_err(crate::math_err)?, &spec)
                            .map_err(crate::math_err)?;
                }
            }
            emit_event(OrderPlacedV1 {
                market: market_key,
                margin_account: taker_key,
                order_id,
                client_order_id: args.client_order_id,
                side: args.side,
                price_ticks: limit_ticks,
                base_lots: remaining,
                expiry_unix: args.expiry_unix,
            });
            outcome.rested_order_id = Some(order_id);
        } else {
            emit_event(OrderCancelledV1 {
                market: market_key,
                margin_account: taker_key,
                order_id: u64::MAX,
                side: args.side,
                base_lots: remaining,
                reason: if args.rests() { CANCEL_REASON_MATCH_BUDGET } else { CANCEL_REASON_IMMEDIATE_OR_CANCEL },
            });
        }
    }
    taker.last_active_slot = Clock::get()?.slot;
    outcome.balance_change += taker.collateral_balance as i128 - taker_balance_before;
    Ok(outcome)
}

fn emit_cancel(market: Pubkey, order: &Order, side: u8, reason: u8) {
    emit_event(OrderCancelledV1 {
        market,
        margin_account: order.maker,
        order_id: order.order_id,
        side,
        base_lots: order.base_lots,
        reason,
    });
}

/// Cancel one of `owner_key`'s orders (by id), or all of them when `order_id` is `None`.
/// `reason` is a `CANCEL_REASON_*`.
/// Returns how many were cancelled.
pub fn cancel_orders(
    market_key: Pubkey,
    owner_key: Pubkey,
    owner: &mut MarginAccount,
    market: &Market,
    book: &mut OrderBook,
    order_id: Option<u64>,
    reason: u8,
) -> Result<u32> {
    let mut cancelled = 0;
    for side in [SIDE_BID, SIDE_ASK] {
        let mut i = 0;
        while i < book.count(side) {
            let order = book.orders(side)[i];
            let matches = order.maker == owner_key && order_id.is_none_or(|id| id == order.order_id);
            if matches {
                drop_order(book, side, i, owner, market)?;
                emit_cancel(market_key, &order, side, reason);
                cancelled += 1;
            } else {
                i += 1;
            }
        }
    }
    if order_id.is_some() {
        require!(cancelled == 1, BulwarkError::OrderNotFound);
    }
    if let Some(slot) = find_position(owner, market.index) {
        sync_reserves(&owner_key, owner, slot, book);
    }
    Ok(cancelled)
}

/// Remove orders that are expired or rest outside the resting band around the oracle TWAP
/// (placed in band, left behind by the price) whose makers are passed, in book order (bids,
/// then asks).
#[allow(clippy::too_many_arguments)]
pub fn prune_expired<'info>(
    market_key: Pubkey,
    clearinghouse_key: Pubkey,
    market: &Market,
    book: &mut OrderBook,
    makers: &'info [AccountInfo<'info>],
    now_unix: i64,
    fill_band_bps: u32,
    max: usize,
) -> Result<u32> {
    // Outside the band around the oracle TWAP and around the last oracle price sampled (every
    // order samples it): the TWAP alone lags a fast move, and would let anyone prune the fresh
    // quotes a crash needs.
    let band_around = |price: i64| -> Result<Option<(u64, u64)>> {
        if price <= 0 {
            return Ok(None);
        }
        Ok(Some(resting_band_ticks(price, market.params.tick_size, fill_band_bps).map_err(crate::math_err)?))
    };
    let twap_band = band_around(market.oracle_twap)?;
    let last_band = band_around(market.last_oracle_sample)?;
    let mut pruned = 0u32;
    let mut cursor: Option<usize> = None;
    'sides: for side in [SIDE_BID, SIDE_ASK] {
        let mut i = 0;
        while i < book.count(side) {
            if pruned as usize >= max {
                break 'sides;
            }
            let order = book.orders(side)[i];
            let outside =
                |band: Option<(u64, u64)>| band.is_some_and(|(low, high)| !(low..=high).contains(&order.price_ticks));
            let out_of_band = outside(twap_band) && (last_band.is_none() || outside(last_band));
            if !order.is_expired(now_unix) && !out_of_band {
                i += 1;
                continue;
            }
            let Some(maker_index) = next_maker(makers, &mut cursor, &order.maker) else { break 'sides };
            let loader = AccountLoader::<MarginAccount>::try_from(&makers[maker_index])?;
            let mut maker = loader.load_mut()?;
            require_keys_eq!(maker.clearinghouse, clearinghouse_key, BulwarkError::InvalidMakerAccount);
            drop_order(book, side, i, &mut maker, market)?;
            let reason = if order.is_expired(now_unix) { CANCEL_REASON_EXPIRED } else { CANCEL_REASON_OUT_OF_BAND };
            emit_cancel(market_key, &order, side, reason);
            pruned += 1;
        }
    }
    require!(pruned > 0, BulwarkError::NothingToPrune);
    Ok(pruned)
}
