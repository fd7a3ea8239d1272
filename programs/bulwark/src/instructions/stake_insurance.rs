use anchor_lang::prelude::*;
use anchor_spl::token::{self, Token, TokenAccount, Transfer};

use crate::constants::MIN_INSURANCE_ATOMS_PER_MILLION_SHARES;
use crate::error::BulwarkError;
use crate::events::{emit_event, InsuranceStakedV1};
use crate::math::insurance::stake_quote;
use crate::math::safe::SafeMath;
use crate::state::{Clearinghouse, InsuranceStake};

#[derive(Accounts)]
pub struct StakeInsurance<'info> {
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
    #[account(mut, constraint = source.mint == clearinghouse.load()?.collateral_mint @ BulwarkError::CollateralMintMismatch)]
    pub source: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

/// Stake `amount` into the insurance vault for shares at the current share value. The first
/// stake of a share epoch pays for the locked shares the vault lacks (`INSURANCE_LOCKED_SHARES`).
/// Compute: the worst case measured on the bytecode and its budget are in `docs/compute.md`.
pub fn handler(ctx: Context<StakeInsurance>, amount: u64) -> Result<()> {
    {
        let mut ch = ctx.accounts.clearinghouse.load_mut()?;
        require!(!ch.is_paused(), BulwarkError::ClearinghousePaused);
        // A wiped-out vault (a share worth under a millionth of an atom) starts a new share
        // epoch: the old shares are worthless and whatever dust is left becomes unowned.
        let wiped_out = (ch.insurance_balance as u128).saturating_mul(1_000_000)
            < (ch.insurance_total_shares as u128).saturating_mul(MIN_INSURANCE_ATOMS_PER_MILLION_SHARES);
        if wiped_out {
            ch.insurance_share_epoch = ch.insurance_share_epoch.safe_add(1).map_err(crate::math_err)?;
            ch.insurance_total_shares = 0;
        }
        let mut stake = ctx.accounts.insurance_stake.load_mut()?;
        stake.sync_epoch(ch.insurance_share_epoch);
        let quote = stake_quote(amount, ch.insurance_balance, ch.insurance_total_shares).map_err(crate::math_err)?;
        let quote = match quote {
            Some(q) => q,
            None if ch.insurance_total_shares > 0 && ch.insurance_balance == 0 => {
                return err!(BulwarkError::InsuranceVaultDepleted)
            }
            None if ch.insurance_total_shares == 0 => return err!(BulwarkError::InsuranceFirstStakeTooSmall),
            None => return err!(BulwarkError::InsuranceStakeTooSmall),
        };
        stake.shares = stake.shares.safe_add(quote.shares).map_err(crate::math_err)?;
        ch.insurance_total_shares = ch
            .insurance_total_shares
            .safe_add(quote.unowned_shares)
            .and_then(|t| t.safe_add(quote.shares))
            .map_err(crate::math_err)?;
        ch.insurance_balance = ch.insurance_balance.safe_add(amount).map_err(crate::math_err)?;
        emit_event(InsuranceStakedV1 {
            clearinghouse: ctx.accounts.clearinghouse.key(),
            stake: ctx.accounts.insurance_stake.key(),
            amount,
            shares: quote.shares,
            total_shares: ch.insurance_total_shares,
            insurance_balance: ch.insurance_balance,
        });
    }
    token::transfer(
        CpiContext::new(
            ctx.accounts.token_program.key(),
            Transfer {
                from: ctx.accounts.source.to_account_info(),
                to: ctx.accounts.insurance_vault.to_account_info(),
                authority: ctx.accounts.owner.to_account_info(),
            },
        ),
        amount,
    )
}
