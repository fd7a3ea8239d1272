//! Oracle account readers: the edge where feed accounts become `RawPrice`s. Everything after
//! normalisation is the pure math in `math::oracle`.

pub mod manual;
pub mod pyth_legacy;
pub mod pyth_pull;

use anchor_lang::prelude::*;

use crate::error::BulwarkError;
use crate::math::oracle::{
    assess, normalize, relaxed_band, OracleObservation, OracleTolerance, OracleValidity, PriceBand, PriceRule, RawPrice,
};
use crate::state::{
    OracleConfig, ORACLE_SOURCE_FIXED, ORACLE_SOURCE_MANUAL, ORACLE_SOURCE_PYTH_LEGACY, ORACLE_SOURCE_PYTH_PULL,
};

/// A normalised observation and how it fared against its guards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckedPrice {
    pub observation: OracleObservation,
    pub validity: OracleValidity,
}

impl CheckedPrice {
    /// The price, if the action's tolerance accepts its validity.
    pub fn require(&self, tolerance: OracleTolerance) -> Result<i64> {
        if tolerance.accepts(self.validity) {
            Ok(self.observation.price)
        } else {
            Err(validity_error(self.validity).into())
        }
    }
}

/// A price under `rule` (see `PriceRule`): exact when a tolerance accepts it, a band when the
/// relaxed rule does; otherwise the named error of its first failed check.
pub fn price_under_rule(
    config: &OracleConfig,
    feed: Option<&AccountInfo>,
    clock: &Clock,
    rule: PriceRule,
) -> Result<PriceBand> {
    let checked = read_checked(config, feed, clock)?;
    match rule {
        PriceRule::Exact(tolerance) => checked.require(tolerance).map(PriceBand::exact),
        PriceRule::Relaxed => {
            relaxed_band(&checked.observation, checked.validity, &config.guards(), clock.unix_timestamp, clock.slot)
                .map_err(crate::math_err)?
                .ok_or_else(|| validity_error(checked.validity).into())
        }
    }
}

pub fn validity_error(validity: OracleValidity) -> BulwarkError {
    match validity {
        // `Valid` never reaches here through `require`; map it to the generic decode error.
        OracleValidity::Valid => BulwarkError::OracleInvalidData,
        OracleValidity::NonPositive => BulwarkError::OracleNonPositivePrice,
        OracleValidity::StaleTime | OracleValidity::StaleSlots => BulwarkError::OracleStale,
        OracleValidity::WideConfidence => BulwarkError::OracleConfidenceTooWide,
        OracleValidity::TooVolatile => BulwarkError::OracleTooVolatile,
    }
}

/// Decode the configured feed into a raw price. Checks the account is the configured one and is
/// owned by the program its source requires (a look-alike account with the right bytes fails).
pub fn read_raw(config: &OracleConfig, feed: Option<&AccountInfo>) -> Result<RawPrice> {
    if config.source == ORACLE_SOURCE_FIXED {
        return Ok(RawPrice {
            price: config.fixed_price,
            conf: 0,
            ema_price: config.fixed_price,
            exponent: -crate::constants::PRICE_DECIMALS,
            publish_time: i64::MAX,
            publish_slot: u64::MAX,
        });
    }
    let feed = feed.ok_or(BulwarkError::OracleAccountMissing)?;
    require_keys_eq!(*feed.key, config.feed, BulwarkError::OracleAccountMismatch);
    let data = feed.try_borrow_data()?;
    match config.source {
        ORACLE_SOURCE_MANUAL => {
            require_keys_eq!(*feed.owner, crate::ID, BulwarkError::OracleWrongOwner);
            manual::decode(&data)
        }
        ORACLE_SOURCE_PYTH_LEGACY => {
            require_keys_eq!(*feed.owner, pyth_legacy::PYTH_ORACLE_PROGRAM_ID, BulwarkError::OracleWrongOwner);
            pyth_legacy::decode(&data)
        }
        ORACLE_SOURCE_PYTH_PULL => {
            require_keys_eq!(*feed.owner, pyth_pull::PYTH_RECEIVER_PROGRAM_ID, BulwarkError::OracleWrongOwner);
            pyth_pull::decode(&data, &config.pyth_feed_id)
        }
        _ => err!(BulwarkError::InvalidOracleConfig),
    }
}

/// The one validation path every price read takes. Ratios (confidence, distance from the
/// moving average) are judged on the feed's own integers, before rescaling can round them.
pub fn read_checked(config: &OracleConfig, feed: Option<&AccountInfo>, clock: &Clock) -> Result<CheckedPrice> {
    let raw = read_raw(config, feed)?;
    let observation = normalize(&raw).map_err(crate::math_err)?;
    let validity = if config.source == ORACLE_SOURCE_FIXED {
        OracleValidity::Valid
    } else {
        let unscaled = OracleObservation {
            price: raw.price,
            conf: raw.conf,
            ema_price: raw.ema_price,
            publish_time: raw.publish_time,
            publish_slot: raw.publish_slot,
        };
        assess(&unscaled, &config.guards(), clock.unix_timestamp, clock.slot).map_err(crate::math_err)?
    };
    // A positive price too small for `PRICE_PRECISION` is as unusable as a non-positive one.
    let validity = if observation.price <= 0 { OracleValidity::NonPositive } else { validity };
    Ok(CheckedPrice { observation, validity })
}
