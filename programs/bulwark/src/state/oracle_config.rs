use anchor_lang::prelude::*;

use crate::constants::{
    MAX_ATTESTATION_AGE_SECONDS, MAX_HARD_BAND_GRACE_SECONDS, MAX_ORACLE_CONFIDENCE_BPS, MAX_ORACLE_STALENESS_SECONDS,
    MAX_ORACLE_STALENESS_SLOTS, MAX_ORACLE_TWAP_DIVERGENCE_BPS, MAX_REDEMPTION_HARD_BAND_BPS,
};
use crate::error::BulwarkError;
use crate::math::oracle::OracleGuards;
use crate::math::redemption::RedemptionParams;

/// `OracleConfig::source` values.
pub const ORACLE_SOURCE_FIXED: u8 = 0;
pub const ORACLE_SOURCE_MANUAL: u8 = 1;
pub const ORACLE_SOURCE_PYTH_LEGACY: u8 = 2;
pub const ORACLE_SOURCE_PYTH_PULL: u8 = 3;

/// `CollateralOracleConfig::mode` values.
pub const COLLATERAL_MODE_MARKET: u8 = 0;
pub const COLLATERAL_MODE_REDEMPTION_AWARE: u8 = 1;

/// Where one price comes from and the limits it must meet.
#[zero_copy]
// Plain Borsh derives (Anchor's would clash with `#[zero_copy]`'s IDL impl): with no implicit
// padding the Borsh and bytemuck encodings are the same bytes, so the IDL's bytemuck layout
// also describes the instruction argument.
#[derive(Debug, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize)]
#[borsh(crate = "anchor_lang::prelude::borsh")]
pub struct OracleConfig {
    /// The feed account (unused for `Fixed`).
    pub feed: Pubkey,
    /// Pyth feed id a `PythPull` update must carry.
    pub pyth_feed_id: [u8; 32],
    /// Price for `Fixed`, in `PRICE_PRECISION`.
    pub fixed_price: i64,
    pub max_staleness_slots: u64,
    pub max_staleness_seconds: i64,
    pub max_confidence_bps: u32,
    pub max_twap_divergence_bps: u32,
    pub source: u8,
    pub padding: [u8; 7],
}
const_assert_size!(OracleConfig, 104);

impl OracleConfig {
    pub fn guards(&self) -> OracleGuards {
        OracleGuards {
            max_staleness_slots: self.max_staleness_slots,
            max_staleness_seconds: self.max_staleness_seconds,
            max_confidence_bps: self.max_confidence_bps,
            max_twap_divergence_bps: self.max_twap_divergence_bps,
        }
    }

    pub fn validate(&self) -> Result<()> {
        match self.source {
            ORACLE_SOURCE_FIXED => {
                require!(self.fixed_price > 0, BulwarkError::InvalidOracleConfig);
            }
            ORACLE_SOURCE_MANUAL | ORACLE_SOURCE_PYTH_LEGACY | ORACLE_SOURCE_PYTH_PULL => {
                require!(self.feed != Pubkey::default(), BulwarkError::InvalidOracleConfig);
                require!(
                    (1..=MAX_ORACLE_STALENESS_SECONDS).contains(&self.max_staleness_seconds)
                        && (1..=MAX_ORACLE_STALENESS_SLOTS).contains(&self.max_staleness_slots),
                    BulwarkError::InvalidOracleConfig
                );
                require!(
                    (1..=MAX_ORACLE_CONFIDENCE_BPS).contains(&self.max_confidence_bps)
                        && (1..=MAX_ORACLE_TWAP_DIVERGENCE_BPS).contains(&self.max_twap_divergence_bps),
                    BulwarkError::InvalidOracleConfig
                );
                if self.source == ORACLE_SOURCE_PYTH_PULL {
                    require!(self.pyth_feed_id != [0; 32], BulwarkError::InvalidOracleConfig);
                }
            }
            _ => return err!(BulwarkError::InvalidOracleConfig),
        }
        require!(self.padding == [0; 7], BulwarkError::InvalidOracleConfig);
        Ok(())
    }
}

