//! Prices in collateral terms and account health from the markets passed to an instruction.
//!
//! A price may come with a band (`MarketPrice::low..=high`): a side market priced by the relaxed
//! rule, or any market while the collateral price is a fallback. Health then values each
//! position at the end of its band that goes against the account (`health`: the default, for
//! every margin check of an account taking on risk: a liquidator, an ADL counterparty, a trader)
//! or in its favour (`health_for_liquidation`: whether an account may be liquidated and how
//! much to close). With exact prices both are the same.

use anchor_lang::prelude::*;

use crate::constants::{
    BPS_DENOMINATOR, COLLATERAL_LAST_GOOD_HAIRCUT_BPS, COLLATERAL_PRICE_MAX_AGE_SLOTS, MAX_POSITIONS,
    MAX_PRICED_MARKETS, PRICE_PRECISION,
};
use crate::error::BulwarkError;
use crate::events::{emit_event, RelaxedOraclePriceV1};
use crate::math::margin::{account_health, Health, PositionValuation};
use crate::math::oracle::{OracleTolerance, PriceBand, PriceRule};
use crate::math::perp::{funding_owed, value_position, PerpSpec};
use crate::math::safe::{to_i64, SafeMath};
use crate::oracle::{price_under_rule, read_checked};
use crate::state::{
    Clearinghouse, MarginAccount, Market, PerpPosition, COLLATERAL_MODE_MARKET, COLLATERAL_PRICE_LAST_GOOD,
    COLLATERAL_PRICE_MARKET, COLLATERAL_PRICE_SOFT_FLOOR, ORACLE_SOURCE_FIXED,
};

/// What an action does with the collateral price.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CollateralUse {
    /// Risk-raising orders, withdrawals, funding: only a price refreshed from a usable market
    /// print (or the fixed price) will do.
    RiskRaising,
    /// Reduce-only orders, liquidations, ADL, liquidation status: a fallback price will do, as
    /// a band (see `collateral_quote`).
    RiskReducing,
}

impl CollateralUse {
    pub fn for_order(reduce_only: bool) -> Self {
        if reduce_only {
            Self::RiskReducing
        } else {
            Self::RiskRaising
        }
    }
}

/// The collateral's USD price and the range it may really lie in (`low <= price <= high`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CollateralQuote {
    pub price: i64,
    pub low: i64,
    pub high: i64,
}

impl From<i64> for CollateralQuote {
    fn from(price: i64) -> Self {
        Self { price, low: price, high: price }
    }
}

/// The collateral's USD price for this slot, for an action of kind `usage`. A `Fixed`
/// market-mode collateral needs no feed; anything else must have been refreshed
/// (`refresh_collateral_price`) in this slot, so every instruction in a slot sees the same
/// price and mode. What the refresh recorded decides the rest:
///
/// * a usable market print: exact, for every action;
/// * the soft-floor fallback (healthy redemption mode, stale print): the band
///   `[r·(1 − soft_band), r]` — every price healthy mode could give — for risk-reducing
///   actions only;
/// * the last-good fallback (market or broken mode, unusable print, last good price at most
///   `COLLATERAL_LAST_GOOD_MAX_AGE_SECONDS` old): that price ± `COLLATERAL_LAST_GOOD_HAIRCUT_BPS`,
///   for risk-reducing actions only.
///
/// A risk-raising action on a fallback fails with `CollateralPriceFallback`.
pub fn collateral_quote(clearinghouse: &Clearinghouse, clock: &Clock, usage: CollateralUse) -> Result<CollateralQuote> {
    let config = &clearinghouse.collateral_oracle;
    if config.mode == COLLATERAL_MODE_MARKET && config.market.source == ORACLE_SOURCE_FIXED {
        return Ok(config.market.fixed_price.into());
    }
    let state = &clearinghouse.collateral_oracle_state;
    let fresh = state.last_update_slot.saturating_add(COLLATERAL_PRICE_MAX_AGE_SLOTS) >= clock.slot;
    require!(fresh && state.last_price > 0, BulwarkError::CollateralPriceNotRefreshed);
    let price = state.last_price;
    match state.price_source {
        COLLATERAL_PRICE_MARKET => Ok(price.into()),
        source => {
            require!(usage == CollateralUse::RiskReducing, BulwarkError::CollateralPriceFallback);
            let bps = BPS_DENOMINATOR as i128;
            let p = price as i128;
            let (low, high) = match source {
                // The recorded price is the soft floor r·(1 − soft_band); r is at most that
                // over (1 − soft_band), rounded up.
                COLLATERAL_PRICE_SOFT_FLOOR => {
                    let kept = bps.safe_sub(config.soft_band_bps as i128).map_err(crate::math_err)?;
                    (p, p.safe_mul(bps).and_then(|v| v.safe_div_ceil(kept)).map_err(crate::math_err)?)
                }
                COLLATERAL_PRICE_LAST_GOOD => {
                    let cut = COLLATERAL_LAST_GOOD_HAIRCUT_BPS as i128;
                    let low = p.safe_mul(bps - cut).and_then(|v| v.safe_div_floor(bps)).map_err(crate::math_err)?;
                    let high = p.safe_mul(bps + cut).and_then(|v| v.safe_div_ceil(bps)).map_err(crate::math_err)?;
                    (low, high)
                }
                _ => return err!(BulwarkError::InvalidOracleConfig),
            };
            require!(low > 0, BulwarkError::OracleNonPositivePrice);
            Ok(CollateralQuote {
                price,
                low: to_i64(low).map_err(crate::math_err)?,
                high: to_i64(high).map_err(crate::math_err)?,
            })
        }
    }
}

