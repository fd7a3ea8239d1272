//! `propose_param_change`, `execute_param_change` and `cancel_param_change`: one file because
//! they share their accounts and the controller in `controller::params`.
use anchor_lang::prelude::*;

use crate::controller::params;
use crate::error::BulwarkError;
use crate::state::{Clearinghouse, ParamChange};

#[derive(Accounts)]
pub struct AdminParamChange<'info> {
    pub admin: Signer<'info>,
    #[account(mut, has_one = admin @ BulwarkError::NotAdmin)]
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
}

#[derive(Accounts)]
pub struct ExecuteParamChange<'info> {
    /// Anyone: a change that waited out its timelock needs no admin to land.
    pub executor: Signer<'info>,
    #[account(mut)]
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
}

/// Compute estimate: ~6k CU (Borsh encode of ≤ 256 bytes).
pub fn propose(ctx: Context<AdminParamChange>, change: ParamChange) -> Result<()> {
    let key = ctx.accounts.clearinghouse.key();
    let mut ch = ctx.accounts.clearinghouse.load_mut()?;
    params::propose(key, &mut ch, change, Clock::get()?.unix_timestamp)
}

/// Compute estimate: ~6k CU.
pub fn execute(ctx: Context<ExecuteParamChange>) -> Result<()> {
    let key = ctx.accounts.clearinghouse.key();
    let mut ch = ctx.accounts.clearinghouse.load_mut()?;
    params::execute(key, &mut ch, Clock::get()?.unix_timestamp)
}

/// Compute estimate: ~4k CU.
pub fn cancel(ctx: Context<AdminParamChange>) -> Result<()> {
    let key = ctx.accounts.clearinghouse.key();
    let mut ch = ctx.accounts.clearinghouse.load_mut()?;
    params::cancel(key, &mut ch)
}
