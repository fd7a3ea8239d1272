use anchor_lang::prelude::*;

use crate::constants::{
    BPS_DENOMINATOR, MARKET_SEED, MAX_DAILY_FUNDING_RATE_BPS, MAX_FUNDING_PERIOD_SECONDS, MAX_LIQUIDATION_FEE_BPS,
    MAX_MAINTENANCE_MARGIN_BPS, MAX_MARKETS, MAX_SIZE_PREMIUM_BPS, MAX_TAKER_FEE_BPS, MIN_FUNDING_PERIOD_SECONDS,
    ORDER_BOOK_SEED,
};
use crate::error::BulwarkError;
use crate::events::{emit_event, MarketListedV1};
use crate::math::perp::quote_per_lot_tick;
use crate::math::safe::SafeMath;
use crate::state::{
    account_space, maintenance_over_fees_bps, Clearinghouse, Market, MarketParams, OracleConfig, OrderBook,
    MARKET_STATUS_PENDING,
};

#[derive(Accounts)]
#[instruction(index: u16)]
pub struct CreateMarket<'info> {
    #[account(mut)]
    pub admin: Signer<'info>,
    #[account(mut, has_one = admin @ BulwarkError::NotAdmin)]
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
    #[account(
        init,
        payer = admin,
        space = account_space::<Market>(),
        seeds = [MARKET_SEED, clearinghouse.key().as_ref(), &index.to_le_bytes()],
        bump,
    )]
    pub market: AccountLoader<'info, Market>,
    #[account(
        init,
        payer = admin,
        space = account_space::<OrderBook>(),
        seeds = [ORDER_BOOK_SEED, market.key().as_ref()],
        bump,
    )]
    pub order_book: AccountLoader<'info, OrderBook>,
    pub system_program: Program<'info, System>,
}

/// Bounds every market parameter must meet, at listing and after every risk change (the
/// limits and why are in `constants.rs`). Returns the market's `quote_per_lot_tick`.
pub fn validate_params(params: &MarketParams, collateral_decimals: u8) -> Result<u64> {
    let bps = BPS_DENOMINATOR as u32;
    let funding_period_ok =
        (MIN_FUNDING_PERIOD_SECONDS..=MAX_FUNDING_PERIOD_SECONDS).contains(&params.funding_period_seconds);
    // The funding clamp scaled to a day: rate × periods a day.
    let daily_funding_ok = funding_period_ok
        && (params.max_funding_rate_bps as u64).saturating_mul(MAX_FUNDING_PERIOD_SECONDS as u64)
            <= MAX_DAILY_FUNDING_RATE_BPS.saturating_mul(params.funding_period_seconds as u64);
    let ok = params.tick_size > 0
        && params.base_lot_size > 0
        && params.min_order_lots > 0
        && params.max_open_interest_lots > 0
        && daily_funding_ok
        && (1..=MAX_MAINTENANCE_MARGIN_BPS).contains(&params.maintenance_margin_bps)
        && params.initial_margin_bps > params.maintenance_margin_bps
        && params.initial_margin_bps <= bps
        && params.liquidation_fee_bps < params.maintenance_margin_bps
        && params.liquidation_fee_bps <= MAX_LIQUIDATION_FEE_BPS
        && params.size_premium_bps <= MAX_SIZE_PREMIUM_BPS
        && params.insurance_fee_share_bps <= bps
        && params.taker_fee_bps <= MAX_TAKER_FEE_BPS
        && params.maker_fee_bps <= params.taker_fee_bps as i32
        && params.maker_fee_bps >= -(params.taker_fee_bps as i32)
        && params.base_decimals <= 18
        && params.padding == [0; 7];
    require!(ok, BulwarkError::InvalidMarketParams);
    quote_per_lot_tick(params.base_lot_size, params.tick_size, params.base_decimals, collateral_decimals)
        .ok_or(BulwarkError::InvalidMarketParams.into())
}

/// List a market. Listing raises risk, so the market starts pending and only
/// `activate_market` (anyone, after the clearinghouse timelock) opens it.
/// Compute: the worst case measured on the bytecode and its budget are in `docs/compute.md`.
pub fn handler(ctx: Context<CreateMarket>, index: u16, oracle: OracleConfig, params: MarketParams) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let mut ch = ctx.accounts.clearinghouse.load_mut()?;
    require!(index == ch.market_count && index < MAX_MARKETS, BulwarkError::MarketIndexMismatch);
    oracle.validate()?;
    let qplt = validate_params(&params, ch.collateral_decimals)?;
    ch.waterfall.check_bands_below_maintenance(params.maintenance_margin_bps, maintenance_over_fees_bps(&params))?;
    ch.record_market_risk(&params);
    ch.market_count += 1;

    let market_key = ctx.accounts.market.key();
    let mut market = ctx.accounts.market.load_init()?;
    market.clearinghouse = ctx.accounts.clearinghouse.key();
    market.order_book = ctx.accounts.order_book.key();
    market.oracle = oracle;
    market.params = params;
    market.quote_per_lot_tick = qplt;
    market.index = index;
    market.status = MARKET_STATUS_PENDING;
    market.bump = ctx.bumps.market;
    market.collateral_decimals = ch.collateral_decimals;
    market.activates_unix = now.safe_add(ch.timelock_seconds).map_err(crate::math_err)?;

    let mut book = ctx.accounts.order_book.load_init()?;
    book.market = market_key;
    book.next_order_id = 1;

    emit_event(MarketListedV1 {
        clearinghouse: market.clearinghouse,
        market: market_key,
        index,
        activates_unix: market.activates_unix,
    });
    Ok(())
}
