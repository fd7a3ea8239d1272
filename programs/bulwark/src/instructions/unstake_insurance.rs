use anchor_lang::prelude::*;
use anchor_spl::token::{Token, TokenAccount};

use crate::controller::vault::transfer_from_vault;
use crate::error::BulwarkError;
use crate::events::{emit_event, InsuranceUnstakedV2};
use crate::math::insurance::{redeem_amount, unstake_claim_amount};
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

/// Redeem the requested shares once the cooldown has passed and before the claim window
/// closes, at the lower of their value at the request and now: payouts during the cooldown hit
/// the leaver, income since the request stays in the vault for the stakers who remain.
/// Compute: the worst case measured on the bytecode and its budget are in `docs/compute.md`.
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
        // A request from before claim deadlines were recorded has deadline 0: it lapses here.
        require!(now <= stake.unstake_claim_deadline_unix, BulwarkError::UnstakeRequestExpired);
        // Shares can only have been added since the request, never removed. The amount is at
        // most the shares' value now, so the vault and the other stakers' value cover it.
        let request_value = stake.unstake_request_value;
        let claim_value =
            redeem_amount(shares, ch.insurance_balance, ch.insurance_total_shares).map_err(crate::math_err)?;
        let amount = unstake_claim_amount(request_value, shares, ch.insurance_balance, ch.insurance_total_shares)
            .map_err(crate::math_err)?;
        // Insurance set aside for open ADL rounds is owed: a claim whose value would need any of
        // it waits until they close (the shares keep their value, nothing is burnt for less).
        let from_available =
            unstake_claim_amount(request_value, shares, ch.insurance_available(), ch.insurance_total_shares)
                .map_err(crate::math_err)?;
        require!(from_available >= amount, BulwarkError::InsuranceReservedForAdl);
        stake.shares -= shares;
        stake.clear_unstake_request();
        ch.insurance_total_shares -= shares;
        ch.insurance_balance -= amount;
        emit_event(InsuranceUnstakedV2 {
            clearinghouse: ctx.accounts.clearinghouse.key(),
            stake: ctx.accounts.insurance_stake.key(),
            shares,
            request_value,
            claim_value,
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
