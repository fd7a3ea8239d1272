use anchor_lang::prelude::*;

use crate::state::{OracleConfig, PodI128};

/// `Market::status` values.
pub const MARKET_STATUS_PENDING: u8 = 0;
pub const MARKET_STATUS_ACTIVE: u8 = 1;
pub const MARKET_STATUS_REDUCE_ONLY: u8 = 2;
pub const MARKET_STATUS_SETTLING: u8 = 3;
pub const MARKET_STATUS_PAUSED: u8 = 4;

/// Contract specification and risk parameters of a market.
#[zero_copy]
// Plain Borsh derives: see `OracleConfig`.
#[derive(Debug, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize)]
#[borsh(crate = "anchor_lang::prelude::borsh")]
pub struct MarketParams {
    /// Price increment, in `PRICE_PRECISION` collateral per whole base unit.
    pub tick_size: u64,
    /// Base atoms (10^-base_decimals of a unit) per lot.
    pub base_lot_size: u64,
    pub min_order_lots: u64,
    /// Cap on open interest (Σ long lots).
    pub max_open_interest_lots: u64,
    /// Every this many lots of position size add `size_premium_bps` to both margin ratios.
    pub size_premium_unit_lots: u64,
    pub funding_period_seconds: i64,
    pub initial_margin_bps: u32,
    pub maintenance_margin_bps: u32,
    pub size_premium_bps: u32,
    pub liquidation_fee_bps: u32,
    /// Share of net trading fees paid into the insurance vault.
    pub insurance_fee_share_bps: u32,
    /// Clamp on one period's funding, as a share of the oracle TWAP.
    pub max_funding_rate_bps: u32,
    pub taker_fee_bps: u32,
    /// Negative for a maker rebate (never larger than the taker fee).
    pub maker_fee_bps: i32,
    pub base_decimals: u8,
    pub padding: [u8; 7],
}
const_assert_size!(MarketParams, 6 * 8 + 8 * 4 + 8);

/// One perpetual market of a clearinghouse. PDA: `["market", clearinghouse, index (u16 LE)]`.
#[account(zero_copy)]
#[derive(Debug)]
pub struct Market {
    pub clearinghouse: Pubkey,
    pub order_book: Pubkey,
    pub oracle: OracleConfig,
    pub params: MarketParams,
    /// Collateral atoms one lot has paid (long) / received (short) in funding since listing.
    pub cumulative_funding_per_lot: PodI128,
    /// Oracle and book-mark prices in collateral (`PRICE_PRECISION`), time-weighted over one
    /// funding period.
    pub oracle_twap: i64,
    pub mark_twap: i64,
    pub twap_last_update_unix: i64,
    pub last_funding_unix: i64,
    /// A pending listing trades from this time on, once activated.
    pub activates_unix: i64,
    pub open_interest_long_lots: u64,
    pub last_trade_price: i64,
    /// Collateral atoms per lot per tick: every fill's quote is an exact integer.
    pub quote_per_lot_tick: u64,
    pub total_fees: u64,
    pub index: u16,
    pub status: u8,
    pub bump: u8,
    pub collateral_decimals: u8,
    pub padding: [u8; 3],
    /// Waterfall statistics, all-time: liquidations, ADL fills and the haircuts they took.
    pub liquidation_count: u64,
    pub adl_fill_count: u64,
    pub adl_haircut_total: u64,
    /// The last oracle price and book mark sampled, in force until the next sample: each is
    /// folded into its TWAP weighted by how long it stood, so a sample taken right before
    /// funding accrues weighs nothing in that period.
    pub last_oracle_sample: i64,
    pub last_mark_sample: i64,
    /// Samples (at distinct times) since funding last accrued.
    pub funding_samples: u32,
    pub padding2: [u8; 4],
    /// Deficits written off in this market, all-time (`BadDebtRecordedV1`).
    pub bad_debt_total: u64,
    pub reserved: [u8; 72],
}
const_assert_size!(Market, 64 + 104 + 88 + 16 + 8 * 9 + 8 + 24 + 24 + 8 + 72);

impl Market {
    pub fn is_tradable(&self) -> bool {
        self.status == MARKET_STATUS_ACTIVE || self.status == MARKET_STATUS_REDUCE_ONLY
    }
}
