use anchor_lang::prelude::*;

use crate::error::BulwarkError;
use crate::events::{emit_event, DelegateSetV1};
use crate::state::MarginAccount;

#[derive(Accounts)]
pub struct SetDelegate<'info> {
    pub owner: Signer<'info>,
    #[account(mut, has_one = owner @ BulwarkError::NotOwner)]
    pub margin_account: AccountLoader<'info, MarginAccount>,
}

/// Set (or clear, with the default key) the account's delegate. Compute: see `docs/compute.md`.
pub fn handler(ctx: Context<SetDelegate>, delegate: Pubkey) -> Result<()> {
    let mut account = ctx.accounts.margin_account.load_mut()?;
    require_keys_neq!(delegate, account.owner, BulwarkError::DelegateIsOwner);
    account.delegate = delegate;
    emit_event(DelegateSetV1 { margin_account: ctx.accounts.margin_account.key(), delegate });
    Ok(())
}
