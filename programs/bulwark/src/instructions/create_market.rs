use anchor_lang::prelude::*;

use crate::constants::{BPS_DENOMINATOR, MARKET_SEED, MAX_MARKETS, ORDER_BOOK_SEED};
use crate::error::BulwarkError;
use crate::events::{emit_event, MarketListedV1};
use crate::math::perp::quote_per_lot_tick;
use crate::math::safe::SafeMath;
use crate::state::{
    account_space, Clearinghouse, Market, MarketParams, OracleConfig, OrderBook, MARKET_STATUS_PENDING,
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

pub fn validate_params(params: &MarketParams, collateral_decimals: u8) -> Result<u64> {
    let bps = BPS_DENOMINATOR as u32;
    let ok = params.tick_size > 0
        && params.base_lot_size > 0
        && params.min_order_lots > 0
        && params.max_open_interest_lots > 0
        && params.funding_period_seconds > 0
        && params.maintenance_margin_bps > 0
        && params.initial_margin_bps > params.maintenance_margin_bps
        && params.initial_margin_bps <= bps
        && params.liquidation_fee_bps < params.maintenance_margin_bps
        && params.insurance_fee_share_bps <= bps
        && params.max_funding_rate_bps <= bps
        && params.taker_fee_bps <= 1_000
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
/// Compute estimate: ~30k CU (two account creations).
pub fn handler(ctx: Context<CreateMarket>, index: u16, oracle: OracleConfig, params: MarketParams) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let mut ch = ctx.accounts.clearinghouse.load_mut()?;
    require!(index == ch.market_count && index < MAX_MARKETS, BulwarkError::MarketIndexMismatch);
    oracle.validate()?;
    let qplt = validate_params(&params, ch.collateral_decimals)?;
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
