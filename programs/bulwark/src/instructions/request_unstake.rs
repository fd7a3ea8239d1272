use anchor_lang::prelude::*;

use crate::error::BulwarkError;
use crate::events::{emit_event, UnstakeRequestedV1};
use crate::math::safe::SafeMath;
use crate::state::{Clearinghouse, InsuranceStake};

#[derive(Accounts)]
pub struct RequestUnstake<'info> {
    pub owner: Signer<'info>,
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
    #[account(
        mut,
        has_one = clearinghouse @ BulwarkError::ClearinghouseMismatch,
        has_one = owner @ BulwarkError::NotOwner,
    )]
    pub insurance_stake: AccountLoader<'info, InsuranceStake>,
}

/// Ask to take `shares` out after the cooldown. A new request replaces the old one and
/// restarts the cooldown. The shares stay at risk until `unstake`, which must come within
/// `UNSTAKE_CLAIM_WINDOW_SECONDS` after the cooldown.
pub fn handler(ctx: Context<RequestUnstake>, shares: u64) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let ch = ctx.accounts.clearinghouse.load()?;
    let cooldown = ch.waterfall.insurance_unstake_cooldown_seconds;
    let mut stake = ctx.accounts.insurance_stake.load_mut()?;
    stake.sync_epoch(ch.insurance_share_epoch);
    require!(shares > 0 && shares <= stake.shares, BulwarkError::InvalidUnstakeRequest);
    stake.unstake_request_shares = shares;
    stake.unstake_available_unix = now.safe_add(cooldown).map_err(crate::math_err)?;
    emit_event(UnstakeRequestedV1 {
        stake: ctx.accounts.insurance_stake.key(),
        shares,
        available_unix: stake.unstake_available_unix,
    });
    Ok(())
}
