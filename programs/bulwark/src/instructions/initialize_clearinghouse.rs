use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::constants::{CLEARINGHOUSE_SEED, COLLATERAL_VAULT_SEED, INSURANCE_VAULT_SEED, MAX_TIMELOCK_SECONDS};
use crate::error::BulwarkError;
use crate::events::{emit_event, ClearinghouseInitializedV1};
use crate::math::circuit_breaker::BreakerParams;
use crate::state::{account_space, Clearinghouse, CollateralOracleConfig, WaterfallParams, CLEARINGHOUSE_ACTIVE};

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct InitializeClearinghouseArgs {
    pub id: u16,
    pub guardian: Pubkey,
    pub timelock_seconds: i64,
    pub collateral_oracle: CollateralOracleConfig,
    pub breaker_window_seconds: i64,
    pub breaker_max_net_outflow_bps: u32,
    pub breaker_min_outflow_allowance: u64,
    pub waterfall: WaterfallParams,
}

#[derive(Accounts)]
#[instruction(args: InitializeClearinghouseArgs)]
pub struct InitializeClearinghouse<'info> {
    /// Becomes the admin; pays for the accounts.
    #[account(mut)]
    pub admin: Signer<'info>,
    #[account(
        init,
        payer = admin,
        space = account_space::<Clearinghouse>(),
        seeds = [CLEARINGHOUSE_SEED, admin.key().as_ref(), collateral_mint.key().as_ref(), &args.id.to_le_bytes()],
        bump,
    )]
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
    /// Classic SPL Token mints only: Token-2022 extensions (transfer fees, hooks) would break
    /// the vault == Σ balances accounting.
    #[account(mint::token_program = token_program)]
    pub collateral_mint: Box<Account<'info, Mint>>,
    #[account(
        init,
        payer = admin,
        seeds = [COLLATERAL_VAULT_SEED, clearinghouse.key().as_ref()],
        bump,
        token::mint = collateral_mint,
        token::authority = clearinghouse,
        token::token_program = token_program,
    )]
    pub collateral_vault: Box<Account<'info, TokenAccount>>,
    #[account(
        init,
        payer = admin,
        seeds = [INSURANCE_VAULT_SEED, clearinghouse.key().as_ref()],
        bump,
        token::mint = collateral_mint,
        token::authority = clearinghouse,
        token::token_program = token_program,
    )]
    pub insurance_vault: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
    pub system_program: Program<'info, System>,
}

/// Compute: the worst case measured on the bytecode and its budget are in `docs/compute.md`.
pub fn handler(ctx: Context<InitializeClearinghouse>, args: InitializeClearinghouseArgs) -> Result<()> {
    require!((0..=MAX_TIMELOCK_SECONDS).contains(&args.timelock_seconds), BulwarkError::InvalidParameter);
    require!(args.guardian != Pubkey::default(), BulwarkError::InvalidParameter);
    args.collateral_oracle.validate()?;
    let breaker = BreakerParams {
        window_seconds: args.breaker_window_seconds,
        max_net_outflow_bps: args.breaker_max_net_outflow_bps,
        min_outflow_allowance: args.breaker_min_outflow_allowance,
    };
    require!(breaker.is_valid(), BulwarkError::InvalidParameter);
    args.waterfall.validate()?;

    let clearinghouse_key = ctx.accounts.clearinghouse.key();
    let mut ch = ctx.accounts.clearinghouse.load_init()?;
    ch.creator = ctx.accounts.admin.key();
    ch.admin = ctx.accounts.admin.key();
    ch.guardian = args.guardian;
    ch.collateral_mint = ctx.accounts.collateral_mint.key();
    ch.collateral_vault = ctx.accounts.collateral_vault.key();
    ch.insurance_vault = ctx.accounts.insurance_vault.key();
    ch.collateral_oracle = args.collateral_oracle;
    ch.withdrawal_breaker.set_params(&breaker);
    ch.timelock_seconds = args.timelock_seconds;
    ch.waterfall = args.waterfall;
    ch.id = args.id;
    ch.status = CLEARINGHOUSE_ACTIVE;
    ch.bump = ctx.bumps.clearinghouse;
    ch.collateral_decimals = ctx.accounts.collateral_mint.decimals;

    emit_event(ClearinghouseInitializedV1 {
        clearinghouse: clearinghouse_key,
        admin: ch.admin,
        guardian: ch.guardian,
        collateral_mint: ch.collateral_mint,
        id: ch.id,
    });
    Ok(())
}
