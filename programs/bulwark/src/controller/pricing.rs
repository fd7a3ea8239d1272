//! Prices in collateral terms and account health from the markets passed to an instruction.

use anchor_lang::prelude::*;

use crate::constants::{COLLATERAL_PRICE_MAX_AGE_SLOTS, MAX_POSITIONS, MAX_PRICED_MARKETS, PRICE_PRECISION};
use crate::error::BulwarkError;
use crate::math::margin::{account_health, Health, PositionValuation};
use crate::math::oracle::OracleTolerance;
use crate::math::perp::{funding_owed, value_position, PerpSpec};
use crate::math::safe::{to_i64, SafeMath};
use crate::oracle::read_checked;
use crate::state::{Clearinghouse, MarginAccount, Market, COLLATERAL_MODE_MARKET, ORACLE_SOURCE_FIXED};

/// The collateral's USD price for this slot: a `Fixed` market-mode collateral needs no feed;
/// anything else must have been refreshed (`refresh_collateral_price`) in this slot, so every
/// instruction in a slot sees the same price and the same redemption mode.
pub fn collateral_price(clearinghouse: &Clearinghouse, clock: &Clock) -> Result<i64> {
    let config = &clearinghouse.collateral_oracle;
    if config.mode == COLLATERAL_MODE_MARKET && config.market.source == ORACLE_SOURCE_FIXED {
        return Ok(config.market.fixed_price);
    }
    let state = &clearinghouse.collateral_oracle_state;
    let fresh = state.last_update_slot.saturating_add(COLLATERAL_PRICE_MAX_AGE_SLOTS) >= clock.slot;
    require!(fresh && state.last_price > 0, BulwarkError::CollateralPriceNotRefreshed);
    Ok(state.last_price)
}

/// A USD price in collateral terms: `usd / collateral_usd`, rounded down.
pub fn in_collateral(usd_price: i64, collateral_usd: i64) -> Result<i64> {
    let price = (usd_price as i128)
        .safe_mul(PRICE_PRECISION as i128)
        .and_then(|v| v.safe_div(collateral_usd as i128))
        .map_err(crate::math_err)?;
    to_i64(price).map_err(crate::math_err)
}

pub fn perp_spec(market: &Market) -> PerpSpec {
    PerpSpec {
        tick_size: market.params.tick_size,
        quote_per_lot_tick: market.quote_per_lot_tick,
        initial_margin_bps: market.params.initial_margin_bps,
        maintenance_margin_bps: market.params.maintenance_margin_bps,
        size_premium_bps: market.params.size_premium_bps,
        size_premium_unit_lots: market.params.size_premium_unit_lots,
    }
}

/// A market as the margin math sees it at this instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarketPrice {
    pub index: u16,
    pub spec: PerpSpec,
    pub cumulative_funding_per_lot: i128,
    /// Oracle price in collateral, `PRICE_PRECISION`.
    pub price: i64,
}

impl MarketPrice {
    pub fn new(market: &Market, price: i64) -> Self {
        Self {
            index: market.index,
            spec: perp_spec(market),
            cumulative_funding_per_lot: market.cumulative_funding_per_lot.get(),
            price,
        }
    }
}

/// Oracle price of `market` in collateral, validated with `tolerance`.
pub fn market_price(
    market: &Market,
    oracle: &AccountInfo,
    collateral_usd: i64,
    clock: &Clock,
    tolerance: OracleTolerance,
) -> Result<i64> {
    let usd = read_checked(&market.oracle, Some(oracle), clock)?.require(tolerance)?;
    in_collateral(usd, collateral_usd)
}

/// Load `(market, oracle)` pairs from the front of `remaining` (as long as the next account is
/// a `Market`); returns their prices and how many accounts were consumed.
pub fn load_market_prices<'info>(
    remaining: &'info [AccountInfo<'info>],
    clearinghouse: &Pubkey,
    collateral_usd: i64,
    clock: &Clock,
    tolerance: OracleTolerance,
) -> Result<(Vec<MarketPrice>, usize)> {
    let mut prices = Vec::new();
    let mut used = 0;
    while used < remaining.len() && prices.len() < MAX_PRICED_MARKETS {
        let info = &remaining[used];
        let is_market = info.owner == &crate::ID
            && info
                .try_borrow_data()
                .map(|d| d.starts_with(<Market as anchor_lang::Discriminator>::DISCRIMINATOR))
                .unwrap_or(false);
        if !is_market {
            break;
        }
        let loader = AccountLoader::<Market>::try_from(info)?;
        let market = loader.load()?;
        require_keys_eq!(market.clearinghouse, *clearinghouse, BulwarkError::MarketMismatch);
        let oracle = remaining.get(used + 1).ok_or(BulwarkError::OracleAccountMissing)?;
        let price = market_price(&market, oracle, collateral_usd, clock, tolerance)?;
        prices.push(MarketPrice::new(&market, price));
        used += 2;
    }
    Ok((prices, used))
}

/// Health of `account` with every open position valued at its market's price. Each position's
/// market must be among `prices`.
pub fn health(account: &MarginAccount, prices: &[MarketPrice]) -> Result<Health> {
    let mut valuations = [PositionValuation::default(); MAX_POSITIONS];
    let mut n = 0;
    for position in account.open_positions() {
        let market =
            prices.iter().find(|m| m.index == position.market_index).ok_or(BulwarkError::MissingMarketAccount)?;
        let funding =
            funding_owed(position.base_lots, market.cumulative_funding_per_lot, position.last_cumulative_funding.get())
                .map_err(crate::math_err)?;
        valuations[n] = value_position(
            position.base_lots,
            position.quote_entry,
            position.open_bid_lots,
            position.open_ask_lots,
            funding,
            market.price,
            &market.spec,
        )
        .map_err(crate::math_err)?;
        n += 1;
    }
    account_health(account.collateral_balance, &valuations[..n]).map_err(crate::math_err)
}

/// Prices for an instruction on `market`: its own oracle price (validated with `tolerance`)
/// and the (market, oracle) pairs at the front of `remaining`, the market's own entry last.
/// Returns the market's price, every price, and how many remaining accounts were consumed.
#[allow(clippy::too_many_arguments)]
pub fn load_prices_with_market<'info>(
    clearinghouse: &Clearinghouse,
    clearinghouse_key: &Pubkey,
    market: &Market,
    oracle: &AccountInfo,
    remaining: &'info [AccountInfo<'info>],
    clock: &Clock,
    tolerance: OracleTolerance,
) -> Result<(i64, Vec<MarketPrice>, usize)> {
    let collateral_usd = collateral_price(clearinghouse, clock)?;
    let price = market_price(market, oracle, collateral_usd, clock, tolerance)?;
    let (mut prices, used) = load_market_prices(remaining, clearinghouse_key, collateral_usd, clock, tolerance)?;
    prices.retain(|p| p.index != market.index);
    prices.push(MarketPrice::new(market, price));
    Ok((price, prices, used))
}
