//! `activate_market` (anyone, after the listing timelock) and `set_market_status` (guardian).
use anchor_lang::prelude::*;

use crate::controller::params;
use crate::error::BulwarkError;
use crate::events::{emit_event, MarketStatusChangedV1};
use crate::state::{
    Clearinghouse, Market, MARKET_STATUS_ACTIVE, MARKET_STATUS_PAUSED, MARKET_STATUS_PENDING, MARKET_STATUS_REDUCE_ONLY,
};

#[derive(Accounts)]
pub struct ActivateMarket<'info> {
    #[account(mut)]
    pub market: AccountLoader<'info, Market>,
}

/// Compute: the worst case measured on the bytecode and its budget are in `docs/compute.md`.
pub fn activate(ctx: Context<ActivateMarket>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let mut market = ctx.accounts.market.load_mut()?;
    require!(market.status == MARKET_STATUS_PENDING, BulwarkError::MarketNotPending);
    require!(now >= market.activates_unix, BulwarkError::TimelockNotElapsed);
    market.status = MARKET_STATUS_ACTIVE;
    market.last_funding_unix = now;
    emit_event(MarketStatusChangedV1 { market: ctx.accounts.market.key(), status: MARKET_STATUS_ACTIVE });
    Ok(())
}

#[derive(Accounts)]
pub struct SetMarketStatus<'info> {
    pub guardian: Signer<'info>,
    /// Writable: a pending change to this market is delayed by the time the market is paused.
    #[account(mut, has_one = guardian @ BulwarkError::NotGuardian)]
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
    #[account(mut, has_one = clearinghouse @ BulwarkError::MarketMismatch)]
    pub market: AccountLoader<'info, Market>,
}

/// The guardian moves a listed market between active, reduce-only and paused. Time a market
/// spends paused does not count toward a pending change to it.
/// Compute: the worst case measured on the bytecode and its budget are in `docs/compute.md`.
pub fn set_status(ctx: Context<SetMarketStatus>, status: u8) -> Result<()> {
    require!(
        matches!(status, MARKET_STATUS_ACTIVE | MARKET_STATUS_REDUCE_ONLY | MARKET_STATUS_PAUSED),
        BulwarkError::InvalidParameter
    );
    let now = Clock::get()?.unix_timestamp;
    let mut market = ctx.accounts.market.load_mut()?;
    require!(market.status != MARKET_STATUS_PENDING, BulwarkError::MarketNotActive);
    require!(market.status != status, BulwarkError::StatusUnchanged);
    let previous = market.status;
    market.status = status;
    let mut ch = ctx.accounts.clearinghouse.load_mut()?;
    params::on_market_status(ctx.accounts.clearinghouse.key(), &mut ch, &market, previous, now)?;
    emit_event(MarketStatusChangedV1 { market: ctx.accounts.market.key(), status });
    Ok(())
}