/// The collateral's exact USD price for this slot, as risk-raising actions need it (see
/// `collateral_quote`).
pub fn collateral_price(clearinghouse: &Clearinghouse, clock: &Clock) -> Result<i64> {
    collateral_quote(clearinghouse, clock, CollateralUse::RiskRaising).map(|q| q.price)
}

/// A USD price in collateral terms: `usd / collateral_usd`, rounded down.
pub fn in_collateral(usd_price: i64, collateral_usd: i64) -> Result<i64> {
    let price = (usd_price as i128)
        .safe_mul(PRICE_PRECISION as i128)
        .and_then(|v| v.safe_div(collateral_usd as i128))
        .map_err(crate::math_err)?;
    to_i64(price).map_err(crate::math_err)
}

/// A USD price in collateral terms, rounded up.
fn in_collateral_ceil(usd_price: i64, collateral_usd: i64) -> Result<i64> {
    let price = (usd_price as i128)
        .safe_mul(PRICE_PRECISION as i128)
        .and_then(|v| v.safe_div_ceil(collateral_usd as i128))
        .map_err(crate::math_err)?;
    to_i64(price).map_err(crate::math_err)
}

/// A USD band in collateral terms: the price at the collateral's recorded price, the low end
/// at the collateral's high end and the high end at its low end (rounded outward).
pub fn band_in_collateral(usd: PriceBand, collateral: CollateralQuote) -> Result<PriceBand> {
    Ok(PriceBand {
        price: in_collateral(usd.price, collateral.price)?,
        low: in_collateral(usd.low, collateral.high)?,
        high: in_collateral_ceil(usd.high, collateral.low)?,
    })
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
    /// Oracle price in collateral, `PRICE_PRECISION`: fills and closes happen here.
    pub price: i64,
    /// The range the price may really lie in (`low <= price <= high`; equal for an exact price).
    pub low: i64,
    pub high: i64,
}

impl MarketPrice {
    pub fn new(market: &Market, price: i64) -> Self {
        Self::banded(market, PriceBand::exact(price))
    }

    pub fn banded(market: &Market, band: PriceBand) -> Self {
        Self {
            index: market.index,
            spec: perp_spec(market),
            cumulative_funding_per_lot: market.cumulative_funding_per_lot.get(),
            price: band.price,
            low: band.low,
            high: band.high,
        }
    }

    pub fn is_exact(&self) -> bool {
        self.low == self.price && self.high == self.price
    }
}

/// Oracle price of `market` in collateral, validated with `tolerance`.
pub fn market_price(
    market: &Market,
    oracle: &AccountInfo,
    collateral_usd: impl Into<CollateralQuote>,
    clock: &Clock,
    tolerance: OracleTolerance,
) -> Result<i64> {
    Ok(market_price_under(market, oracle, collateral_usd.into(), clock, PriceRule::Exact(tolerance))?.price)
}

