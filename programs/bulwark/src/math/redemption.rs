//! Redemption-aware collateral pricing (DESIGN.md §4).
//!
//! While redemption works, a redeemable stablecoin is worth what it redeems for, give or take a
//! small band, whatever one thin venue prints. Only when redemption itself is in doubt does the
//! market print take over.

use crate::constants::{BPS_DENOMINATOR, PRICE_PRECISION};
use crate::math::safe::{to_i64, MathResult, SafeMath};

/// `CollateralOracleState::redemption_mode` values.
pub const REDEMPTION_MODE_UNSET: u8 = 0;
pub const REDEMPTION_MODE_HEALTHY: u8 = 1;
pub const REDEMPTION_MODE_BROKEN: u8 = 2;

/// Why redemption is considered broken (bit flags, several may hold at once).
pub const BROKEN_ATTESTATION_STALE: u8 = 1 << 0;
pub const BROKEN_REDEMPTION_DISABLED: u8 = 1 << 1;
pub const BROKEN_RESERVES_BELOW_ONE: u8 = 1 << 2;
pub const BROKEN_MARKET_BELOW_HARD_BAND: u8 = 1 << 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RedemptionParams {
    /// Healthy mode never values the collateral below `r * (1 - soft_band)`.
    pub soft_band_bps: u32,
    /// A market price below `r * (1 - hard_band)` ...
    pub hard_band_bps: u32,
    /// ... for at least this long breaks the healthy mode.
    pub hard_band_grace_seconds: i64,
    /// Attestations older than this are stale, which breaks the healthy mode.
    pub max_attestation_age_seconds: i64,
}

impl RedemptionParams {
    pub fn is_valid(&self) -> bool {
        self.soft_band_bps <= self.hard_band_bps
            && (self.hard_band_bps as i64) < BPS_DENOMINATOR
            && self.hard_band_grace_seconds >= 0
            && self.max_attestation_age_seconds > 0
    }
}

/// What the redemption attestation feeds say, in `PRICE_PRECISION`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RedemptionAttestation {
    /// Redemption value `r` of one collateral token, in USD.
    pub rate: i64,
    pub rate_publish_time: i64,
    pub redemption_enabled: bool,
    /// Reserves / liabilities; below `PRICE_PRECISION` (1.0) the token is under-backed.
    pub reserve_ratio: i64,
    pub health_publish_time: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RedemptionOutcome {
    /// Collateral price in USD, `PRICE_PRECISION`.
    pub price: i64,
    pub mode: u8,
    /// `BROKEN_*` flags; zero when healthy.
    pub broken_reasons: u8,
    /// When the market price first went below the hard band (0 when it is not below).
    pub below_hard_band_since: i64,
}

/// `r * (1 - band)`, rounded down (by at most 1e-6; a lower collateral price is not conservative
/// for every position, since it raises perp prices in collateral terms, so this only fixes the
/// direction, it does not claim to favour anyone).
pub fn band_floor(rate: i64, band_bps: u32) -> MathResult<i64> {
    let scaled =
        (rate as i128).safe_mul(BPS_DENOMINATOR as i128 - band_bps as i128)?.safe_div_floor(BPS_DENOMINATOR as i128)?;
    to_i64(scaled)
}

