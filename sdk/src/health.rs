//! Account health exactly as the program computes it, plus each position's liquidation and
//! bankruptcy prices.

use anchor_lang::prelude::Result;
use bulwark::controller::pricing::{self, MarketPrice};
use bulwark::math::margin::Health;
use bulwark::math::perp::{bankruptcy_price, funding_owed, liquidation_price, value_position};
use bulwark::state::{MarginAccount, Market};

/// A market's price for the margin math: `price` in collateral, `PRICE_PRECISION`.
pub fn market_price(market: &Market, price: i64) -> MarketPrice {
    MarketPrice::new(market, price)
}

/// Equity and requirements of `account`; every market it holds must be in `prices`. Banded
/// prices are read against the account (as the program checks a trader, a liquidator or an ADL
/// counterparty).
pub fn health(account: &MarginAccount, prices: &[MarketPrice]) -> Result<Health> {
    pricing::health(account, prices)
}

/// Health as the program judges an account for liquidation or ADL: banded prices read in its
/// favour.
pub fn health_for_liquidation(account: &MarginAccount, prices: &[MarketPrice]) -> Result<Health> {
    pricing::health_for_liquidation(account, prices)
}

/// One position's risk figures, everything else in the account held fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PositionRisk {
    pub market_index: u16,
    pub base_lots: i64,
    pub unrealized_pnl: i128,
    /// Price at which the account falls to its maintenance requirement (`None`: never).
    pub liquidation_price: Option<i64>,
    /// Price at which the account's equity is zero (`None`: never).
    pub bankruptcy_price: Option<i64>,
}

/// Risk figures for every open position of `account`.
pub fn position_risks(account: &MarginAccount, prices: &[MarketPrice]) -> Result<Vec<PositionRisk>> {
    let total = health(account, prices)?;
    let mut out = Vec::new();
    for position in account.open_positions().filter(|p| p.base_lots != 0) {
        let market = prices
            .iter()
            .find(|m| m.index == position.market_index)
            .ok_or(bulwark::error::BulwarkError::MissingMarketAccount)?;
        let funding =
            funding_owed(position.base_lots, market.cumulative_funding_per_lot, position.last_cumulative_funding.get())
                .map_err(bulwark::math_err)?;
        let v = value_position(position.base_lots, position.quote_entry, 0, 0, funding, market.price, &market.spec)
            .map_err(bulwark::math_err)?;
        // Everything but this position's PnL (its funding stays: it does not move with price).
        let other_equity = total.equity - v.unrealized_pnl;
        let own_maintenance = v.notional * v.maintenance_ratio_bps as i128;
        let own_maintenance = (own_maintenance + bulwark::constants::BPS_DENOMINATOR as i128 - 1)
            / bulwark::constants::BPS_DENOMINATOR as i128;
        let other_maintenance = total.maintenance_requirement - own_maintenance;
        out.push(PositionRisk {
            market_index: position.market_index,
            base_lots: position.base_lots,
            unrealized_pnl: v.unrealized_pnl,
            liquidation_price: liquidation_price(
                position.base_lots,
                position.quote_entry,
                other_equity,
                other_maintenance,
                &market.spec,
            )
            .map_err(bulwark::math_err)?,
            bankruptcy_price: bankruptcy_price(position.base_lots, position.quote_entry, other_equity, &market.spec)
                .map_err(bulwark::math_err)?,
        });
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use bulwark::state::PerpPosition;

    /// 1 lot = 1 unit, $1 ticks, 1,000,000 atoms per lot per tick, IMR 10%, MMR 5%.
    pub fn market(index: u16) -> Market {
        let mut m: Market = bytemuck::Zeroable::zeroed();
        m.index = index;
        m.params.tick_size = 1_000_000;
        m.params.initial_margin_bps = 1_000;
        m.params.maintenance_margin_bps = 500;
        m.quote_per_lot_tick = 1_000_000;
        m
    }

    pub fn account(balance: u64, positions: &[(u16, i64, i64)]) -> MarginAccount {
        let mut a: MarginAccount = bytemuck::Zeroable::zeroed();
        a.collateral_balance = balance;
        for (i, (market_index, base_lots, quote_entry)) in positions.iter().enumerate() {
            a.positions[i] = PerpPosition {
                market_index: *market_index,
                base_lots: *base_lots,
                quote_entry: *quote_entry,
                ..Default::default()
            };
        }
        a
    }

    #[test]
    fn health_and_prices_match_the_program() {
        // 100 long at $100 with $1,090: at $93.5 equity 440, maintenance 467.5.
        let a = account(1_090_000_000, &[(0, 100, -10_000_000_000)]);
        let prices = [market_price(&market(0), 93_500_000)];
        let h = health(&a, &prices).unwrap();
        assert_eq!((h.equity, h.maintenance_requirement), (440_000_000, 467_500_000));
        let risk = position_risks(&a, &prices).unwrap();
        // Bankrupt at 100 − 10.9 = $89.1; liquidated at 89.1 / 0.95 = $93.789…
        assert_eq!(risk[0].bankruptcy_price, Some(89_100_000));
        assert_eq!(risk[0].liquidation_price, Some(93_789_473));
        let at = |p| health(&a, &[market_price(&market(0), p)]).unwrap();
        assert!(at(93_789_474).meets_maintenance() && !at(93_789_472).meets_maintenance());
        assert_eq!(at(89_100_000).equity, 0);
        // A market not passed is an error, not a guess.
        assert!(health(&a, &[market_price(&market(1), 1)]).is_err());
    }
}
