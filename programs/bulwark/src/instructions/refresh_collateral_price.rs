use anchor_lang::prelude::*;

use crate::controller::collateral_oracle::{refresh_collateral_price, CollateralFeeds};
use crate::math::oracle::OracleTolerance;
use crate::state::Clearinghouse;

#[derive(Accounts)]
pub struct RefreshCollateralPrice<'info> {
    #[account(mut)]
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
    /// CHECK: checked against the configured feed key and its source's owner program.
    pub market_feed: Option<UncheckedAccount<'info>>,
    /// CHECK: checked against the configured redemption-rate feed and this program as owner.
    pub redemption_rate_feed: Option<UncheckedAccount<'info>>,
    /// CHECK: checked against the configured redemption-health feed and this program as owner.
    pub redemption_health_feed: Option<UncheckedAccount<'info>>,
}

/// Permissionless: read the collateral price with the strict tolerance, record it and the
/// redemption mode (the keeper cranks this so the hard-band clock sees every minute). An
/// unusable market print records a fallback instead of failing (the soft floor in healthy
/// redemption mode, else the last good price up to 15 minutes old; see
/// `controller::collateral_oracle::read_collateral_price`).
/// Compute: the worst case measured on the bytecode and its budget are in `docs/compute.md`.
pub fn handler(ctx: Context<RefreshCollateralPrice>) -> Result<()> {
    let key = ctx.accounts.clearinghouse.key();
    let mut ch = ctx.accounts.clearinghouse.load_mut()?;
    let feeds = CollateralFeeds {
        market: ctx.accounts.market_feed.as_ref().map(|a| a.as_ref()),
        redemption_rate: ctx.accounts.redemption_rate_feed.as_ref().map(|a| a.as_ref()),
        redemption_health: ctx.accounts.redemption_health_feed.as_ref().map(|a| a.as_ref()),
    };
    refresh_collateral_price(key, &mut ch, feeds, &Clock::get()?, OracleTolerance::STRICT)?;
    Ok(())
}
