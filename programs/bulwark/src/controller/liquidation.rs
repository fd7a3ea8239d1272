//! The steps both liquidation paths share (DESIGN.md §7.1): check the account is liquidatable,
//! cancel its orders in the market, size the close; afterwards settle any deficit and refresh
//! the account's liquidation flags.

use anchor_lang::prelude::*;

use crate::controller::orders::cancel_orders;
use crate::controller::position::{find_position, settle_funding};
use crate::controller::pricing::{health_for_liquidation, MarketPrice};
use crate::controller::waterfall::{cover_flat_deficit, is_flat, require_coverable, update_liquidation_status};
use crate::error::BulwarkError;
use crate::events::CANCEL_REASON_LIQUIDATION;
use crate::math::liquidation::{is_liquidatable, liquidation_lots};
use crate::math::margin::Health;
use crate::math::perp::base_value;
use crate::state::{Clearinghouse, MarginAccount, Market, OrderBook, ACCOUNT_FLAG_BEING_LIQUIDATED};

/// A liquidation about to happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiquidationPlan {
    /// The account's slot for the market.
    pub slot: usize,
    /// The position before the close.
    pub base_lots: i64,
    pub health_before: Health,
    /// Lots to close.
    pub lots: u64,
}

impl LiquidationPlan {
    /// The close as a signed fill of the liquidated account (a sale of a long is negative).
    pub fn signed_close(&self) -> i64 {
        let lots = self.lots as i64;
        if self.base_lots > 0 {
            -lots
        } else {
            lots
        }
    }
}

/// Settle funding, cancel the account's orders in `market`, check it may be liquidated and size
/// the close (at most `max_lots` when that is non-zero) for a close costing at worst
/// `close_cost_bps` of its notional. `prices` must include every market the account holds.
#[allow(clippy::too_many_arguments)]
pub fn plan_liquidation(
    market_key: Pubkey,
    account_key: Pubkey,
    account: &mut MarginAccount,
    market: &Market,
    book: &mut OrderBook,
    prices: &[MarketPrice],
    buffer_bps: u32,
    close_cost_bps: u32,
    max_lots: u64,
) -> Result<LiquidationPlan> {
    let slot = find_position(account, market.index).ok_or(BulwarkError::NoPositionInMarket)?;
    let base_lots = account.positions[slot].base_lots;
    require!(base_lots != 0, BulwarkError::NoPositionInMarket);
    settle_funding(account, slot, market)?;

    let health_before = health_for_liquidation(account, prices)?;
    let flagged = account.status_flags & ACCOUNT_FLAG_BEING_LIQUIDATED != 0;
    require!(
        is_liquidatable(&health_before, flagged, buffer_bps).map_err(crate::math_err)?,
        BulwarkError::AccountNotLiquidatable
    );
    cancel_orders(market_key, account_key, account, market, book, None, CANCEL_REASON_LIQUIDATION)?;

    let price = prices.iter().find(|p| p.index == market.index).ok_or(BulwarkError::MissingMarketAccount)?;
    let notional = base_value(base_lots, price.price, &price.spec).map_err(crate::math_err)?.abs();
    let mut lots = liquidation_lots(
        &health_before,
        buffer_bps,
        base_lots.unsigned_abs(),
        notional,
        market.params.maintenance_margin_bps,
        close_cost_bps,
    )
    .map_err(crate::math_err)?;
    if max_lots > 0 {
        lots = lots.min(max_lots);
    }
    require!(lots > 0, BulwarkError::AccountNotLiquidatable);
    Ok(LiquidationPlan { slot, base_lots, health_before, lots })
}

/// After the close: a flat account's deficit is paid by insurance; an account that still holds
/// positions may not be left with a deficit insurance could not pay; the flags follow health.
/// Returns the health after and the insurance payout.
pub fn finish_liquidation(
    clearinghouse_key: Pubkey,
    clearinghouse: &mut Clearinghouse,
    account_key: Pubkey,
    account: &mut MarginAccount,
    prices: &[MarketPrice],
    slot: u64,
) -> Result<(Health, u64)> {
    let payout = cover_flat_deficit(clearinghouse_key, clearinghouse, account_key, account)?;
    let after = health_for_liquidation(account, prices)?;
    // A liquidation has started: it continues until the account is back above the buffer.
    account.status_flags |= ACCOUNT_FLAG_BEING_LIQUIDATED;
    if !is_flat(account) {
        require_coverable(clearinghouse, &after)?;
    }
    update_liquidation_status(account_key, account, &after, &clearinghouse.waterfall, slot)?;
    Ok((after, payout))
}
