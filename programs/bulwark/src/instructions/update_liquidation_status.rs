use anchor_lang::prelude::*;

use crate::controller::pricing::{collateral_quote, health_for_liquidation, load_market_prices_under, CollateralUse};
use crate::controller::waterfall::update_liquidation_status;
use crate::error::BulwarkError;
use crate::math::oracle::PriceRule;
use crate::state::{Clearinghouse, MarginAccount};

#[derive(Accounts)]
pub struct UpdateLiquidationStatus<'info> {
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
    #[account(mut, has_one = clearinghouse @ BulwarkError::ClearinghouseMismatch)]
    pub margin_account: AccountLoader<'info, MarginAccount>,
    // remaining_accounts: (market, oracle) pairs for every market the account holds.
}

/// Permissionless: re-derive an account's liquidation flags at the current prices. Starts the
/// ADL grace clock for an account nobody liquidates, and clears a stale flag once the account
/// is back above the buffer. Fails with `LiquidationStatusUnchanged` when nothing changes.
/// Priced as a liquidation judges its target: every market by the relaxed rule, a fallback
/// collateral price accepted, bands read in the account's favour (`health_for_liquidation`),
/// so one bad feed cannot stall the clock nor start it on a healthy account.
/// Compute: the worst case measured on the bytecode and its budget are in `docs/compute.md`.
pub fn handler<'info>(ctx: Context<'info, UpdateLiquidationStatus<'info>>) -> Result<()> {
    let clock = Clock::get()?;
    let ch = ctx.accounts.clearinghouse.load()?;
    let collateral = collateral_quote(&ch, &clock, CollateralUse::RiskReducing)?;
    let (prices, _) = load_market_prices_under(
        ctx.remaining_accounts,
        &ctx.accounts.clearinghouse.key(),
        collateral,
        &clock,
        PriceRule::Relaxed,
    )?;
    let mut account = ctx.accounts.margin_account.load_mut()?;
    let account_health = health_for_liquidation(&account, &prices)?;
    let changed = update_liquidation_status(
        ctx.accounts.margin_account.key(),
        &mut account,
        &account_health,
        &ch.waterfall,
        clock.slot,
    )?;
    require!(changed, BulwarkError::LiquidationStatusUnchanged);
    Ok(())
}
