//! `propose_param_change`, `execute_param_change` and `cancel_param_change`: one file because
//! they share their accounts and the controller in `controller::params`.
use anchor_lang::prelude::*;

use crate::controller::params;
use crate::error::BulwarkError;
use crate::state::{Clearinghouse, Market, ParamChange};

#[derive(Accounts)]
pub struct AdminParamChange<'info> {
    pub admin: Signer<'info>,
    #[account(mut, has_one = admin @ BulwarkError::NotAdmin)]
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
    /// The market a `SetMarketRisk` change targets.
    #[account(mut)]
    pub market: Option<AccountLoader<'info, Market>>,
}

#[derive(Accounts)]
pub struct ExecuteParamChange<'info> {
    /// Anyone: a change that waited out its timelock needs no admin to land.
    pub executor: Signer<'info>,
    #[account(mut)]
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
    /// The market a pending `SetMarketRisk` change targets.
    #[account(mut)]
    pub market: Option<AccountLoader<'info, Market>>,
}

/// Compute: the worst case measured on the bytecode and its budget are in `docs/compute.md`.
pub fn propose(ctx: Context<AdminParamChange>, change: ParamChange) -> Result<()> {
    let key = ctx.accounts.clearinghouse.key();
    let mut ch = ctx.accounts.clearinghouse.load_mut()?;
    let mut market = ctx.accounts.market.as_ref().map(|m| m.load_mut()).transpose()?;
    params::propose(key, &mut ch, market.as_deref_mut(), change, Clock::get()?.unix_timestamp)
}

/// Compute: the worst case measured on the bytecode and its budget are in `docs/compute.md`.
pub fn execute(ctx: Context<ExecuteParamChange>) -> Result<()> {
    let key = ctx.accounts.clearinghouse.key();
    let mut ch = ctx.accounts.clearinghouse.load_mut()?;
    let mut market = ctx.accounts.market.as_ref().map(|m| m.load_mut()).transpose()?;
    params::execute(key, &mut ch, market.as_deref_mut(), Clock::get()?.unix_timestamp)
}

/// Compute: the worst case measured on the bytecode and its budget are in `docs/compute.md`.
pub fn cancel(ctx: Context<AdminParamChange>) -> Result<()> {
    let key = ctx.accounts.clearinghouse.key();
    let mut ch = ctx.accounts.clearinghouse.load_mut()?;
    params::cancel(key, &mut ch)
}
