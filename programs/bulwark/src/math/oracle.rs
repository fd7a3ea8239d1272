//! Oracle normalisation and the one validation every price read goes through.

use crate::constants::{BPS_DENOMINATOR, MAX_ORACLE_EXPONENT, MAX_ORACLE_FUTURE_SKEW_SECONDS, PRICE_DECIMALS};
use crate::math::safe::{to_i64, MathError, MathResult, SafeMath};

/// A price as the feed publishes it, before normalisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawPrice {
    pub price: i64,
    pub conf: u64,
    /// The feed's own moving average in the same exponent; the TWAP the divergence check uses.
    pub ema_price: i64,
    pub exponent: i32,
    pub publish_time: i64,
    pub publish_slot: u64,
}

/// A price in `PRICE_PRECISION`, ready for validation and for the risk math.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct OracleObservation {
    pub price: i64,
    pub conf: u64,
    pub ema_price: i64,
    pub publish_time: i64,
    pub publish_slot: u64,
}

/// Per-feed limits, copied from the stored oracle configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OracleGuards {
    pub max_staleness_slots: u64,
    pub max_staleness_seconds: i64,
    pub max_confidence_bps: u32,
    pub max_twap_divergence_bps: u32,
}

/// The outcome of validating one observation. The first failing check wins, in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OracleValidity {
    Valid,
    NonPositive,
    StaleTime,
    StaleSlots,
    WideConfidence,
    TooVolatile,
}

/// Which failures an action can live with. Liquidation, ADL, withdrawals and risk-raising
/// orders use `STRICT`; a reduce-only action may accept a stale or jumpy price.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OracleTolerance {
    pub stale: bool,
    pub wide_confidence: bool,
    pub too_volatile: bool,
}

impl OracleTolerance {
    pub const STRICT: Self = Self { stale: false, wide_confidence: false, too_volatile: false };
    pub const REDUCE_ONLY: Self = Self { stale: true, wide_confidence: false, too_volatile: true };

    pub fn accepts(&self, validity: OracleValidity) -> bool {
        match validity {
            OracleValidity::Valid => true,
            // A non-positive price is never usable, whatever the action.
            OracleValidity::NonPositive => false,
            OracleValidity::StaleTime | OracleValidity::StaleSlots => self.stale,
            OracleValidity::WideConfidence => self.wide_confidence,
            OracleValidity::TooVolatile => self.too_volatile,
        }
    }
}

/// How an action prices a market.
///
/// * `Exact(tolerance)`: the feed's price, if `tolerance` accepts its validity; no band.
/// * `Relaxed`: liquidation and ADL price the markets they do *not* act on this way, so one
///   bad side feed cannot block liquidations everywhere. A valid price is exact. A price that
///   fails only freshness, confidence or moving-average checks is still usable while it is at
///   most `RELAXED_MAX_AGE_MULTIPLE` times the feed's staleness limits old (in seconds and in
///   slots), but only as a band (`relaxed_band`): the caller values each position at the end of
///   the band that favours whoever must not be wronged (see `controller::pricing`). Older, or
///   non-positive, it is refused with the same named error as before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriceRule {
    Exact(OracleTolerance),
    Relaxed,
}

/// A relaxed price is usable up to this many staleness limits old.
pub const RELAXED_MAX_AGE_MULTIPLE: u64 = 10;
/// Width of a relaxed price's band per staleness period of age (the first period included):
/// 1% for a price just past its limits, up to 11% at the age bound.
pub const RELAXED_HAIRCUT_BPS_PER_PERIOD: u32 = 100;

/// A price and the range it may really lie in (`low <= price <= high`); an exact price has
/// `low == price == high`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriceBand {
    pub price: i64,
    pub low: i64,
    pub high: i64,
}

impl PriceBand {
    pub const fn exact(price: i64) -> Self {
        Self { price, low: price, high: price }
    }

    pub fn is_exact(&self) -> bool {
        self.low == self.price && self.high == self.price
    }
}

