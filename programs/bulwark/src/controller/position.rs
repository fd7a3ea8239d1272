//! Position bookkeeping on a margin account: slots, cash, funding, fills and order reserves.

use anchor_lang::prelude::*;

use crate::constants::{MAX_OPEN_ORDERS_PER_MARKET, MAX_POSITIONS};
use crate::error::BulwarkError;
use crate::math::perp::{apply_fill, funding_owed};
use crate::math::safe::{to_i64, SafeMath};
use crate::state::{MarginAccount, Market, PerpPosition, SIDE_BID};

pub fn find_position(account: &MarginAccount, market_index: u16) -> Option<usize> {
    account.positions.iter().position(|p| !p.is_empty() && p.market_index == market_index)
}

/// The account's slot for `market`, allocating a free one (funding index set to now).
pub fn position_index(account: &mut MarginAccount, market: &Market) -> Result<usize> {
    if let Some(i) = find_position(account, market.index) {
        return Ok(i);
    }
    let i = account.positions.iter().position(|p| p.is_empty()).ok_or(BulwarkError::TooManyPositions)?;
    debug_assert!(i < MAX_POSITIONS);
    account.positions[i] = PerpPosition {
        market_index: market.index,
        last_cumulative_funding: market.cumulative_funding_per_lot,
        ..PerpPosition::default()
    };
    Ok(i)
}

/// Move `amount` of cash into (positive) or out of (negative) the account. A debit larger than
/// the balance leaves the rest on the position's quote as a debt, so no atom is lost; the margin
/// math counts it and the waterfall settles it.
pub fn apply_cash(account: &mut MarginAccount, slot: usize, amount: i128) -> Result<()> {
    if amount >= 0 {
        let credit = crate::math::safe::to_u64(amount).map_err(crate::math_err)?;
        account.collateral_balance = account.collateral_balance.safe_add(credit).map_err(crate::math_err)?;
        return Ok(());
    }
    let owed = amount.unsigned_abs();
    let taken = owed.min(account.collateral_balance as u128) as u64;
    account.collateral_balance -= taken;
    let residual = owed - taken as u128;
    if residual > 0 {
        let position = &mut account.positions[slot];
        position.quote_entry =
            to_i64((position.quote_entry as i128).safe_sub(residual as i128).map_err(crate::math_err)?)
                .map_err(crate::math_err)?;
    }
    Ok(())
}

/// Settle funding accrued since the slot's last settlement; returns the amount (+ received).
pub fn settle_funding(account: &mut MarginAccount, slot: usize, market: &Market) -> Result<i128> {
    let position = account.positions[slot];
    let now = market.cumulative_funding_per_lot.get();
    let owed =
        funding_owed(position.base_lots, now, position.last_cumulative_funding.get()).map_err(crate::math_err)?;
    account.positions[slot].last_cumulative_funding.set(now);
    if owed != 0 {
        apply_cash(account, slot, owed)?;
    }
    Ok(owed)
}

/// What one fill did to one account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountFill {
    pub base_lots_before: i64,
    pub base_lots_after: i64,
    pub realized_pnl: i128,
}

/// Apply a fill of `signed_lots` (buy > 0) for `quote` atoms and charge `fee` (negative: rebate).
pub fn fill_account(
    account: &mut MarginAccount,
    slot: usize,
    signed_lots: i64,
    quote: u64,
    fee: i128,
) -> Result<AccountFill> {
    let position = account.positions[slot];
    let cash = if signed_lots > 0 { -(quote as i128) } else { quote as i128 };
    let effect =
        apply_fill(position.base_lots, position.quote_entry, signed_lots, to_i64(cash).map_err(crate::math_err)?)
            .map_err(crate::math_err)?;
    account.positions[slot].base_lots = effect.base_lots_after;
    account.positions[slot].quote_entry = effect.quote_entry_after;
    let net = effect.realized_pnl.safe_sub(fee).map_err(crate::math_err)?;
    apply_cash(account, slot, net)?;
    Ok(AccountFill {
        base_lots_before: position.base_lots,
        base_lots_after: effect.base_lots_after,
        realized_pnl: effect.realized_pnl,
    })
}

/// Reserve a resting order's size.
pub fn reserve_order(position: &mut PerpPosition, side: u8, lots: u64) -> Result<()> {
    require!(position.open_order_count < MAX_OPEN_ORDERS_PER_MARKET, BulwarkError::TooManyOpenOrders);
    let lots = to_i64(lots).map_err(crate::math_err)?;
    if side == SIDE_BID {
        position.open_bid_lots = position.open_bid_lots.safe_add(lots).map_err(crate::math_err)?;
    } else {
        position.open_ask_lots = position.open_ask_lots.safe_add(lots).map_err(crate::math_err)?;
    }
    position.open_order_count += 1;
    Ok(())
}

/// Release `lots` of a resting order's reserve; `order_gone` when the order left the book.
pub fn release_order(position: &mut PerpPosition, side: u8, lots: u64, order_gone: bool) {
    let lots = lots.min(i64::MAX as u64) as i64;
    if side == SIDE_BID {
        position.open_bid_lots = position.open_bid_lots.saturating_sub(lots).max(0);
    } else {
        position.open_ask_lots = position.open_ask_lots.saturating_sub(lots).max(0);
    }
    if order_gone {
        position.open_order_count = position.open_order_count.saturating_sub(1);
    }
}

/// Lots a reduce-only order on `side` may still fill: up to the position's size, in the
/// closing direction only.
pub fn reducible_lots(position: &PerpPosition, side: u8) -> u64 {
    match (side == SIDE_BID, position.base_lots) {
        (true, b) if b < 0 => b.unsigned_abs(),
        (false, b) if b > 0 => b as u64,
        _ => 0,
    }
}
