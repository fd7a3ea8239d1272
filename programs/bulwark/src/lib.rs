//! Bulwark: a perpetual-futures exchange built around isolated clearinghouses, a
//! redemption-aware collateral oracle, an insurance vault and a permissionless, exactly-sized
//! auto-deleveraging backstop.
//!
//! Layers: `instructions` (accounts + thin handlers) → `controller` (state changes) →
//! `math` (pure functions shared with the SDK, keeper and simulator).
#![allow(unexpected_cfgs)]

use anchor_lang::prelude::*;
#[cfg(target_os = "solana")]
use solana_compiler_builtins as _;

/// Compile-time layout check for zero-copy structs: exact size, alignment at most 8
/// (account data is only guaranteed 8-aligned).
#[macro_export]
macro_rules! const_assert_size {
    ($t:ty, $size:expr) => {
        const _: () = assert!(core::mem::size_of::<$t>() == $size);
        const _: () = assert!(core::mem::align_of::<$t>() <= 8);
    };
}

pub mod constants;
pub mod controller;
pub mod error;
pub mod events;
pub mod instructions;
pub mod math;
pub mod oracle;
pub mod state;

use controller::orders::PlaceOrderArgs;
use instructions::*;
use state::{MarketParams, OracleConfig, ParamChange};

declare_id!("Euo6vbzdPvbSkFy53qc6QdTLkAskw8JX14ejb8Wgrub4");

// Where a researcher reports a vulnerability; explorers and `query-security-txt` read it from
// the deployed bytes. A deployment replaces the contact and URLs with its own (README, Deploy).
#[cfg(not(feature = "no-entrypoint"))]
solana_security_txt::security_txt! {
    name: "Bulwark",
    project_url: "https://bulwark.invalid",
    contacts: "email:security@bulwark.invalid",
    policy: "Report privately to the contact above; do not test against a live deployment. See SECURITY.md in the source tree.",
    preferred_languages: "en",
    source_code: "https://bulwark.invalid/source",
    auditors: "None"
}

/// Map a pure-math failure to the program error, logging where it happened.
pub fn math_err(e: math::MathError) -> Error {
    msg!("math error {:?} at {}:{}", e.kind, e.file, e.line);
    match e.kind {
        math::safe::MathErrorKind::Overflow => error::BulwarkError::MathOverflow.into(),
        math::safe::MathErrorKind::DivisionByZero => error::BulwarkError::DivisionByZero.into(),
    }
}

#[program]
pub mod bulwark {
    use super::*;

    pub fn initialize_clearinghouse(
        ctx: Context<InitializeClearinghouse>,
        args: InitializeClearinghouseArgs,
    ) -> Result<()> {
        instructions::initialize_clearinghouse::handler(ctx, args)
    }

    pub fn create_margin_account(ctx: Context<CreateMarginAccount>, sub_account_id: u16) -> Result<()> {
        instructions::create_margin_account::handler(ctx, sub_account_id)
    }

    pub fn set_delegate(ctx: Context<SetDelegate>, delegate: Pubkey) -> Result<()> {
        instructions::set_delegate::handler(ctx, delegate)
    }

    pub fn deposit(ctx: Context<Deposit>, amount: u64) -> Result<()> {
        instructions::deposit::handler(ctx, amount)
    }

