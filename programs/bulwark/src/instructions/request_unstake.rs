use anchor_lang::prelude::*;

use crate::error::BulwarkError;
use crate::events::{emit_event, UnstakeRequestedV2};
use crate::math::insurance::{redeem_amount, unstake_claim_window_seconds};
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

/// Ask to take `shares` out after the cooldown, for at most what they are worth now. A new
/// request replaces the old one: it restarts the cooldown and is priced afresh. The shares stay
/// at risk until `unstake`, which must come within the claim window after the cooldown (a short
/// window, at most a quarter of the cooldown).
pub fn handler(ctx: Context<RequestUnstake>, shares: u64) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let ch = ctx.accounts.clearinghouse.load()?;
    let cooldown = ch.waterfall.insurance_unstake_cooldown_seconds;
    let mut stake = ctx.accounts.insurance_stake.load_mut()?;
    stake.sync_epoch(ch.insurance_share_epoch);
    require!(shares > 0 && shares <= stake.shares, BulwarkError::InvalidUnstakeRequest);
    stake.unstake_request_shares = shares;
    stake.unstake_request_value =
        redeem_amount(shares, ch.insurance_balance, ch.insurance_total_shares).map_err(crate::math_err)?;
    stake.unstake_available_unix = now.safe_add(cooldown).map_err(crate::math_err)?;
    stake.unstake_claim_deadline_unix =
        stake.unstake_available_unix.safe_add(unstake_claim_window_seconds(cooldown)).map_err(crate::math_err)?;
    emit_event(UnstakeRequestedV2 {
        stake: ctx.accounts.insurance_stake.key(),
        shares,
        request_value: stake.unstake_request_value,
        available_unix: stake.unstake_available_unix,
        claim_deadline_unix: stake.unstake_claim_deadline_unix,
    });
    Ok(())
}
