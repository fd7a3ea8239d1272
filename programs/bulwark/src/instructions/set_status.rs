//! `pause` / `unpause`: the guardian's only powers.
use anchor_lang::prelude::*;

use crate::error::BulwarkError;
use crate::events::{emit_event, ClearinghouseStatusChangedV1};
use crate::state::{Clearinghouse, CLEARINGHOUSE_ACTIVE, CLEARINGHOUSE_PAUSED};

#[derive(Accounts)]
pub struct GuardianSetStatus<'info> {
    pub guardian: Signer<'info>,
    #[account(mut, has_one = guardian @ BulwarkError::NotGuardian)]
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
}

/// Compute estimate: ~3k CU.
pub fn handler(ctx: Context<GuardianSetStatus>, paused: bool) -> Result<()> {
    let status = if paused { CLEARINGHOUSE_PAUSED } else { CLEARINGHOUSE_ACTIVE };
    let mut ch = ctx.accounts.clearinghouse.load_mut()?;
    require!(ch.status != status, BulwarkError::StatusUnchanged);
    ch.status = status;
    emit_event(ClearinghouseStatusChangedV1 {
        clearinghouse: ctx.accounts.clearinghouse.key(),
        status,
        by: ctx.accounts.guardian.key(),
    });
    Ok(())
}