/// How the collateral is priced in USD (DESIGN.md §4).
#[zero_copy]
// Plain Borsh derives (Anchor's would clash with `#[zero_copy]`'s IDL impl): with no implicit
// padding the Borsh and bytemuck encodings are the same bytes, so the IDL's bytemuck layout
// also describes the instruction argument.
#[derive(Debug, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize)]
#[borsh(crate = "anchor_lang::prelude::borsh")]
pub struct CollateralOracleConfig {
    /// The collateral's market price feed (`m`).
    pub market: OracleConfig,
    /// Manual feed attesting the redemption rate `r` (its price).
    pub redemption_rate_feed: Pubkey,
    /// Manual feed attesting redemption health (enabled flag, reserve ratio).
    pub redemption_health_feed: Pubkey,
    pub hard_band_grace_seconds: i64,
    pub max_attestation_age_seconds: i64,
    pub soft_band_bps: u32,
    pub hard_band_bps: u32,
    pub mode: u8,
    pub padding: [u8; 7],
}
const_assert_size!(CollateralOracleConfig, 104 + 64 + 16 + 8 + 8);

impl CollateralOracleConfig {
    pub fn redemption_params(&self) -> RedemptionParams {
        RedemptionParams {
            soft_band_bps: self.soft_band_bps,
            hard_band_bps: self.hard_band_bps,
            hard_band_grace_seconds: self.hard_band_grace_seconds,
            max_attestation_age_seconds: self.max_attestation_age_seconds,
        }
    }

    pub fn validate(&self) -> Result<()> {
        self.market.validate()?;
        require!(self.padding == [0; 7], BulwarkError::InvalidOracleConfig);
        match self.mode {
            COLLATERAL_MODE_MARKET => Ok(()),
            COLLATERAL_MODE_REDEMPTION_AWARE => {
                require!(
                    self.redemption_rate_feed != Pubkey::default() && self.redemption_health_feed != Pubkey::default(),
                    BulwarkError::InvalidOracleConfig
                );
                // The market print must be independent of the attestation, or `m == r` always.
                require!(
                    self.market.feed != self.redemption_rate_feed && self.market.feed != self.redemption_health_feed,
                    BulwarkError::InvalidOracleConfig
                );
                require!(self.redemption_params().is_valid(), BulwarkError::InvalidOracleConfig);
                require!(
                    self.hard_band_bps <= MAX_REDEMPTION_HARD_BAND_BPS
                        && self.hard_band_grace_seconds <= MAX_HARD_BAND_GRACE_SECONDS
                        && self.max_attestation_age_seconds <= MAX_ATTESTATION_AGE_SECONDS,
                    BulwarkError::InvalidOracleConfig
                );
                Ok(())
            }
            _ => err!(BulwarkError::InvalidOracleConfig),
        }
    }
}

/// `CollateralOracleState::price_source` values: where the recorded price came from.
/// A usable market print (or, in redemption-aware mode, the rule applied to it).
pub const COLLATERAL_PRICE_MARKET: u8 = 0;
/// Healthy redemption mode with an unusable (stale) print: the soft floor `r·(1 − soft_band)`.
pub const COLLATERAL_PRICE_SOFT_FLOOR: u8 = 1;
/// Market or broken mode with an unusable print: the last good price, kept.
pub const COLLATERAL_PRICE_LAST_GOOD: u8 = 2;

/// What the last collateral price read saw; lets the hard-band clock and mode switches persist.
#[zero_copy]
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CollateralOracleState {
    /// The price the latest refresh recorded (see `price_source`).
    pub last_price: i64,
    /// When a refresh last saw a usable market print: the hard-band clock's last observation
    /// and the age of the last-good fallback.
    pub last_good_unix: i64,
    /// Slot of the latest refresh, whatever it recorded.
    pub last_update_slot: u64,
    /// Net seconds the market print has spent below the hard band (`math::redemption::HardBandClock`).
    pub below_hard_band_seconds: i64,
    pub redemption_mode: u8,
    pub broken_reasons: u8,
    pub price_source: u8,
    /// The last usable print was below the hard band (1) or not (0).
    pub last_print_below_hard_band: u8,
    pub padding: [u8; 4],
}
const_assert_size!(CollateralOracleState, 40);