/// Oracle price of `market` in collateral under `rule`, with its band (the feed's band under
/// the relaxed rule, widened by the collateral's band).
pub fn market_price_under(
    market: &Market,
    oracle: &AccountInfo,
    collateral: CollateralQuote,
    clock: &Clock,
    rule: PriceRule,
) -> Result<PriceBand> {
    let usd = price_under_rule(&market.oracle, Some(oracle), clock, rule)?;
    band_in_collateral(usd, collateral)
}

/// The (market, oracle) pair at `at` in `remaining`, when the account there is a market of
/// `clearinghouse` (`None` where the pairs end).
#[allow(clippy::type_complexity)]
fn market_pair_at<'info>(
    remaining: &'info [AccountInfo<'info>],
    at: usize,
    clearinghouse: &Pubkey,
) -> Result<Option<(&'info AccountInfo<'info>, AccountLoader<'info, Market>, &'info AccountInfo<'info>)>> {
    let info = &remaining[at];
    let is_market = info.owner == &crate::ID
        && info
            .try_borrow_data()
            .map(|d| d.starts_with(<Market as anchor_lang::Discriminator>::DISCRIMINATOR))
            .unwrap_or(false);
    if !is_market {
        return Ok(None);
    }
    let loader = AccountLoader::<Market>::try_from(info)?;
    require_keys_eq!(loader.load()?.clearinghouse, *clearinghouse, BulwarkError::MarketMismatch);
    let oracle = remaining.get(at + 1).ok_or(BulwarkError::OracleAccountMissing)?;
    Ok(Some((info, loader, oracle)))
}

/// Load `(market, oracle)` pairs from the front of `remaining` (as long as the next account is
/// a `Market`), each validated with `tolerance`; returns their prices and how many accounts
/// were consumed.
pub fn load_market_prices<'info>(
    remaining: &'info [AccountInfo<'info>],
    clearinghouse: &Pubkey,
    collateral_usd: impl Into<CollateralQuote>,
    clock: &Clock,
    tolerance: OracleTolerance,
) -> Result<(Vec<MarketPrice>, usize)> {
    load_market_prices_under(remaining, clearinghouse, collateral_usd.into(), clock, PriceRule::Exact(tolerance))
}

/// `load_market_prices` under any `PriceRule`. Every market priced by the relaxed rule from a
/// feed that failed its checks emits `RelaxedOraclePriceV1`.
pub fn load_market_prices_under<'info>(
    remaining: &'info [AccountInfo<'info>],
    clearinghouse: &Pubkey,
    collateral: CollateralQuote,
    clock: &Clock,
    rule: PriceRule,
) -> Result<(Vec<MarketPrice>, usize)> {
    let mut prices = Vec::new();
    let mut used = 0;
    while used < remaining.len() && prices.len() < MAX_PRICED_MARKETS {
        let Some((info, loader, oracle)) = market_pair_at(remaining, used, clearinghouse)? else { break };
        let market = loader.load()?;
        let usd = price_under_rule(&market.oracle, Some(oracle), clock, rule)?;
        if !usd.is_exact() {
            emit_event(RelaxedOraclePriceV1 {
                market: *info.key,
                usd_price: usd.price,
                usd_low: usd.low,
                usd_high: usd.high,
                slot: clock.slot,
            });
        }
        prices.push(MarketPrice::banded(&market, band_in_collateral(usd, collateral)?));
        used += 2;
    }
    Ok((prices, used))
}

