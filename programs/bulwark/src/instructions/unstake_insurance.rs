use anchor_lang::prelude::*;
use anchor_spl::token::{Token, TokenAccount};

use crate::constants::UNSTAKE_CLAIM_WINDOW_SECONDS;
use crate::controller::vault::transfer_from_vault;
use crate::error::BulwarkError;
use crate::events::{emit_event, InsuranceUnstakedV1};
use crate::math::insurance::redeem_amount;
use crate::state::{Clearinghouse, InsuranceStake};

#[derive(Accounts)]
pub struct UnstakeInsurance<'info> {
    pub owner: Signer<'info>,
    #[account(mut)]
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
    #[account(
        mut,
        has_one = clearinghouse @ BulwarkError::ClearinghouseMismatch,
        has_one = owner @ BulwarkError::NotOwner,
    )]
    pub insurance_stake: AccountLoader<'info, InsuranceStake>,
    #[account(mut, address = clearinghouse.load()?.insurance_vault @ BulwarkError::VaultMismatch)]
    pub insurance_vault: Box<Account<'info, TokenAccount>>,
    #[account(
        mut,
        constraint = destination.mint == clearinghouse.load()?.collateral_mint @ BulwarkError::CollateralMintMismatch,
        constraint = destination.key() != clearinghouse.load()?.collateral_vault @ BulwarkError::DuplicateAccount,
        constraint = destination.key() != insurance_vault.key() @ BulwarkError::DuplicateAccount,
    )]
    pub destination: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

/// Redeem the requested shares once the cooldown has passed, at the share value now (payouts
/// during the cooldown count).
/// Compute estimate: ~14k CU (one token CPI).
pub fn handler(ctx: Context<UnstakeInsurance>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let amount = {
        let mut ch = ctx.accounts.clearinghouse.load_mut()?;
        require!(!ch.is_paused(), BulwarkError::ClearinghousePaused);
        let mut stake = ctx.accounts.insurance_stake.load_mut()?;
        stake.sync_epoch(ch.insurance_share_epoch);
        let shares = stake.unstake_request_shares;
        require!(shares > 0, BulwarkError::NoUnstakeRequest);
        require!(now >= stake.unstake_available_unix, BulwarkError::UnstakeCooldownActive);
        require!(
            now <= stake.unstake_available_unix.saturating_add(UNSTAKE_CLAIM_WINDOW_SECONDS),
            BulwarkError::UnstakeRequestExpired
        );
        // Shares can only have been added since the request, never removed.
        let amount = redeem_amount(shares, ch.insurance_balance, ch.insurance_total_shares).map_err(crate::math_err)?;
        stake.shares -= shares;
        stake.unstake_request_shares = 0;
        stake.unstake_available_unix = 0;
        ch.insurance_total_shares -= shares;
        ch.insurance_balance -= amount;
        emit_event(InsuranceUnstakedV1 {
            clearinghouse: ctx.accounts.clearinghouse.key(),
            stake: ctx.accounts.insurance_stake.key(),
            shares,
            amount,
            total_shares: ch.insurance_total_shares,
            insurance_balance: ch.insurance_balance,
        });
        amount
    };
    if amount == 0 {
        return Ok(());
    }
    transfer_from_vault(
        &ctx.accounts.token_program.to_account_info(),
        &ctx.accounts.clearinghouse,
        ctx.accounts.insurance_vault.to_account_info(),
        ctx.accounts.destination.to_account_info(),
        amount,
    )
}
