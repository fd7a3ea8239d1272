use anchor_lang::prelude::*;

use crate::constants::INSURANCE_STAKE_SEED;
use crate::state::{account_space, Clearinghouse, InsuranceStake};

#[derive(Accounts)]
pub struct CreateInsuranceStake<'info> {
    pub owner: Signer<'info>,
    #[account(mut)]
    pub payer: Signer<'info>,
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
    #[account(
        init,
        payer = payer,
        space = account_space::<InsuranceStake>(),
        seeds = [INSURANCE_STAKE_SEED, clearinghouse.key().as_ref(), owner.key().as_ref()],
        bump,
    )]
    pub insurance_stake: AccountLoader<'info, InsuranceStake>,
    pub system_program: Program<'info, System>,
}

/// Open an empty insurance stake for `owner`.
pub fn handler(ctx: Context<CreateInsuranceStake>) -> Result<()> {
    let mut stake = ctx.accounts.insurance_stake.load_init()?;
    stake.clearinghouse = ctx.accounts.clearinghouse.key();
    stake.owner = ctx.accounts.owner.key();
    stake.bump = ctx.bumps.insurance_stake;
    Ok(())
}
