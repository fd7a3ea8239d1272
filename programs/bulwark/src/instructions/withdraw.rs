use anchor_lang::prelude::*;
use anchor_spl::token::{self, Token, TokenAccount, Transfer};

use crate::constants::CLEARINGHOUSE_SEED;
use crate::controller::collateral::{debit_withdrawal, position_valuations};
use crate::error::BulwarkError;
use crate::events::{emit_event, WithdrawV1};
use crate::state::{Clearinghouse, MarginAccount};

#[derive(Accounts)]
pub struct Withdraw<'info> {
    /// Only the owner may withdraw; a delegate never can.
    pub owner: Signer<'info>,
    #[account(mut)]
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
    #[account(
        mut,
        has_one = clearinghouse @ BulwarkError::ClearinghouseMismatch,
        has_one = owner @ BulwarkError::NotOwner,
    )]
    pub margin_account: AccountLoader<'info, MarginAccount>,
    #[account(mut, address = clearinghouse.load()?.collateral_vault @ BulwarkError::VaultMismatch)]
    pub collateral_vault: Box<Account<'info, TokenAccount>>,
    #[account(
        mut,
        constraint = destination.mint == clearinghouse.load()?.collateral_mint @ BulwarkError::CollateralMintMismatch,
        // A vault-to-vault "withdrawal" would debit the balance and strand the tokens.
        constraint = destination.key() != collateral_vault.key() @ BulwarkError::DuplicateAccount,
        constraint = destination.key() != clearinghouse.load()?.insurance_vault @ BulwarkError::DuplicateAccount,
    )]
    pub destination: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

/// Compute estimate: ~15k CU plus ~3k per open position valued (≤ 8, `MAX_POSITIONS`).
pub fn handler(ctx: Context<Withdraw>, amount: u64) -> Result<()> {
    let clock = Clock::get()?;
    let clearinghouse_key = ctx.accounts.clearinghouse.key();
    let (balance_after, net_outflow, mint, id, bump) = {
        let mut ch = ctx.accounts.clearinghouse.load_mut()?;
        require!(!ch.is_paused(), BulwarkError::ClearinghousePaused);
        let mut account = ctx.accounts.margin_account.load_mut()?;
        let positions = position_valuations(&account)?;
        let (balance_after, net_outflow) = debit_withdrawal(&mut ch, &mut account, amount, &positions, &clock)?;
        (balance_after, net_outflow, ch.collateral_mint, ch.id, ch.bump)
    };

    let id_bytes = id.to_le_bytes();
    let seeds: &[&[u8]] = &[CLEARINGHOUSE_SEED, mint.as_ref(), &id_bytes, &[bump]];
    token::transfer(
        CpiContext::new_with_signer(
            ctx.accounts.token_program.key(),
            Transfer {
                from: ctx.accounts.collateral_vault.to_account_info(),
                to: ctx.accounts.destination.to_account_info(),
                authority: ctx.accounts.clearinghouse.to_account_info(),
            },
            &[seeds],
        ),
        amount,
    )?;

    emit_event(WithdrawV1 {
        clearinghouse: clearinghouse_key,
        margin_account: ctx.accounts.margin_account.key(),
        amount,
        balance_after,
        window_net_outflow: net_outflow,
    });
    Ok(())
}
