use anchor_lang::prelude::*;

use crate::constants::MARGIN_ACCOUNT_SEED;
use crate::events::{emit_event, MarginAccountCreatedV1};
use crate::math::safe::SafeMath;
use crate::state::{account_space, Clearinghouse, MarginAccount};

#[derive(Accounts)]
#[instruction(sub_account_id: u16)]
pub struct CreateMarginAccount<'info> {
    pub owner: Signer<'info>,
    #[account(mut)]
    pub payer: Signer<'info>,
    #[account(mut)]
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
    #[account(
        init,
        payer = payer,
        space = account_space::<MarginAccount>(),
        seeds = [MARGIN_ACCOUNT_SEED, clearinghouse.key().as_ref(), owner.key().as_ref(), &sub_account_id.to_le_bytes()],
        bump,
    )]
    pub margin_account: AccountLoader<'info, MarginAccount>,
    pub system_program: Program<'info, System>,
}

/// Compute: the worst case measured on the bytecode and its budget are in `docs/compute.md`.
pub fn handler(ctx: Context<CreateMarginAccount>, sub_account_id: u16) -> Result<()> {
    let clearinghouse_key = ctx.accounts.clearinghouse.key();
    let mut ch = ctx.accounts.clearinghouse.load_mut()?;
    ch.margin_account_count = ch.margin_account_count.safe_add(1).map_err(crate::math_err)?;

    let mut account = ctx.accounts.margin_account.load_init()?;
    account.clearinghouse = clearinghouse_key;
    account.owner = ctx.accounts.owner.key();
    account.sub_account_id = sub_account_id;
    account.bump = ctx.bumps.margin_account;
    account.last_active_slot = Clock::get()?.slot;

    emit_event(MarginAccountCreatedV1 {
        clearinghouse: clearinghouse_key,
        margin_account: ctx.accounts.margin_account.key(),
        owner: account.owner,
        sub_account_id,
    });
    Ok(())
}
