use anchor_lang::prelude::*;

use crate::error::BulwarkError;
use crate::events::{emit_event, MarginAccountClosedV1};
use crate::state::{Clearinghouse, MarginAccount};

#[derive(Accounts)]
pub struct CloseMarginAccount<'info> {
    pub owner: Signer<'info>,
    #[account(mut)]
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
    #[account(
        mut,
        close = rent_receiver,
        has_one = clearinghouse @ BulwarkError::ClearinghouseMismatch,
        has_one = owner @ BulwarkError::NotOwner,
    )]
    pub margin_account: AccountLoader<'info, MarginAccount>,
    /// CHECK: receives the rent lamports; any account the owner chooses.
    #[account(mut)]
    pub rent_receiver: UncheckedAccount<'info>,
}

/// Close an empty account (no collateral, positions or orders). Compute: see `docs/compute.md`.
pub fn handler(ctx: Context<CloseMarginAccount>) -> Result<()> {
    {
        let account = ctx.accounts.margin_account.load()?;
        require!(account.is_empty(), BulwarkError::MarginAccountNotEmpty);
        require!(account.open_adl_rounds == 0, BulwarkError::AdlRoundOpen);
    }
    let mut ch = ctx.accounts.clearinghouse.load_mut()?;
    ch.margin_account_count = ch.margin_account_count.saturating_sub(1);
    emit_event(MarginAccountClosedV1 {
        clearinghouse: ctx.accounts.clearinghouse.key(),
        margin_account: ctx.accounts.margin_account.key(),
        owner: ctx.accounts.owner.key(),
    });
    Ok(())
}
