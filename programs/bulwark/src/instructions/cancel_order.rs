//! `cancel_order`, `cancel_all_orders` (owner or delegate) and `prune_expired_orders` (anyone).
use anchor_lang::prelude::*;

use crate::constants::MAX_PRUNES_PER_CALL;
use crate::controller::orders;
use crate::error::BulwarkError;
use crate::events::CANCEL_REASON_USER;
use crate::state::{Clearinghouse, MarginAccount, Market, OrderBook};

#[derive(Accounts)]
pub struct CancelOrders<'info> {
    pub authority: Signer<'info>,
    #[account(mut, constraint = margin_account.load()?.clearinghouse == market.load()?.clearinghouse @ BulwarkError::MarketMismatch)]
    pub margin_account: AccountLoader<'info, MarginAccount>,
    #[account(has_one = order_book @ BulwarkError::MarketMismatch)]
    pub market: AccountLoader<'info, Market>,
    #[account(mut)]
    pub order_book: AccountLoader<'info, OrderBook>,
}

/// Cancelling never raises risk, so it works in any market status.
/// Compute: the worst case measured on the bytecode and its budget are in `docs/compute.md`.
pub fn cancel(ctx: Context<CancelOrders>, order_id: Option<u64>) -> Result<()> {
    let account_key = ctx.accounts.margin_account.key();
    let mut account = ctx.accounts.margin_account.load_mut()?;
    require!(account.is_owner_or_delegate(ctx.accounts.authority.key), BulwarkError::NotOwnerOrDelegate);
    let market = ctx.accounts.market.load()?;
    let mut book = ctx.accounts.order_book.load_mut()?;
    orders::cancel_orders(
        ctx.accounts.market.key(),
        account_key,
        &mut account,
        &market,
        &mut book,
        order_id,
        CANCEL_REASON_USER,
    )?;
    Ok(())
}

#[derive(Accounts)]
pub struct PruneExpiredOrders<'info> {
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
    #[account(has_one = clearinghouse @ BulwarkError::MarketMismatch, has_one = order_book @ BulwarkError::MarketMismatch)]
    pub market: AccountLoader<'info, Market>,
    #[account(mut)]
    pub order_book: AccountLoader<'info, OrderBook>,
    // remaining_accounts: the makers of the orders to prune, in book order (bids, then asks).
}

/// Remove up to `MAX_PRUNES_PER_CALL` (8) orders that are expired or rest outside the resting
/// band around the oracle TWAP (oracle ± `RESTING_BAND_FILL_BANDS` fill bands): anyone may
/// clear a book of orders the price has left behind. Compute: see `docs/compute.md`.
pub fn prune<'info>(ctx: Context<'info, PruneExpiredOrders<'info>>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let market = ctx.accounts.market.load()?;
    let mut book = ctx.accounts.order_book.load_mut()?;
    orders::prune_expired(
        ctx.accounts.market.key(),
        market.clearinghouse,
        &market,
        &mut book,
        ctx.remaining_accounts,
        now,
        ctx.accounts.clearinghouse.load()?.waterfall.max_fill_deviation_bps,
        MAX_PRUNES_PER_CALL,
    )?;
    Ok(())
}