/// The band a `Relaxed` rule gives an observation that failed its checks with `validity`
/// (`None`: unusable). Half-width: the feed's confidence, plus the distance to its moving
/// average, plus `RELAXED_HAIRCUT_BPS_PER_PERIOD` of the price per staleness period of age;
/// the low end never goes below zero.
pub fn relaxed_band(
    obs: &OracleObservation,
    validity: OracleValidity,
    guards: &OracleGuards,
    now_unix: i64,
    now_slot: u64,
) -> MathResult<Option<PriceBand>> {
    match validity {
        OracleValidity::Valid => return Ok(Some(PriceBand::exact(obs.price))),
        OracleValidity::NonPositive => return Ok(None),
        _ => {}
    }
    if obs.price <= 0 || guards.max_staleness_seconds <= 0 || guards.max_staleness_slots == 0 {
        return Ok(None);
    }
    let age_seconds = now_unix.saturating_sub(obs.publish_time);
    if age_seconds < -MAX_ORACLE_FUTURE_SKEW_SECONDS {
        return Ok(None);
    }
    let age_seconds = age_seconds.max(0) as u64;
    let age_slots = now_slot.saturating_sub(obs.publish_slot);
    let max_seconds = (guards.max_staleness_seconds as u64).saturating_mul(RELAXED_MAX_AGE_MULTIPLE);
    let max_slots = guards.max_staleness_slots.saturating_mul(RELAXED_MAX_AGE_MULTIPLE);
    if age_seconds > max_seconds || age_slots > max_slots {
        return Ok(None);
    }
    let periods = (age_seconds / guards.max_staleness_seconds as u64).max(age_slots / guards.max_staleness_slots);
    let haircut_bps = (periods as i128).safe_add(1)?.safe_mul(RELAXED_HAIRCUT_BPS_PER_PERIOD as i128)?;
    let price = obs.price as i128;
    let half_width = (obs.conf as i128)
        .safe_add(price.safe_sub(obs.ema_price as i128)?.abs())?
        .safe_add(price.safe_mul(haircut_bps)?.safe_div_ceil(BPS_DENOMINATOR as i128)?)?;
    Ok(Some(PriceBand {
        price: obs.price,
        low: to_i64(price.safe_sub(half_width)?.max(0))?,
        high: to_i64(price.safe_add(half_width)?)?,
    }))
}

fn pow10(exp: u32) -> MathResult<i128> {
    10i128.checked_pow(exp).ok_or_else(MathError::overflow)
}

/// Rescale `value * 10^exponent` to `PRICE_DECIMALS`. Rounds toward zero unless `round_up`
/// (used for confidence, which should never be understated).
#[track_caller]
pub fn normalize_to_price_precision(value: i128, exponent: i32, round_up: bool) -> MathResult<i64> {
    if exponent.unsigned_abs() > MAX_ORACLE_EXPONENT as u32 {
        return Err(MathError::overflow());
    }
    let shift = PRICE_DECIMALS.safe_add(exponent)?;
    let scaled = if shift >= 0 {
        value.safe_mul(pow10(shift as u32)?)?
    } else {
        let divisor = pow10(shift.unsigned_abs())?;
        if round_up {
            value.safe_div_ceil(divisor)?
        } else {
            value.safe_div(divisor)?
        }
    };
    to_i64(scaled)
}

pub fn normalize(raw: &RawPrice) -> MathResult<OracleObservation> {
    Ok(OracleObservation {
        price: normalize_to_price_precision(raw.price as i128, raw.exponent, false)?,
        conf: normalize_to_price_precision(raw.conf as i128, raw.exponent, true)? as u64,
        ema_price: normalize_to_price_precision(raw.ema_price as i128, raw.exponent, false)?,
        publish_time: raw.publish_time,
        publish_slot: raw.publish_slot,
    })
}

/// Validate one observation against its guards at `now`.
pub fn assess(
    obs: &OracleObservation,
    guards: &OracleGuards,
    now_unix: i64,
    now_slot: u64,
) -> MathResult<OracleValidity> {
    if obs.price <= 0 {
        return Ok(OracleValidity::NonPositive);
    }
    // A publish time slightly in the future (clock skew between publisher and validator) is
    // fresh; one far in the future is not trusted.
    let age_seconds = now_unix.saturating_sub(obs.publish_time);
    if age_seconds > guards.max_staleness_seconds || age_seconds < -MAX_ORACLE_FUTURE_SKEW_SECONDS {
        return Ok(OracleValidity::StaleTime);
    }
    let age_slots = now_slot.saturating_sub(obs.publish_slot);
    if age_slots > guards.max_staleness_slots {
        return Ok(OracleValidity::StaleSlots);
    }
    let price = obs.price as i128;
    let bps = BPS_DENOMINATOR as i128;
    if (obs.conf as i128).safe_mul(bps)? > price.safe_mul(guards.max_confidence_bps as i128)? {
        return Ok(OracleValidity::WideConfidence);
    }
    let ema = obs.ema_price as i128;
    if ema <= 0 {
        return Ok(OracleValidity::TooVolatile);
    }
    let divergence = (price - ema).abs();
    if divergence.safe_mul(bps)? > ema.safe_mul(guards.max_twap_divergence_bps as i128)? {
        return Ok(OracleValidity::TooVolatile);
    }
    Ok(OracleValidity::Valid)
}

