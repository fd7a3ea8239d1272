//! The deployment file: what a clearinghouse, its collateral, feeds and markets should be.
//! Amounts and prices are decimal strings, converted exactly; every key is checked (unknown
//! keys are refused, so a typo never silently falls back to a default).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anchor_lang::prelude::Pubkey;
use anyhow::{bail, Context, Result};
use bulwark::state::{
    CollateralOracleConfig, MarketParams, OracleConfig, WaterfallParams, COLLATERAL_MODE_MARKET,
    COLLATERAL_MODE_REDEMPTION_AWARE, ORACLE_SOURCE_FIXED, ORACLE_SOURCE_MANUAL, ORACLE_SOURCE_PYTH_LEGACY,
    ORACLE_SOURCE_PYTH_PULL,
};
use bulwark_sdk::units::{parse_amount, parse_decimal, PRICE_DECIMALS};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentConfig {
    pub clearinghouse: ClearinghouseSpec,
    pub collateral: CollateralSpec,
    #[serde(default)]
    pub feeds: Vec<FeedSpec>,
    #[serde(default)]
    pub markets: Vec<MarketSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClearinghouseSpec {
    #[serde(default)]
    pub id: u16,
    /// Defaults to the signer.
    pub guardian: Option<String>,
    pub timelock_seconds: i64,
    pub withdrawal_breaker: BreakerSpec,
    pub waterfall: WaterfallSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerSpec {
    pub window_seconds: i64,
    pub max_net_outflow_bps: u32,
    /// Collateral units.
    pub min_outflow_allowance: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaterfallSpec {
    pub adl_grace_slots: u64,
    pub insurance_unstake_cooldown_seconds: i64,
    /// Collateral units.
    pub max_book_liquidation_reward: String,
    pub liquidation_buffer_bps: u32,
    pub book_liquidation_band_bps: u32,
    pub book_liquidation_reward_bps: u32,
    pub max_fill_deviation_bps: u32,
    /// Slots an ADL round takes nominations before it fills.
    pub adl_nomination_slots: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollateralSpec {
    /// `"create"` (a new mint with the signer as authority) or an existing mint's address.
    pub mint: String,
    /// With `"create"`: where the new mint's keypair is kept, relative to this file, so a rerun
    /// finds the same mint.
    pub mint_keypair: Option<PathBuf>,
    pub decimals: u8,
    /// `"market"` or `"redemption_aware"`.
    pub mode: String,
    pub oracle: OracleSpec,
    pub redemption: Option<RedemptionSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedemptionSpec {
    /// Feed names (from `[[feeds]]`) or addresses.
    pub rate_feed: String,
    pub health_feed: String,
    pub hard_band_grace_seconds: i64,
    pub max_attestation_age_seconds: i64,
    pub soft_band_bps: u32,
    pub hard_band_bps: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OracleSpec {
    /// `"fixed"`, `"manual"`, `"pyth_legacy"` or `"pyth_pull"`.
    pub source: String,
    /// A `[[feeds]]` name or an account address (not for `fixed`).
    pub feed: Option<String>,
    /// 32-byte hex id a `pyth_pull` update must carry.
    pub pyth_feed_id: Option<String>,
    /// For `fixed`: the price, in collateral per unit (default 1).
    pub fixed_price: Option<String>,
    #[serde(default = "defaults::staleness_slots")]
    pub max_staleness_slots: u64,
    #[serde(default = "defaults::staleness_seconds")]
    pub max_staleness_seconds: i64,
    #[serde(default = "defaults::confidence_bps")]
    pub max_confidence_bps: u32,
    #[serde(default = "defaults::twap_divergence_bps")]
    pub max_twap_divergence_bps: u32,
}

mod defaults {
    pub fn staleness_slots() -> u64 {
        150
    }
    pub fn staleness_seconds() -> i64 {
        60
    }
    pub fn confidence_bps() -> u32 {
        200
    }
    pub fn twap_divergence_bps() -> u32 {
        1_000
    }
}

/// A manual feed this deployment creates; the signer is its publishing authority.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedSpec {
    pub name: String,
    pub feed_id: u64,
    pub exponent: i32,
    pub ema_window_seconds: u32,
    /// Published once, when the feed is created (decimal, in the feed's units).
    pub price: String,
    #[serde(default = "defaults_true")]
    pub redemption_enabled: bool,
    /// For a redemption-health feed: reserves / liabilities (decimal, e.g. "1.02").
    pub reserve_ratio: Option<String>,
}

fn defaults_true() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketSpec {
    pub index: u16,
    pub name: String,
    pub oracle: OracleSpec,
    /// Collateral per whole base unit.
    pub tick_size: String,
    pub base_lot_size: u64,
    pub base_decimals: u8,
    pub min_order_lots: u64,
    pub max_open_interest_lots: u64,
    #[serde(default)]
    pub size_premium_unit_lots: u64,
    #[serde(default)]
    pub size_premium_bps: u32,
    pub funding_period_seconds: i64,
    pub initial_margin_bps: u32,
    pub maintenance_margin_bps: u32,
    pub liquidation_fee_bps: u32,
    pub insurance_fee_share_bps: u32,
    pub max_funding_rate_bps: u32,
    pub taker_fee_bps: u32,
    pub maker_fee_bps: i32,
}

impl DeploymentConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let config: Self = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        config.check().with_context(|| format!("checking {}", path.display()))?;
        Ok(config)
    }

    fn check(&self) -> Result<()> {
        let mut names = std::collections::BTreeSet::new();
        for feed in &self.feeds {
            if !names.insert(&feed.name) {
                bail!("feed {:?} is listed twice", feed.name);
            }
        }
        for (position, market) in self.markets.iter().enumerate() {
            if market.index as usize != position {
                bail!("markets must be listed by index from 0: {:?} is at position {position}", market.name);
            }
        }
        if self.collateral.mint == "create" && self.collateral.mint_keypair.is_none() {
            bail!("collateral.mint = \"create\" needs collateral.mint_keypair (where the new mint's key is kept)");
        }
        Ok(())
    }

    pub fn breaker_min_outflow_allowance(&self) -> Result<u64> {
        Ok(parse_amount(&self.clearinghouse.withdrawal_breaker.min_outflow_allowance, self.collateral.decimals as u32)?)
    }

    pub fn waterfall(&self) -> Result<WaterfallParams> {
        let w = &self.clearinghouse.waterfall;
        Ok(WaterfallParams {
            adl_grace_slots: w.adl_grace_slots,
            insurance_unstake_cooldown_seconds: w.insurance_unstake_cooldown_seconds,
            max_book_liquidation_reward: parse_amount(&w.max_book_liquidation_reward, self.collateral.decimals as u32)
                .context("waterfall.max_book_liquidation_reward")?,
            liquidation_buffer_bps: w.liquidation_buffer_bps,
            book_liquidation_band_bps: w.book_liquidation_band_bps,
            book_liquidation_reward_bps: w.book_liquidation_reward_bps,
            max_fill_deviation_bps: w.max_fill_deviation_bps,
            adl_nomination_slots: w.adl_nomination_slots,
            ..bytemuck::Zeroable::zeroed()
        })
    }

    pub fn collateral_oracle(&self, feeds: &BTreeMap<String, Pubkey>) -> Result<CollateralOracleConfig> {
        let c = &self.collateral;
        let market = c.oracle.to_config(feeds).context("collateral.oracle")?;
        let mut config = CollateralOracleConfig { market, ..bytemuck::Zeroable::zeroed() };
        match c.mode.as_str() {
            "market" => {
                config.mode = COLLATERAL_MODE_MARKET;
                if c.redemption.is_some() {
                    bail!("collateral.redemption is only for mode = \"redemption_aware\"");
                }
            }
            "redemption_aware" => {
                let r = c.redemption.as_ref().context("mode = \"redemption_aware\" needs [collateral.redemption]")?;
                config.mode = COLLATERAL_MODE_REDEMPTION_AWARE;
                config.redemption_rate_feed = resolve_feed(&r.rate_feed, feeds)?;
                config.redemption_health_feed = resolve_feed(&r.health_feed, feeds)?;
                config.hard_band_grace_seconds = r.hard_band_grace_seconds;
                config.max_attestation_age_seconds = r.max_attestation_age_seconds;
                config.soft_band_bps = r.soft_band_bps;
                config.hard_band_bps = r.hard_band_bps;
            }
            other => bail!("collateral.mode {other:?}: expected \"market\" or \"redemption_aware\""),
        }
        Ok(config)
    }
}

impl MarketSpec {
    pub fn params(&self) -> Result<MarketParams> {
        let tick =
            parse_decimal(&self.tick_size, PRICE_DECIMALS).with_context(|| format!("{}: tick_size", self.name))?;
        Ok(MarketParams {
            tick_size: u64::try_from(tick).with_context(|| format!("{}: tick_size must be positive", self.name))?,
            base_lot_size: self.base_lot_size,
            min_order_lots: self.min_order_lots,
            max_open_interest_lots: self.max_open_interest_lots,
            size_premium_unit_lots: self.size_premium_unit_lots,
            funding_period_seconds: self.funding_period_seconds,
            initial_margin_bps: self.initial_margin_bps,
            maintenance_margin_bps: self.maintenance_margin_bps,
            size_premium_bps: self.size_premium_bps,
            liquidation_fee_bps: self.liquidation_fee_bps,
            insurance_fee_share_bps: self.insurance_fee_share_bps,
            max_funding_rate_bps: self.max_funding_rate_bps,
            taker_fee_bps: self.taker_fee_bps,
            maker_fee_bps: self.maker_fee_bps,
            base_decimals: self.base_decimals,
            ..bytemuck::Zeroable::zeroed()
        })
    }
}

impl FeedSpec {
    /// The first publication, in the feed's exponent.
    pub fn update(&self) -> Result<bulwark::instructions::PriceFeedUpdate> {
        let decimals =
            u32::try_from(-self.exponent).with_context(|| format!("feed {}: exponent must be <= 0", self.name))?;
        let price = i64::try_from(parse_decimal(&self.price, decimals).with_context(|| format!("feed {}", self.name))?)
            .with_context(|| format!("feed {}: price too large", self.name))?;
        let reserve_ratio = match &self.reserve_ratio {
            Some(text) => i64::try_from(parse_decimal(text, PRICE_DECIMALS)?)?,
            None => 0,
        };
        Ok(bulwark::instructions::PriceFeedUpdate {
            price,
            conf: 0,
            redemption_enabled: self.redemption_enabled,
            reserve_ratio,
        })
    }
}

fn resolve_feed(name_or_address: &str, feeds: &BTreeMap<String, Pubkey>) -> Result<Pubkey> {
    if let Some(key) = feeds.get(name_or_address) {
        return Ok(*key);
    }
    Pubkey::from_str(name_or_address)
        .map_err(|_| anyhow::anyhow!("{name_or_address:?} is neither a [[feeds]] name nor an address"))
}

fn parse_feed_id(hex: &str) -> Result<[u8; 32]> {
    let hex = hex.trim_start_matches("0x");
    if hex.len() != 64 || !hex.is_ascii() {
        bail!("pyth_feed_id: expected 64 hex digits, got {}", hex.len());
    }
    let mut id = [0u8; 32];
    for (i, byte) in id.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).context("pyth_feed_id: not hex")?;
    }
    Ok(id)
}

impl OracleSpec {
    pub fn to_config(&self, feeds: &BTreeMap<String, Pubkey>) -> Result<OracleConfig> {
        let source = match self.source.as_str() {
            "fixed" => ORACLE_SOURCE_FIXED,
            "manual" => ORACLE_SOURCE_MANUAL,
            "pyth_legacy" => ORACLE_SOURCE_PYTH_LEGACY,
            "pyth_pull" => ORACLE_SOURCE_PYTH_PULL,
            other => bail!("oracle source {other:?}: expected fixed, manual, pyth_legacy or pyth_pull"),
        };
        let feed = match (source, &self.feed) {
            (ORACLE_SOURCE_FIXED, None) => Pubkey::default(),
            (ORACLE_SOURCE_FIXED, Some(_)) => bail!("a fixed oracle takes no feed"),
            (_, Some(feed)) => resolve_feed(feed, feeds)?,
            (_, None) => bail!("oracle source {:?} needs a feed", self.source),
        };
        let fixed_price = match (source, &self.fixed_price) {
            (ORACLE_SOURCE_FIXED, text) => {
                i64::try_from(parse_decimal(text.as_deref().unwrap_or("1"), PRICE_DECIMALS)?).context("fixed_price")?
            }
            (_, Some(_)) => bail!("fixed_price is only for a fixed oracle"),
            (_, None) => 0,
        };
        let pyth_feed_id = match (&self.pyth_feed_id, source) {
            (Some(hex), ORACLE_SOURCE_PYTH_PULL) => parse_feed_id(hex)?,
            (Some(_), _) => bail!("pyth_feed_id is only for a pyth_pull oracle"),
            (None, ORACLE_SOURCE_PYTH_PULL) => bail!("a pyth_pull oracle needs pyth_feed_id"),
            (None, _) => [0; 32],
        };
        Ok(OracleConfig {
            feed,
            pyth_feed_id,
            fixed_price,
            max_staleness_slots: self.max_staleness_slots,
            max_staleness_seconds: self.max_staleness_seconds,
            max_confidence_bps: self.max_confidence_bps,
            max_twap_divergence_bps: self.max_twap_divergence_bps,
            source,
            padding: [0; 7],
        })
    }
}
