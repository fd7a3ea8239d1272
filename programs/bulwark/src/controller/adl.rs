//! Auto-deleveraging (DESIGN.md §7.3): the shortfall one market's close must carry, a winner's
//! standing at a price, one fill of the target against one winner, and the ADL round's queue
//! and window. The one-shot `auto_deleverage` and the rounds share the fill.

use anchor_lang::prelude::*;

use crate::controller::market::record_open_interest;
use crate::controller::position::{fill_account, find_position};
use crate::controller::pricing::{health, health_for_liquidation, with_exact_price, MarketPrice};
use crate::error::BulwarkError;
use crate::events::{
    emit_event, AdlCounterpartySkippedV1, AdlFillV1, AdlHaircutCappedV1, AdlRoundOpenedV1, AdlWindowReopenedV1,
};
use crate::math::adl::{
    adl_score, capped_haircut, haircut_for_fill, profit_on_fill, shortfall, uncovered_for_market, Shortfall,
};
use crate::math::liquidation::marginal_close_value;
use crate::math::perp::{base_value, PerpSpec};
use crate::math::safe::{to_u64, SafeMath};
use crate::state::{AdlRound, Clearinghouse, MarginAccount, Market};

/// What a market's close must carry: the whole account's deficit at the fill price, what
/// insurance pays of it, this market's share of the rest, `U`, and of what insurance pays.
#[derive(Clone, Copy, Debug)]
pub struct MarketShortfall {
    pub split: Shortfall,
    pub market_uncovered: u128,
    pub market_insurance_pays: u128,
}

/// The target's shortfall with `market_index` valued at exactly `price`, where every fill
/// happens (its band's favourable end, right for judging eligibility, would understate the
/// deficit the close realises and leave insurance short by the difference); its other markets
/// stay read in its favour. `U` is shared by notional, so a small position elsewhere is not
/// made to carry a large loss here.
pub fn market_shortfall(
    target: &MarginAccount,
    market_index: u16,
    price: i64,
    prices: &[MarketPrice],
    insurance_balance: u64,
) -> Result<MarketShortfall> {
    let at_fill_price = with_exact_price(prices, market_index, price);
    let split = shortfall(health_for_liquidation(target, &at_fill_price)?.equity, insurance_balance);
    let mut notional_here = 0i128;
    let mut notional_total = 0i128;
    for position in target.open_positions() {
        let Some(p) = at_fill_price.iter().find(|m| m.index == position.market_index) else { continue };
        let notional = base_value(position.base_lots, p.price, &p.spec).map_err(crate::math_err)?.abs();
        notional_total = notional_total.safe_add(notional).map_err(crate::math_err)?;
        if position.market_index == market_index {
            notional_here = notional;
        }
    }
    let market_uncovered =
        uncovered_for_market(split.uncovered, notional_here, notional_total).map_err(crate::math_err)?;
    let market_insurance_pays =
        uncovered_for_market(split.insurance_pays, notional_here, notional_total).map_err(crate::math_err)?;
    Ok(MarketShortfall { split, market_uncovered, market_insurance_pays })
}

/// A winner's standing against the target at `price` (its funding already settled).
#[derive(Clone, Copy, Debug)]
pub struct Winner {
    pub slot: usize,
    pub lots: i64,
    /// Unrealised profit of its position at `price`; always > 0.
    pub upnl: i128,
    /// Its position's value at `price`.
    pub value: i128,
    /// Its account's equity, this market at `price`, the others priced against it.
    pub equity: i128,
    /// `PnL% × leverage`, exactly as the keeper and the SDK rank.
    pub score: u128,
}

/// `account` as the winner facing a target on the other side (`target_is_long`) in
/// `market_index`, at `price`; `prices` must carry `price` for that market. Refused, by name,
/// when it holds no position there, holds one on the target's side, or is not in profit.
pub fn assess_winner(
    account: &MarginAccount,
    market_index: u16,
    target_is_long: bool,
    price: i64,
    spec: &PerpSpec,
    prices: &[MarketPrice],
) -> Result<Winner> {
    match standing_of(account, market_index, target_is_long, price, spec, prices)? {
        Ok(winner) => Ok(winner),
        Err(reason) => Err(reason.into()),
    }
}

/// `assess_winner`, telling apart what disqualifies the account (the inner error: no
/// position, the target's side, no profit) from what fails the instruction (a market of the
/// account not priced, arithmetic): a queued winner that no longer qualifies is passed over,
/// but nobody can be passed over by leaving its markets out.
pub fn standing_of(
    account: &MarginAccount,
    market_index: u16,
    target_is_long: bool,
    price: i64,
    spec: &PerpSpec,
    prices: &[MarketPrice],
) -> Result<core::result::Result<Winner, BulwarkError>> {
    let Some(slot) = find_position(account, market_index) else {
        return Ok(Err(BulwarkError::AdlCounterpartyNoPosition));
    };
    let position = account.positions[slot];
    let lots = position.base_lots;
    if lots == 0 {
        return Ok(Err(BulwarkError::AdlCounterpartyNoPosition));
    }
    if (lots > 0) == target_is_long {
        return Ok(Err(BulwarkError::AdlCounterpartySameSide));
    }
    let value = base_value(lots, price, spec).map_err(crate::math_err)?;
    let upnl = value.safe_add(position.quote_entry as i128).map_err(crate::math_err)?;
    if upnl <= 0 {
        return Ok(Err(BulwarkError::AdlCounterpartyNotInProfit));
    }
    let equity = health(account, prices)?.equity;
    let score = adl_score(upnl, position.quote_entry as i128, value.abs(), equity);
    Ok(Ok(Winner { slot, lots, upnl, value, equity, score }))
}

