use anchor_lang::prelude::*;
use anchor_spl::token::{Token, TokenAccount};

use crate::controller::collateral::debit_withdrawal;
use crate::controller::pricing::{collateral_price, health, load_market_prices};
use crate::controller::vault::transfer_from_vault;
use crate::error::BulwarkError;
use crate::events::{emit_event, WithdrawV1};
use crate::math::oracle::OracleTolerance;
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
    // remaining_accounts: a (market, oracle) pair for every market the account has a position
    // or orders in (none when it has none).
}

/// Compute: the worst case measured on the bytecode and its budget are in `docs/compute.md`.
pub fn handler<'info>(ctx: Context<'info, Withdraw<'info>>, amount: u64) -> Result<()> {
    let clock = Clock::get()?;
    let clearinghouse_key = ctx.accounts.clearinghouse.key();
    let (balance_after, net_outflow) = {
        let mut ch = ctx.accounts.clearinghouse.load_mut()?;
        require!(!ch.is_paused(), BulwarkError::ClearinghousePaused);
        let mut account = ctx.accounts.margin_account.load_mut()?;
        // Positions are valued with every price valid; an empty account needs no price at all.
        let prices = if account.open_positions().next().is_some() {
            let collateral_usd = collateral_price(&ch, &clock)?;
            load_market_prices(
                ctx.remaining_accounts,
                &clearinghouse_key,
                collateral_usd,
                &clock,
                OracleTolerance::STRICT,
            )?
            .0
        } else {
            Vec::new()
        };
        let health = health(&account, &prices)?;
        let (balance_after, net_outflow) = debit_withdrawal(&mut ch, &mut account, amount, &health, &clock)?;
        (balance_after, net_outflow)
    };

    transfer_from_vault(
        &ctx.accounts.token_program.to_account_info(),
        &ctx.accounts.clearinghouse,
        ctx.accounts.collateral_vault.to_account_info(),
        ctx.accounts.destination.to_account_info(),
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