/// Collateral price for one read at `now`.
///
/// * healthy: `min(r, max(m, r * (1 - soft_band)))`
/// * broken:  `min(m, r)`
pub fn redemption_aware_price(
    market_price: i64,
    attestation: &RedemptionAttestation,
    params: &RedemptionParams,
    now_unix: i64,
    below_hard_band_since: i64,
) -> MathResult<RedemptionOutcome> {
    let rate = attestation.rate;
    let mut reasons = 0u8;

    let rate_age = now_unix.saturating_sub(attestation.rate_publish_time);
    let health_age = now_unix.saturating_sub(attestation.health_publish_time);
    if rate_age > params.max_attestation_age_seconds || health_age > params.max_attestation_age_seconds {
        reasons |= BROKEN_ATTESTATION_STALE;
    }
    if !attestation.redemption_enabled {
        reasons |= BROKEN_REDEMPTION_DISABLED;
    }
    if attestation.reserve_ratio < PRICE_PRECISION {
        reasons |= BROKEN_RESERVES_BELOW_ONE;
    }

    let hard_floor = band_floor(rate, params.hard_band_bps)?;
    let since = if market_price < hard_floor {
        if below_hard_band_since == 0 {
            now_unix
        } else {
            below_hard_band_since
        }
    } else {
        0
    };
    if since != 0 && now_unix.safe_sub(since)? >= params.hard_band_grace_seconds {
        reasons |= BROKEN_MARKET_BELOW_HARD_BAND;
    }

    let (price, mode) = if reasons == 0 {
        let soft_floor = band_floor(rate, params.soft_band_bps)?;
        (market_price.max(soft_floor).min(rate), REDEMPTION_MODE_HEALTHY)
    } else {
        (market_price.min(rate), REDEMPTION_MODE_BROKEN)
    };
    Ok(RedemptionOutcome { price, mode, broken_reasons: reasons, below_hard_band_since: since })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: RedemptionParams = RedemptionParams {
        soft_band_bps: 100,
        hard_band_bps: 500,
        hard_band_grace_seconds: 900,
        max_attestation_age_seconds: 3_600,
    };
    const NOW: i64 = 1_760_130_000;

    fn healthy() -> RedemptionAttestation {
        RedemptionAttestation {
            rate: 1_000_000,
            rate_publish_time: NOW - 60,
            redemption_enabled: true,
            reserve_ratio: 1_020_000,
            health_publish_time: NOW - 60,
        }
    }

    /// (case, market price, attestation, below-band-since in, expected price, mode, reasons, since out)
    #[test]
    fn table_of_exact_prices() {
        let stale = RedemptionAttestation { health_publish_time: NOW - 3_601, ..healthy() };
        let disabled = RedemptionAttestation { redemption_enabled: false, ..healthy() };
        let under_reserved = RedemptionAttestation { reserve_ratio: 999_999, ..healthy() };
        let cases: [(&str, i64, RedemptionAttestation, i64, i64, u8, u8, i64); 9] = [
            (
                "market 0.65, healthy attestation: soft floor",
                650_000,
                healthy(),
                0,
                990_000,
                REDEMPTION_MODE_HEALTHY,
                0,
                NOW,
            ),
            (
                "market 0.65, stale attestation: market",
                650_000,
                stale,
                0,
                650_000,
                REDEMPTION_MODE_BROKEN,
                BROKEN_ATTESTATION_STALE,
                NOW,
            ),
            (
                "market 0.65, redemption disabled: market",
                650_000,
                disabled,
                0,
                650_000,
                REDEMPTION_MODE_BROKEN,
                BROKEN_REDEMPTION_DISABLED,
                NOW,
            ),
            (
                "market 0.97, reserves below one: market",
                970_000,
                under_reserved,
                0,
                970_000,
                REDEMPTION_MODE_BROKEN,
                BROKEN_RESERVES_BELOW_ONE,
                0,
            ),
            ("market above r: capped at r", 1_004_000, healthy(), 0, 1_000_000, REDEMPTION_MODE_HEALTHY, 0, 0),
            (
                "market above r, broken: still capped at r",
                1_004_000,
                stale,
                0,
                1_000_000,
                REDEMPTION_MODE_BROKEN,
                BROKEN_ATTESTATION_STALE,
                0,
            ),
            ("market inside the band: market", 995_500, healthy(), 0, 995_500, REDEMPTION_MODE_HEALTHY, 0, 0),
            (
                "market below hard band for the whole grace: broken",
                650_000,
                healthy(),
                NOW - 900,
                650_000,
                REDEMPTION_MODE_BROKEN,
                BROKEN_MARKET_BELOW_HARD_BAND,
                NOW - 900,
            ),
            (
                "market below hard band inside the grace: healthy",
                650_000,
                healthy(),
                NOW - 899,
                990_000,
                REDEMPTION_MODE_HEALTHY,
                0,
                NOW - 899,
            ),
        ];
        for (name, market, att, since_in, price, mode, reasons, since_out) in cases {
            let out = redemption_aware_price(market, &att, &PARAMS, NOW, since_in).unwrap();
            assert_eq!(out.price, price, "{name}");
            assert_eq!(out.mode, mode, "{name}");
            assert_eq!(out.broken_reasons, reasons, "{name}");
            assert_eq!(out.below_hard_band_since, since_out, "{name}");
        }
    }

    #[test]
    fn recovery_above_hard_band_clears_the_timer() {
        let out = redemption_aware_price(960_000, &healthy(), &PARAMS, NOW, NOW - 10_000).unwrap();
        assert_eq!(out.below_hard_band_since, 0);
        assert_eq!(out.mode, REDEMPTION_MODE_HEALTHY);
        assert_eq!(out.price, 990_000);
    }

    #[test]
    fn band_floor_rounds_down() {
        assert_eq!(band_floor(999_999, 100).unwrap(), 989_999); // 989_999.01
        assert_eq!(band_floor(1_000_000, 0).unwrap(), 1_000_000);
        assert!(PARAMS.is_valid());
        assert!(!RedemptionParams { soft_band_bps: 600, ..PARAMS }.is_valid());
        assert!(!RedemptionParams { hard_band_bps: 10_000, soft_band_bps: 0, ..PARAMS }.is_valid());
    }
}