/// Move a time-weighted moving average toward `price`, the value that has been in force for
/// the last `elapsed_seconds`: it weighs `min(elapsed, window) / window`. Callers pass the
/// *previous* price, so a new print is judged against an average it is not part of. The first
/// sample (no previous average) is the average.
pub fn update_ema(previous_ema: i64, price: i64, elapsed_seconds: i64, window_seconds: i64) -> MathResult<i64> {
    if previous_ema == 0 || window_seconds <= 0 || elapsed_seconds >= window_seconds {
        return Ok(price);
    }
    let weight = elapsed_seconds.max(0) as i128;
    let delta = (price as i128).safe_sub(previous_ema as i128)?;
    let step = delta.safe_mul(weight)?.safe_div(window_seconds as i128)?;
    to_i64((previous_ema as i128).safe_add(step)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUARDS: OracleGuards = OracleGuards {
        max_staleness_slots: 50,
        max_staleness_seconds: 30,
        max_confidence_bps: 100,
        max_twap_divergence_bps: 1_000,
    };

    fn obs(price: i64, conf: u64, ema: i64, time: i64, slot: u64) -> OracleObservation {
        OracleObservation { price, conf, ema_price: ema, publish_time: time, publish_slot: slot }
    }

    #[test]
    fn normalises_exponents_with_rounding_direction() {
        // Pyth BTC/USD style: expo -8.
        assert_eq!(normalize_to_price_precision(11_660_520_000_000, -8, false).unwrap(), 116_605_200_000);
        assert_eq!(normalize_to_price_precision(199, -8, false).unwrap(), 1);
        assert_eq!(normalize_to_price_precision(199, -8, true).unwrap(), 2);
        assert_eq!(normalize_to_price_precision(-199, -8, false).unwrap(), -1);
        assert_eq!(normalize_to_price_precision(5, -6, false).unwrap(), 5);
        assert_eq!(normalize_to_price_precision(5, -2, false).unwrap(), 50_000);
        assert_eq!(normalize_to_price_precision(5, 3, false).unwrap(), 5_000_000_000);
        assert!(normalize_to_price_precision(5, 19, false).is_err());
        assert!(normalize_to_price_precision(5, i32::MIN, false).is_err());
        assert!(normalize_to_price_precision(i64::MAX as i128, 10, false).is_err());
    }

    #[test]
    fn validity_checks_in_order() {
        let now = 1_000;
        let slot = 500;
        assert_eq!(
            assess(&obs(1_000_000, 0, 1_000_000, now, slot), &GUARDS, now, slot).unwrap(),
            OracleValidity::Valid
        );
        assert_eq!(assess(&obs(0, 0, 1_000_000, now, slot), &GUARDS, now, slot).unwrap(), OracleValidity::NonPositive);
        assert_eq!(assess(&obs(-5, 0, 1_000_000, 0, 0), &GUARDS, now, slot).unwrap(), OracleValidity::NonPositive);
        // Exactly at the limits is fresh; one past is stale.
        assert_eq!(
            assess(&obs(1_000_000, 0, 1_000_000, now - 30, slot), &GUARDS, now, slot).unwrap(),
            OracleValidity::Valid
        );
        assert_eq!(
            assess(&obs(1_000_000, 0, 1_000_000, now - 31, slot), &GUARDS, now, slot).unwrap(),
            OracleValidity::StaleTime
        );
        assert_eq!(
            assess(&obs(1_000_000, 0, 1_000_000, now, slot - 51), &GUARDS, now, slot).unwrap(),
            OracleValidity::StaleSlots
        );
        assert_eq!(
            assess(&obs(1_000_000, 0, 1_000_000, now + 10, slot + 3), &GUARDS, now, slot).unwrap(),
            OracleValidity::Valid
        );
        assert_eq!(
            assess(&obs(1_000_000, 0, 1_000_000, now + 11, slot), &GUARDS, now, slot).unwrap(),
            OracleValidity::StaleTime
        );
        // conf/price = 1% is the limit.
        assert_eq!(
            assess(&obs(1_000_000, 10_000, 1_000_000, now, slot), &GUARDS, now, slot).unwrap(),
            OracleValidity::Valid
        );
        assert_eq!(
            assess(&obs(1_000_000, 10_001, 1_000_000, now, slot), &GUARDS, now, slot).unwrap(),
            OracleValidity::WideConfidence
        );
        // 10% from the moving average is the limit.
        assert_eq!(
            assess(&obs(1_100_000, 0, 1_000_000, now, slot), &GUARDS, now, slot).unwrap(),
            OracleValidity::Valid
        );
        assert_eq!(
            assess(&obs(1_100_001, 0, 1_000_000, now, slot), &GUARDS, now, slot).unwrap(),
            OracleValidity::TooVolatile
        );
        assert_eq!(
            assess(&obs(899_999, 0, 1_000_000, now, slot), &GUARDS, now, slot).unwrap(),
            OracleValidity::TooVolatile
        );
        assert_eq!(assess(&obs(1_000_000, 0, 0, now, slot), &GUARDS, now, slot).unwrap(), OracleValidity::TooVolatile);
    }

    #[test]
    fn ema_moves_by_elapsed_share_of_window() {
        assert_eq!(update_ema(0, 500, 10, 60).unwrap(), 500);
        assert_eq!(update_ema(1_000, 1_600, 15, 60).unwrap(), 1_150);
        assert_eq!(update_ema(1_000, 400, 15, 60).unwrap(), 850);
        assert_eq!(update_ema(1_000, 1_600, 0, 60).unwrap(), 1_000);
        assert_eq!(update_ema(1_000, 1_600, 60, 60).unwrap(), 1_600);
        assert_eq!(update_ema(1_000, 1_600, 600, 60).unwrap(), 1_600);
    }

    #[test]
    fn relaxed_band_widens_with_age_and_stops_at_the_bound() {
        let now = 10_000;
        let slot = 5_000;
        let band = |o: OracleObservation| {
            let validity = assess(&o, &GUARDS, now, slot).unwrap();
            relaxed_band(&o, validity, &GUARDS, now, slot).unwrap().map(|b| (b.low, b.price, b.high))
        };
        // Valid: exact.
        assert_eq!(band(obs(1_000_000, 0, 1_000_000, now, slot)), Some((1_000_000, 1_000_000, 1_000_000)));
        // One second past the 30 s limit: one period, 2%.
        assert_eq!(band(obs(1_000_000, 0, 1_000_000, now - 31, slot)), Some((980_000, 1_000_000, 1_020_000)));
        // At ten limits (300 s, or 500 slots): 11%; one past either bound: unusable.
        assert_eq!(band(obs(1_000_000, 0, 1_000_000, now - 300, slot)), Some((890_000, 1_000_000, 1_110_000)));
        assert_eq!(band(obs(1_000_000, 0, 1_000_000, now - 301, slot)), None);
        assert_eq!(band(obs(1_000_000, 0, 1_000_000, now, slot - 500)), Some((890_000, 1_000_000, 1_110_000)));
        assert_eq!(band(obs(1_000_000, 0, 1_000_000, now, slot - 501)), None);
        // Fresh but wide: its confidence plus 1%.
        assert_eq!(band(obs(1_000_000, 20_000, 1_000_000, now, slot)), Some((970_000, 1_000_000, 1_030_000)));
        // Fresh but 20% from its average: the distance plus 1%.
        assert_eq!(band(obs(1_200_000, 0, 1_000_000, now, slot)), Some((988_000, 1_200_000, 1_412_000)));
        // Never below zero; never for a non-positive or far-future price.
        assert_eq!(band(obs(100, 0, 1_000_000, now, slot)).map(|b| b.0), Some(0));
        assert_eq!(band(obs(0, 0, 1_000_000, now, slot)), None);
        assert_eq!(band(obs(1_000_000, 0, 1_000_000, now + 11, slot)), None);
    }

    #[test]
    fn tolerances() {
        use OracleValidity::*;
        for v in [Valid, NonPositive, StaleTime, StaleSlots, WideConfidence, TooVolatile] {
            assert_eq!(OracleTolerance::STRICT.accepts(v), v == Valid);
        }
        assert!(OracleTolerance::REDUCE_ONLY.accepts(StaleTime));
        assert!(OracleTolerance::REDUCE_ONLY.accepts(TooVolatile));
        assert!(!OracleTolerance::REDUCE_ONLY.accepts(NonPositive));
        assert!(!OracleTolerance::REDUCE_ONLY.accepts(WideConfidence));
    }
}