/// The prices an order's matching needs: the (market, oracle) pairs at the front of
/// `remaining`, each read by the relaxed rule (a maker's other markets are valued as a band
/// against the maker, as liquidation values side markets), with the markets whose passed feed
/// is unusable even so listed apart, not failing the order: a maker holding one cannot be
/// margin-checked and loses its order instead of freezing the book. Returns the prices, the
/// unpriceable market indexes and how many accounts were consumed.
pub fn load_matching_prices<'info>(
    remaining: &'info [AccountInfo<'info>],
    clearinghouse: &Pubkey,
    collateral: CollateralQuote,
    clock: &Clock,
) -> Result<(Vec<MarketPrice>, Vec<u16>, usize)> {
    let mut prices = Vec::new();
    let mut unpriceable = Vec::new();
    let mut used = 0;
    while used < remaining.len() && prices.len() + unpriceable.len() < MAX_PRICED_MARKETS {
        let Some((_, loader, oracle)) = market_pair_at(remaining, used, clearinghouse)? else { break };
        let market = loader.load()?;
        // A wrong, foreign or undecodable feed account is the caller's error, not a bad price.
        read_checked(&market.oracle, Some(oracle), clock)?;
        match price_under_rule(&market.oracle, Some(oracle), clock, PriceRule::Relaxed) {
            Ok(usd) => prices.push(MarketPrice::banded(&market, band_in_collateral(usd, collateral)?)),
            Err(_) => unpriceable.push(market.index),
        }
        used += 2;
    }
    Ok((prices, unpriceable, used))
}

/// Hold `account`'s own markets to `tolerance`: every position priced only as a relaxed band
/// (or not at all) is read again under the exact rule, which fails with the feed's own error or
/// replaces the band with the exact price.
pub fn require_exact_for<'info>(
    account: &MarginAccount,
    prices: &mut Vec<MarketPrice>,
    remaining: &'info [AccountInfo<'info>],
    collateral: CollateralQuote,
    clock: &Clock,
    tolerance: OracleTolerance,
) -> Result<()> {
    for position in account.open_positions() {
        if prices.iter().any(|m| m.index == position.market_index && m.is_exact()) {
            continue;
        }
        let mut i = 0;
        let mut found = false;
        while i + 1 < remaining.len() {
            let Ok(loader) = AccountLoader::<Market>::try_from(&remaining[i]) else { break };
            let market = loader.load()?;
            if market.index == position.market_index {
                let band =
                    market_price_under(&market, &remaining[i + 1], collateral, clock, PriceRule::Exact(tolerance))?;
                prices.retain(|m| m.index != market.index);
                prices.push(MarketPrice::banded(&market, band));
                found = true;
                break;
            }
            i += 2;
        }
        require!(found, BulwarkError::MissingMarketAccount);
    }
    Ok(())
}

/// Which end of a price band a health computation takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Valuation {
    /// Each position's PnL at the end that lowers it, requirements at the end that raises them.
    AgainstAccount,
    /// The opposite: the benefit of the doubt.
    ForAccount,
}

/// Health of an account taking on risk (a trader, a liquidator, an ADL counterparty): every
/// banded price at the end that goes against it. Each position's market must be among `prices`.
pub fn health(account: &MarginAccount, prices: &[MarketPrice]) -> Result<Health> {
    health_valued(account, prices, Valuation::AgainstAccount)
}

/// Health of an account being judged for liquidation or ADL, and for sizing the close: every
/// banded price at the end that favours it, so an uncertain price never makes a healthy
/// account liquidatable nor closes more than an exact price would.
pub fn health_for_liquidation(account: &MarginAccount, prices: &[MarketPrice]) -> Result<Health> {
    health_valued(account, prices, Valuation::ForAccount)
}

/// Health with every open position valued at its market's price, banded prices per `valuation`
/// (per component: PnL at the worse/better end, requirements at the higher/lower notional).
pub fn health_valued(account: &MarginAccount, prices: &[MarketPrice], valuation: Valuation) -> Result<Health> {
    ValuedAccount::new(account, prices, valuation)?.health(account.collateral_balance)
}