/// Where a close stands between fills.
#[derive(Clone, Copy, Debug)]
pub struct AdlCursor {
    /// The target's lots in the market still open.
    pub remaining_lots: u64,
    /// What is left of `U` for them.
    pub uncovered_left: u128,
    /// Lots this call may still close.
    pub to_fill: u64,
}

/// The figures every `AdlFillV1` of one call repeats.
#[derive(Clone, Copy, Debug)]
pub struct AdlFillContext {
    pub clearinghouse: Pubkey,
    pub market: Pubkey,
    pub target: Pubkey,
    pub price: i64,
    pub spec: PerpSpec,
    pub target_is_long: bool,
    pub shortfall: MarketShortfall,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WinnerFill {
    /// Closed `lots` of the target; `share` of `U` was due, `haircut` was paid (less when capped).
    Filled { lots: u64, share: u128, haircut: u128 },
    /// It could not pay without going below zero equity.
    Skipped,
}

/// Whether the winner's share for closing `n` lots would be capped at its profit (or, against
/// a short target, at the lots' value).
pub fn capped_at(context: &AdlFillContext, standing: &Winner, cursor: &AdlCursor, n: u64) -> Result<bool> {
    if n == 0 {
        return Ok(false);
    }
    let share = haircut_for_fill(cursor.uncovered_left, n, cursor.remaining_lots).map_err(crate::math_err)?;
    let profit_cap = profit_on_fill(standing.upnl, n, standing.lots.unsigned_abs()).map_err(crate::math_err)?;
    let target_signed_lots =
        if context.target_is_long { cursor.remaining_lots as i64 } else { -(cursor.remaining_lots as i64) };
    let oracle_quote =
        marginal_close_value(target_signed_lots, n, context.price, &context.spec).map_err(crate::math_err)? as u128;
    Ok(capped_haircut(share, profit_cap, oracle_quote, context.target_is_long) < share)
}

/// Close up to `cursor.to_fill` lots of the target against one winner at `P ± share`, the
/// share of what is left of `U` capped at the winner's profit on the lots it closes and, for
/// a short target, at their value (a winner pays from profit, never principal; the target
/// never buys back below zero). What the cap leaves stays in `uncovered_left` for the fills
/// after it. A winner that would end below zero equity is skipped with its event.
/// `max_lots` bounds the lots closed (a round passes what the winners after a capped one
/// cannot take).
#[allow(clippy::too_many_arguments)]
pub fn fill_against_winner(
    context: &AdlFillContext,
    market: &mut Market,
    target: &mut MarginAccount,
    target_slot: usize,
    winner_key: Pubkey,
    winner: &mut MarginAccount,
    standing: &Winner,
    cursor: &mut AdlCursor,
    max_lots: u64,
) -> Result<WinnerFill> {
    let n = cursor.to_fill.min(standing.lots.unsigned_abs()).min(max_lots);
    if n == 0 {
        return Ok(WinnerFill::Skipped);
    }
    let spec = &context.spec;
    let share = haircut_for_fill(cursor.uncovered_left, n, cursor.remaining_lots).map_err(crate::math_err)?;
    let target_signed_lots =
        if context.target_is_long { cursor.remaining_lots as i64 } else { -(cursor.remaining_lots as i64) };
    let oracle_quote =
        marginal_close_value(target_signed_lots, n, context.price, spec).map_err(crate::math_err)? as u128;
    let profit_cap = profit_on_fill(standing.upnl, n, standing.lots.unsigned_abs()).map_err(crate::math_err)?;
    let haircut = capped_haircut(share, profit_cap, oracle_quote, context.target_is_long);
    // A long target sells above the oracle value, a short one buys below it.
    let quote = if context.target_is_long {
        oracle_quote.safe_add(haircut).map_err(crate::math_err)?
    } else {
        oracle_quote.safe_sub(haircut).map_err(crate::math_err)?
    };
    let quote = to_u64(quote as i128).map_err(crate::math_err)?;
    let winner_fill = if context.target_is_long { n as i64 } else { -(n as i64) };

    // Its equity after paying: value change of its position at the oracle minus cash.
    let value_after = base_value(standing.lots + winner_fill, context.price, spec).map_err(crate::math_err)?;
    let cash = if winner_fill > 0 { -(quote as i128) } else { quote as i128 };
    let equity_after = standing.equity + (value_after - standing.value) + cash;
    if equity_after < 0 {
        emit_event(AdlCounterpartySkippedV1 {
            target: context.target,
            counterparty: winner_key,
            score: standing.score,
        });
        return Ok(WinnerFill::Skipped);
    }

    let target_fill = fill_account(target, target_slot, -winner_fill, quote, 0)?;
    let their_fill = fill_account(winner, standing.slot, winner_fill, quote, 0)?;
    record_open_interest(market, target_fill.base_lots_before, target_fill.base_lots_after)?;
    record_open_interest(market, their_fill.base_lots_before, their_fill.base_lots_after)?;

    if haircut < share {
        emit_event(AdlHaircutCappedV1 {
            target: context.target,
            counterparty: winner_key,
            share: to_u64(share as i128).map_err(crate::math_err)?,
            haircut: to_u64(haircut as i128).map_err(crate::math_err)?,
            profit_on_fill: to_u64(profit_cap as i128).map_err(crate::math_err)?,
        });
    }
    cursor.uncovered_left -= haircut;
    cursor.remaining_lots -= n;
    cursor.to_fill -= n;
    let haircut_atoms = to_u64(haircut as i128).map_err(crate::math_err)?;
    market.adl_fill_count = market.adl_fill_count.safe_add(1).map_err(crate::math_err)?;
    market.adl_haircut_total = market.adl_haircut_total.safe_add(haircut_atoms).map_err(crate::math_err)?;
    let split = context.shortfall.split;
    emit_event(AdlFillV1 {
        clearinghouse: context.clearinghouse,
        market: context.market,
        target: context.target,
        counterparty: winner_key,
        base_lots: -winner_fill,
        oracle_price: context.price,
        quote,
        haircut: haircut_atoms,
        score: standing.score,
        deficit: to_u64(split.deficit as i128).map_err(crate::math_err)?,
        insurance_pays: to_u64(split.insurance_pays as i128).map_err(crate::math_err)?,
        uncovered: to_u64(split.uncovered as i128).map_err(crate::math_err)?,
        market_uncovered: to_u64(context.shortfall.market_uncovered as i128).map_err(crate::math_err)?,
    });
    Ok(WinnerFill::Filled { lots: n, share, haircut })
}

/// Set aside what insurance will pay of a round's deficit (its `insurance_pays`).
pub fn reserve_insurance(clearinghouse: &mut Clearinghouse, shortfall: &MarketShortfall) -> Result<()> {
    let pays = to_u64(shortfall.market_insurance_pays as i128).map_err(crate::math_err)?;
    clearinghouse.insurance_reserved = clearinghouse.insurance_reserved.safe_add(pays).map_err(crate::math_err)?;
    Ok(())
}

/// Give back what `round` had set aside (at its close, or before a restart sets it again).
pub fn release_insurance(clearinghouse: &mut Clearinghouse, round: &AdlRound) {
    clearinghouse.insurance_reserved = clearinghouse.insurance_reserved.saturating_sub(round.insurance_pays);
}

/// (Re)start `round` at `price`: freeze the target's lots and this market's `U`, empty the
/// queue and open the nomination window. Scores from an earlier price mean nothing at this one.
#[allow(clippy::too_many_arguments)]
pub fn start_round(
    round: &mut AdlRound,
    round_key: Pubkey,
    target_lots: i64,
    price: i64,
    shortfall: &MarketShortfall,
    slot: u64,
    window_slots: u64,
) -> Result<()> {
    round.price = price;
    round.target_lots = target_lots;
    round.remaining_lots = target_lots.unsigned_abs();
    round.uncovered = to_u64(shortfall.market_uncovered as i128).map_err(crate::math_err)?;
    round.uncovered_left = round.uncovered;
    round.deficit = to_u64(shortfall.split.deficit as i128).map_err(crate::math_err)?;
    round.insurance_pays = to_u64(shortfall.market_insurance_pays as i128).map_err(crate::math_err)?;
    round.window_end_slot = slot.safe_add(window_slots).map_err(crate::math_err)?;
    round.clear_queue();
    emit_event(AdlRoundOpenedV1 {
        clearinghouse: round.clearinghouse,
        market: round.market,
        target: round.target,
        round: round_key,
        price,
        target_lots,
        deficit: round.deficit,
        insurance_pays: round.insurance_pays,
        uncovered: round.uncovered,
        window_end_slot: round.window_end_slot,
        restart_count: round.restart_count,
    });
    Ok(())
}

/// The queue ran out with lots left: take nominations again.
pub fn reopen_window(round: &mut AdlRound, round_key: Pubkey, slot: u64, window_slots: u64) -> Result<()> {
    round.window_end_slot = slot.safe_add(window_slots).map_err(crate::math_err)?;
    emit_event(AdlWindowReopenedV1 {
        round: round_key,
        remaining_lots: round.remaining_lots,
        uncovered_left: round.uncovered_left,
        window_end_slot: round.window_end_slot,
    });
    Ok(())
}