    pub fn withdraw<'info>(ctx: Context<'info, Withdraw<'info>>, amount: u64) -> Result<()> {
        instructions::withdraw::handler(ctx, amount)
    }

    pub fn close_margin_account(ctx: Context<CloseMarginAccount>) -> Result<()> {
        instructions::close_margin_account::handler(ctx)
    }

    pub fn create_price_feed(
        ctx: Context<CreatePriceFeed>,
        feed_id: u64,
        exponent: i32,
        ema_window_seconds: u32,
    ) -> Result<()> {
        instructions::create_price_feed::handler(ctx, feed_id, exponent, ema_window_seconds)
    }

    pub fn update_price_feed(ctx: Context<UpdatePriceFeed>, update: PriceFeedUpdate) -> Result<()> {
        instructions::update_price_feed::handler(ctx, update)
    }

    pub fn refresh_collateral_price(ctx: Context<RefreshCollateralPrice>) -> Result<()> {
        instructions::refresh_collateral_price::handler(ctx)
    }

    pub fn propose_param_change(ctx: Context<AdminParamChange>, change: ParamChange) -> Result<()> {
        instructions::param_changes::propose(ctx, change)
    }

    pub fn execute_param_change(ctx: Context<ExecuteParamChange>) -> Result<()> {
        instructions::param_changes::execute(ctx)
    }

    pub fn cancel_param_change(ctx: Context<AdminParamChange>) -> Result<()> {
        instructions::param_changes::cancel(ctx)
    }

    pub fn create_market(
        ctx: Context<CreateMarket>,
        index: u16,
        oracle: OracleConfig,
        params: MarketParams,
    ) -> Result<()> {
        instructions::create_market::handler(ctx, index, oracle, params)
    }

    pub fn activate_market(ctx: Context<ActivateMarket>) -> Result<()> {
        instructions::market_status::activate(ctx)
    }

    pub fn set_market_status(ctx: Context<SetMarketStatus>, status: u8) -> Result<()> {
        instructions::market_status::set_status(ctx, status)
    }

    pub fn place_order<'info>(ctx: Context<'info, PlaceOrder<'info>>, args: PlaceOrderArgs) -> Result<()> {
        instructions::place_order::handler(ctx, args)
    }

    pub fn cancel_order(ctx: Context<CancelOrders>, order_id: u64) -> Result<()> {
        instructions::cancel_order::cancel(ctx, Some(order_id))
    }

    pub fn cancel_all_orders(ctx: Context<CancelOrders>) -> Result<()> {
        instructions::cancel_order::cancel(ctx, None)
    }

    pub fn prune_expired_orders<'info>(ctx: Context<'info, PruneExpiredOrders<'info>>) -> Result<()> {
        instructions::cancel_order::prune(ctx)
    }

    pub fn update_funding(ctx: Context<UpdateFunding>) -> Result<()> {
        instructions::update_funding::handler(ctx)
    }

    pub fn pause(ctx: Context<GuardianSetStatus>) -> Result<()> {
        instructions::set_status::handler(ctx, true)
    }

    pub fn unpause(ctx: Context<GuardianSetStatus>) -> Result<()> {
        instructions::set_status::handler(ctx, false)
    }

    pub fn update_liquidation_status<'info>(ctx: Context<'info, UpdateLiquidationStatus<'info>>) -> Result<()> {
        instructions::update_liquidation_status::handler(ctx)
    }

    pub fn liquidate_takeover<'info>(ctx: Context<'info, LiquidateTakeover<'info>>, max_base_lots: u64) -> Result<()> {
        instructions::liquidate_takeover::handler(ctx, max_base_lots)
    }

    pub fn liquidate_against_book<'info>(ctx: Context<'info, LiquidateAgainstBook<'info>>) -> Result<()> {
        instructions::liquidate_against_book::handler(ctx)
    }

    pub fn auto_deleverage<'info>(ctx: Context<'info, AutoDeleverage<'info>>, max_base_lots: u64) -> Result<()> {
        instructions::auto_deleverage::handler(ctx, max_base_lots)
    }

    pub fn begin_adl<'info>(ctx: Context<'info, BeginAdl<'info>>) -> Result<()> {
        instructions::begin_adl::handler(ctx)
    }

    pub fn nominate_adl<'info>(ctx: Context<'info, NominateAdl<'info>>) -> Result<()> {
        instructions::nominate_adl::handler(ctx)
    }

    pub fn execute_adl<'info>(ctx: Context<'info, ExecuteAdl<'info>>) -> Result<()> {
        instructions::execute_adl::handler(ctx)
    }

    pub fn create_insurance_stake(ctx: Context<CreateInsuranceStake>) -> Result<()> {
        instructions::create_insurance_stake::handler(ctx)
    }

    pub fn stake_insurance(ctx: Context<StakeInsurance>, amount: u64) -> Result<()> {
        instructions::stake_insurance::handler(ctx, amount)
    }

    pub fn request_unstake(ctx: Context<RequestUnstake>, shares: u64) -> Result<()> {
        instructions::request_unstake::handler(ctx, shares)
    }

    pub fn unstake_insurance(ctx: Context<UnstakeInsurance>) -> Result<()> {
        instructions::unstake_insurance::handler(ctx)
    }

    pub fn sweep_fees(ctx: Context<SweepFees>) -> Result<()> {
        instructions::sweep_fees::handler(ctx)
    }
}