/// One position's valuation at its market's price, banded per `valuation`.
fn value_one(position: &PerpPosition, prices: &[MarketPrice], valuation: Valuation) -> Result<PositionValuation> {
    let market = prices.iter().find(|m| m.index == position.market_index).ok_or(BulwarkError::MissingMarketAccount)?;
    let funding =
        funding_owed(position.base_lots, market.cumulative_funding_per_lot, position.last_cumulative_funding.get())
            .map_err(crate::math_err)?;
    let at = |price: i64| {
        value_position(
            position.base_lots,
            position.quote_entry,
            position.open_bid_lots,
            position.open_ask_lots,
            funding,
            price,
            &market.spec,
        )
        .map_err(crate::math_err)
    };
    if market.is_exact() {
        return at(market.price);
    }
    let (low, high) = (at(market.low)?, at(market.high)?);
    // Notionals (so requirements) grow with the price whatever the side; PnL moves with the
    // side. Against the account: the larger requirements and the smaller PnL; for it, the
    // opposite.
    Ok(match valuation {
        Valuation::AgainstAccount => {
            PositionValuation { unrealized_pnl: low.unrealized_pnl.min(high.unrealized_pnl), ..high }
        }
        Valuation::ForAccount => {
            PositionValuation { unrealized_pnl: low.unrealized_pnl.max(high.unrealized_pnl), ..low }
        }
    })
}

/// `prices` with market `index` at exactly `price`, its band dropped: the valuation a close
/// there at `price` realises (ADL sizes the shortfall its fills must carry with it).
pub fn with_exact_price(prices: &[MarketPrice], index: u16, price: i64) -> Vec<MarketPrice> {
    let mut exact = prices.to_vec();
    for p in exact.iter_mut().filter(|p| p.index == index) {
        (p.low, p.price, p.high) = (price, price, price);
    }
    exact
}

/// An account's open positions, each valued: its health at any balance, and a position that
/// changed re-valued alone. Matching checks each maker before and after its fill; only the
/// filled market's position differs, so the other markets (up to seven, each at both ends of
/// a band) are valued once instead of twice.
#[derive(Clone, Copy)]
pub struct ValuedAccount {
    markets: [u16; MAX_POSITIONS],
    valuations: [PositionValuation; MAX_POSITIONS],
    count: usize,
    valuation: Valuation,
}

impl ValuedAccount {
    pub fn new(account: &MarginAccount, prices: &[MarketPrice], valuation: Valuation) -> Result<Self> {
        let mut valued = Self {
            markets: [0; MAX_POSITIONS],
            valuations: [PositionValuation::default(); MAX_POSITIONS],
            count: 0,
            valuation,
        };
        for position in account.open_positions() {
            valued.markets[valued.count] = position.market_index;
            valued.valuations[valued.count] = value_one(position, prices, valuation)?;
            valued.count += 1;
        }
        Ok(valued)
    }

    pub fn health(&self, collateral_balance: u64) -> Result<Health> {
        account_health(collateral_balance, &self.valuations[..self.count]).map_err(crate::math_err)
    }

    /// The account after a change to its position in `market_index` only (`account` is the
    /// changed account): that position is valued again (added when it opened, dropped when it
    /// emptied), the rest kept.
    pub fn revalue_position(
        &mut self,
        account: &MarginAccount,
        market_index: u16,
        prices: &[MarketPrice],
    ) -> Result<()> {
        let valuation = self.valuation;
        let next = self;
        let held = next.markets[..next.count].iter().position(|m| *m == market_index);
        let position = account.open_positions().find(|p| p.market_index == market_index);
        match (held, position) {
            (Some(i), Some(position)) => next.valuations[i] = value_one(position, prices, valuation)?,
            (Some(i), None) => {
                next.markets.copy_within(i + 1..next.count, i);
                next.valuations.copy_within(i + 1..next.count, i);
                next.count -= 1;
            }
            (None, Some(position)) => {
                require!(next.count < MAX_POSITIONS, BulwarkError::TooManyPositions);
                next.markets[next.count] = market_index;
                next.valuations[next.count] = value_one(position, prices, valuation)?;
                next.count += 1;
            }
            (None, None) => {}
        }
        Ok(())
    }
}

/// How an instruction that acts on one market prices the markets involved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActionPricing {
    /// The market acted on: always a validated price.
    pub own_market: OracleTolerance,
    /// The other markets the accounts hold.
    pub other_markets: PriceRule,
    pub collateral: CollateralUse,
}

