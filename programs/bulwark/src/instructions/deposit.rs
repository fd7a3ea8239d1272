use anchor_lang::prelude::*;
use anchor_spl::token::{self, Token, TokenAccount, Transfer};

use crate::controller::collateral::credit_deposit;
use crate::error::BulwarkError;
use crate::events::{emit_event, DepositV1};
use crate::state::{Clearinghouse, MarginAccount};

#[derive(Accounts)]
pub struct Deposit<'info> {
    /// The owner or the delegate; the tokens come from this signer's token account.
    pub authority: Signer<'info>,
    #[account(mut)]
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
    #[account(mut, has_one = clearinghouse @ BulwarkError::ClearinghouseMismatch)]
    pub margin_account: AccountLoader<'info, MarginAccount>,
    #[account(mut, address = clearinghouse.load()?.collateral_vault @ BulwarkError::VaultMismatch)]
    pub collateral_vault: Box<Account<'info, TokenAccount>>,
    #[account(mut, constraint = source.mint == clearinghouse.load()?.collateral_mint @ BulwarkError::CollateralMintMismatch)]
    pub source: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

/// Compute: the worst case measured on the bytecode and its budget are in `docs/compute.md`.
pub fn handler(ctx: Context<Deposit>, amount: u64) -> Result<()> {
    let clock = Clock::get()?;
    let clearinghouse_key = ctx.accounts.clearinghouse.key();
    let balance_after = {
        let mut ch = ctx.accounts.clearinghouse.load_mut()?;
        require!(!ch.is_paused(), BulwarkError::ClearinghousePaused);
        let mut account = ctx.accounts.margin_account.load_mut()?;
        require!(account.is_owner_or_delegate(ctx.accounts.authority.key), BulwarkError::NotOwnerOrDelegate);
        credit_deposit(&mut ch, &mut account, amount, &clock)?
    };

    token::transfer(
        CpiContext::new(
            ctx.accounts.token_program.key(),
            Transfer {
                from: ctx.accounts.source.to_account_info(),
                to: ctx.accounts.collateral_vault.to_account_info(),
                authority: ctx.accounts.authority.to_account_info(),
            },
        ),
        amount,
    )?;

    emit_event(DepositV1 {
        clearinghouse: clearinghouse_key,
        margin_account: ctx.accounts.margin_account.key(),
        depositor: ctx.accounts.authority.key(),
        amount,
        balance_after,
    });
    Ok(())
}
