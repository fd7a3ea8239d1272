//! `sweep_fees`: the fee pool's one destination is the insurance vault.
use anchor_lang::prelude::*;
use anchor_spl::token::{Token, TokenAccount};

use crate::controller::vault::transfer_from_vault;
use crate::error::BulwarkError;
use crate::events::{emit_event, FeesSweptV1};
use crate::math::safe::SafeMath;
use crate::state::Clearinghouse;

#[derive(Accounts)]
pub struct SweepFees<'info> {
    /// Anyone: the tokens can only go from this clearinghouse's collateral vault to its own
    /// insurance vault.
    #[account(mut)]
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
    #[account(mut, address = clearinghouse.load()?.collateral_vault @ BulwarkError::VaultMismatch)]
    pub collateral_vault: Box<Account<'info, TokenAccount>>,
    #[account(mut, address = clearinghouse.load()?.insurance_vault @ BulwarkError::VaultMismatch)]
    pub insurance_vault: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

/// Move the whole fee pool into the insurance vault, where it backs deficits and accrues to
/// the stakers. Only `fee_pool` moves, so no margin account's collateral is touched.
/// Compute: the worst case measured on the bytecode and its budget are in `docs/compute.md`.
pub fn handler(ctx: Context<SweepFees>) -> Result<()> {
    let amount = {
        let mut ch = ctx.accounts.clearinghouse.load_mut()?;
        require!(!ch.is_paused(), BulwarkError::ClearinghousePaused);
        let amount = ch.fee_pool;
        require!(amount > 0, BulwarkError::FeePoolEmpty);
        ch.fee_pool = 0;
        ch.insurance_balance = ch.insurance_balance.safe_add(amount).map_err(crate::math_err)?;
        emit_event(FeesSweptV1 {
            clearinghouse: ctx.accounts.clearinghouse.key(),
            amount,
            insurance_balance: ch.insurance_balance,
        });
        amount
    };
    transfer_from_vault(
        &ctx.accounts.token_program.to_account_info(),
        &ctx.accounts.clearinghouse,
        ctx.accounts.collateral_vault.to_account_info(),
        ctx.accounts.insurance_vault.to_account_info(),
        amount,
    )
}