impl ActionPricing {
    /// Liquidations and ADL: the market acted on needs a valid price; the other markets an
    /// account holds are priced by the relaxed rule (one bad side feed must not block
    /// liquidations everywhere), and a fallback collateral price will do. Every band is then
    /// read for the account judged (`health_for_liquidation`) and against everyone who takes
    /// its position (`health`).
    pub const LIQUIDATION: Self = Self {
        own_market: OracleTolerance::STRICT,
        other_markets: PriceRule::Relaxed,
        collateral: CollateralUse::RiskReducing,
    };
}

/// Prices for an instruction on `market`: its own oracle price and the (market, oracle) pairs
/// at the front of `remaining`, the market's own entry last, each under `pricing`. Returns the
/// market's price, every price, and how many remaining accounts were consumed.
#[allow(clippy::too_many_arguments)]
pub fn load_prices_with_market<'info>(
    clearinghouse: &Clearinghouse,
    clearinghouse_key: &Pubkey,
    market: &Market,
    oracle: &AccountInfo,
    remaining: &'info [AccountInfo<'info>],
    clock: &Clock,
    pricing: ActionPricing,
) -> Result<(i64, Vec<MarketPrice>, usize)> {
    let collateral = collateral_quote(clearinghouse, clock, pricing.collateral)?;
    let own = market_price_under(market, oracle, collateral, clock, PriceRule::Exact(pricing.own_market))?;
    let (mut prices, used) =
        load_market_prices_under(remaining, clearinghouse_key, collateral, clock, pricing.other_markets)?;
    prices.retain(|p| p.index != market.index);
    prices.push(MarketPrice::banded(market, own));
    Ok((own.price, prices, used))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(index: u16, low: i64, price: i64, high: i64) -> MarketPrice {
        MarketPrice {
            index,
            spec: PerpSpec {
                tick_size: 1_000_000,
                quote_per_lot_tick: 1,
                initial_margin_bps: 1_000,
                maintenance_margin_bps: 500,
                size_premium_bps: 10,
                size_premium_unit_lots: 100,
            },
            cumulative_funding_per_lot: 7 * i128::from(index),
            price,
            low,
            high,
        }
    }

    fn position(market_index: u16, base_lots: i64, quote_entry: i64, open_bid_lots: i64) -> PerpPosition {
        PerpPosition { base_lots, quote_entry, open_bid_lots, market_index, ..PerpPosition::default() }
    }

    /// Re-valuing one changed position gives exactly the health of valuing the whole account
    /// again, for a position that changes, opens and empties, exact and banded prices, both
    /// valuations.
    #[test]
    fn revaluing_one_position_equals_valuing_the_account_again() {
        let prices = [
            price(0, 95_000_000, 100_000_000, 105_000_000),
            price(1, 20_000_000, 20_000_000, 20_000_000),
            price(2, 9_000_000, 10_000_000, 11_000_000),
        ];
        let mut account: MarginAccount = bytemuck::Zeroable::zeroed();
        account.collateral_balance = 5_000_000_000;
        account.positions[0] = position(0, 30, -2_900_000_000, 4);
        account.positions[1] = position(1, -120, 2_500_000_000, 0);
        for valuation in [Valuation::AgainstAccount, Valuation::ForAccount] {
            let valued = ValuedAccount::new(&account, &prices, valuation).unwrap();
            assert_eq!(
                valued.health(account.collateral_balance).unwrap(),
                health_valued(&account, &prices, valuation).unwrap()
            );
            let changes: [(usize, PerpPosition, u64); 3] = [
                (0, position(0, 10, -900_000_000, 0), 5_100_000_000), // reduced, balance moved
                (2, position(2, -40, 400_000_000, 0), 5_000_000_000), // a new market opens
                (1, PerpPosition { market_index: 1, ..PerpPosition::default() }, 4_900_000_000), // emptied
            ];
            for (slot, changed, balance) in changes {
                let mut after = account;
                after.positions[slot] = changed;
                after.collateral_balance = balance;
                let market = if slot == 1 { 1 } else { changed.market_index };
                let mut revalued = valued;
                revalued.revalue_position(&after, market, &prices).unwrap();
                assert_eq!(
                    revalued.health(after.collateral_balance).unwrap(),
                    health_valued(&after, &prices, valuation).unwrap(),
                    "slot {slot}, {valuation:?}"
                );
            }
        }
    }
}
