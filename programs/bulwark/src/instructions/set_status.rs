//! `pause` / `unpause`: the guardian's clearinghouse-wide powers. Time spent paused does not
//! count toward a pending parameter change's timelock.
use anchor_lang::prelude::*;

use crate::controller::params;
use crate::error::BulwarkError;
use crate::events::{emit_event, ClearinghouseStatusChangedV1};
use crate::state::{Clearinghouse, CLEARINGHOUSE_ACTIVE, CLEARINGHOUSE_PAUSED};

#[derive(Accounts)]
pub struct GuardianSetStatus<'info> {
    pub guardian: Signer<'info>,
    #[account(mut, has_one = guardian @ BulwarkError::NotGuardian)]
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
}

/// Compute: the worst case measured on the bytecode and its budget are in `docs/compute.md`.
pub fn handler(ctx: Context<GuardianSetStatus>, paused: bool) -> Result<()> {
    let status = if paused { CLEARINGHOUSE_PAUSED } else { CLEARINGHOUSE_ACTIVE };
    let now = Clock::get()?.unix_timestamp;
    let key = ctx.accounts.clearinghouse.key();
    let mut ch = ctx.accounts.clearinghouse.load_mut()?;
    require!(ch.status != status, BulwarkError::StatusUnchanged);
    ch.status = status;
    if paused {
        params::on_pause(&mut ch, now);
    } else {
        params::on_unpause(key, &mut ch, now)?;
    }
    emit_event(ClearinghouseStatusChangedV1 { clearinghouse: key, status, by: ctx.accounts.guardian.key() });
    Ok(())
}
