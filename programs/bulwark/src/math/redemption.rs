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
/// The attested rate is not believable: not positive, above par by more than
/// `MAX_REDEMPTION_RATE_ABOVE_PAR`, or below the market print by more than the hard band.
pub const BROKEN_RATE_OUT_OF_BOUNDS: u8 = 1 << 4;

/// An attested rate up to this much above par (1.0) is taken as par (rounding, accrual
/// between attestations); above it the attestation is not believed. The collateral is never
/// valued above par in any mode.
pub const MAX_REDEMPTION_RATE_ABOVE_PAR: i64 = PRICE_PRECISION / 200; // 0.5%
/// One interval between two observations of the market print counts for at most this long on
/// the hard-band clock, so one observation after a long silence can neither claim nor erase a
/// long stretch (the keeper observes every minute).
pub const HARD_BAND_MAX_INTERVAL_SECONDS: i64 = 300;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RedemptionParams {
    /// Healthy mode never values the collateral below `r * (1 - soft_band)`.
    pub soft_band_bps: u32,
    /// A market price below `r * (1 - hard_band)` ...
    pub hard_band_bps: u32,
    /// ... for at least this long, net (see `HardBandClock`), breaks the healthy mode.
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

/// The hard-band condition, time-weighted: the net time the market print has spent below
/// `r·(1 − hard_band)`, integrated over the observations refreshes make.
///
/// Each interval between two observations (at most `HARD_BAND_MAX_INTERVAL_SECONDS` of it) is
/// split in halves, one per end (the trapezoid rule): a half whose observation was below adds
/// its length, a half whose observation was inside removes it. Two observations below add the
/// whole interval, two inside drain it, one of each leaves the clock where it was. The clock
/// stays within `[0, 2 × grace]` and the band is breached while it is at least `grace`.
///
/// So one refresh inside the band, however timed, resets nothing: it can only neutralise the
/// two half-intervals next to it. Leaving the broken state takes as long inside, net, as the
/// clock stands above `grace` (up to `grace` itself). An observation adds nothing on its own
/// (refreshing more often changes nothing while the print stays on one side), and a stale
/// print is no observation at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct HardBandClock {
    pub below_seconds: i64,
    /// When the print was last observed (0: never).
    pub last_observed_unix: i64,
    pub last_below: bool,
}

impl HardBandClock {
    /// Fold in an observation at `now` that was `below` the hard band, or not.
    pub fn observe(self, below: bool, now_unix: i64, grace_seconds: i64) -> MathResult<Self> {
        let mut below_seconds = self.below_seconds;
        if self.last_observed_unix != 0 {
            let interval = now_unix.safe_sub(self.last_observed_unix)?.clamp(0, HARD_BAND_MAX_INTERVAL_SECONDS);
            let first_half = interval.safe_div(2)?;
            let second_half = interval - first_half;
            let signed = |half: i64, was_below: bool| if was_below { half } else { -half };
            below_seconds = below_seconds
                .safe_add(signed(first_half, self.last_below))?
                .safe_add(signed(second_half, below))?
                .clamp(0, grace_seconds.max(0).safe_mul(2)?);
        }
        Ok(Self { below_seconds, last_observed_unix: now_unix, last_below: below })
    }

    /// Breached: below the band for `grace` net (with a zero grace, as soon as it is seen below).
    pub fn breached(&self, grace_seconds: i64) -> bool {
        self.below_seconds >= grace_seconds && (self.below_seconds > 0 || self.last_below)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RedemptionOutcome {
    /// Collateral price in USD, `PRICE_PRECISION`; `None` when redemption is broken and the
    /// market print is unusable (the caller falls back to its last good price, or refuses).
    pub price: Option<i64>,
    pub mode: u8,
    /// `BROKEN_*` flags; zero when healthy.
    pub broken_reasons: u8,
    pub hard_band: HardBandClock,
    /// Healthy, but no usable print: `price` is the soft floor.
    pub soft_floor_fallback: bool,
}

/// `r * (1 - band)`, rounded down (by at most 1e-6; a lower collateral price is not conservative
/// for every position, since it raises perp prices in collateral terms, so this only fixes the
/// direction, it does not claim to favour anyone).
pub fn band_floor(rate: i64, band_bps: u32) -> MathResult<i64> {
    let scaled =
        (rate as i128).safe_mul(BPS_DENOMINATOR as i128 - band_bps as i128)?.safe_div_floor(BPS_DENOMINATOR as i128)?;
    to_i64(scaled)
}

/// Collateral price for one read at `now`; `market_price` is `None` when the print is unusable
/// (stale). With `r' = min(r, 1.0)`:
///
/// * healthy: `min(r', max(m, r' * (1 - soft_band)))`; with no usable print, the soft floor
///   `r' * (1 - soft_band)`, the lowest price healthy mode can give;
/// * broken:  `min(m, r')`, or `min(m, 1.0)` when the rate is not believed; with no usable
///   print, `None`.
///
/// The rate is believed when `0 < r <= 1.0 + MAX_REDEMPTION_RATE_ABOVE_PAR` and, with a usable
/// print, `r >= m * (1 - hard_band)`: a rate far above the market is what the hard band is
/// for, a rate far below it would undervalue every account's collateral on one feed's word.
pub fn redemption_aware_price(
    market_price: Option<i64>,
    attestation: &RedemptionAttestation,
    params: &RedemptionParams,
    now_unix: i64,
    hard_band: HardBandClock,
) -> MathResult<RedemptionOutcome> {
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

    let mut rate_believed =
        attestation.rate > 0 && attestation.rate <= PRICE_PRECISION.safe_add(MAX_REDEMPTION_RATE_ABOVE_PAR)?;
    if let Some(market) = market_price {
        rate_believed &= attestation.rate >= band_floor(market, params.hard_band_bps)?;
    }
    if !rate_believed {
        reasons |= BROKEN_RATE_OUT_OF_BOUNDS;
    }
    // The rate used: never above par; par itself when the attestation is not believed.
    let rate = if rate_believed { attestation.rate.min(PRICE_PRECISION) } else { PRICE_PRECISION };

    let hard_band = match market_price {
        Some(market) => hard_band.observe(
            market < band_floor(rate, params.hard_band_bps)?,
            now_unix,
            params.hard_band_grace_seconds,
        )?,
        None => hard_band,
    };
    if hard_band.breached(params.hard_band_grace_seconds) {
        reasons |= BROKEN_MARKET_BELOW_HARD_BAND;
    }

    let soft_floor = band_floor(rate, params.soft_band_bps)?;
    let (price, mode) = if reasons == 0 {
        (Some(market_price.map_or(soft_floor, |m| m.max(soft_floor).min(rate))), REDEMPTION_MODE_HEALTHY)
    } else {
        (market_price.map(|m| m.min(rate)), REDEMPTION_MODE_BROKEN)
    };
    Ok(RedemptionOutcome {
        price,
        mode,
        broken_reasons: reasons,
        hard_band,
        soft_floor_fallback: reasons == 0 && market_price.is_none(),
    })
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
    const NEVER: HardBandClock = HardBandClock { below_seconds: 0, last_observed_unix: 0, last_below: false };

    fn healthy() -> RedemptionAttestation {
        RedemptionAttestation {
            rate: 1_000_000,
            rate_publish_time: NOW - 60,
            redemption_enabled: true,
            reserve_ratio: 1_020_000,
            health_publish_time: NOW - 60,
        }
    }

    /// A clock that last saw the print `below` (or not) a minute ago, `seconds` on it.
    fn clock(seconds: i64, below: bool) -> HardBandClock {
        HardBandClock { below_seconds: seconds, last_observed_unix: NOW - 60, last_below: below }
    }

    /// (case, market price, attestation, clock in, expected price, mode, reasons, seconds out)
    #[test]
    fn table_of_exact_prices() {
        let stale = RedemptionAttestation { health_publish_time: NOW - 3_601, ..healthy() };
        let disabled = RedemptionAttestation { redemption_enabled: false, ..healthy() };
        let under_reserved = RedemptionAttestation { reserve_ratio: 999_999, ..healthy() };
        type Case = (&'static str, Option<i64>, RedemptionAttestation, HardBandClock, Option<i64>, u8, u8, i64);
        let h = REDEMPTION_MODE_HEALTHY;
        let b = REDEMPTION_MODE_BROKEN;
        let cases: [Case; 12] = [
            ("market 0.65, healthy attestation: soft floor", Some(650_000), healthy(), NEVER, Some(990_000), h, 0, 0),
            ("market 0.65, stale attestation: market", Some(650_000), stale, NEVER, Some(650_000), b, 1, 0),
            ("market 0.65, redemption disabled: market", Some(650_000), disabled, NEVER, Some(650_000), b, 2, 0),
            ("market 0.97, reserves below one: market", Some(970_000), under_reserved, NEVER, Some(970_000), b, 4, 0),
            ("market above r: capped at r", Some(1_004_000), healthy(), NEVER, Some(1_000_000), h, 0, 0),
            ("market above r, broken: still capped at r", Some(1_004_000), stale, NEVER, Some(1_000_000), b, 1, 0),
            ("market inside the band: market", Some(995_500), healthy(), NEVER, Some(995_500), h, 0, 0),
            // 840 s below, then a minute below: 900 s, the grace.
            ("below for the whole grace: broken", Some(650_000), healthy(), clock(840, true), Some(650_000), b, 8, 900),
            (
                "below, 1 s short of the grace: healthy",
                Some(650_000),
                healthy(),
                clock(839, true),
                Some(990_000),
                h,
                0,
                899,
            ),
            // Seen inside a minute ago: the interval is half below, half inside.
            ("one inside observation: neutral", Some(650_000), healthy(), clock(900, false), Some(650_000), b, 8, 900),
            ("stale print, healthy: soft floor", None, healthy(), clock(300, true), Some(990_000), h, 0, 300),
            ("stale print, broken: no price", None, disabled, clock(300, true), None, b, 2, 300),
        ];
        for (name, market, att, clock_in, price, mode, reasons, seconds) in cases {
            let out = redemption_aware_price(market, &att, &PARAMS, NOW, clock_in).unwrap();
            assert_eq!(out.price, price, "{name}");
            assert_eq!(out.mode, mode, "{name}");
            assert_eq!(out.broken_reasons, reasons, "{name}");
            assert_eq!(out.hard_band.below_seconds, seconds, "{name}");
            assert_eq!(out.soft_floor_fallback, market.is_none() && mode == h, "{name}");
            let observed = if market.is_some() { NOW } else { clock_in.last_observed_unix };
            assert_eq!(out.hard_band.last_observed_unix, observed, "{name}");
        }
    }

    #[test]
    fn rate_is_bounded_by_par_and_by_the_market() {
        let at = |rate: i64, market: Option<i64>| {
            redemption_aware_price(market, &RedemptionAttestation { rate, ..healthy() }, &PARAMS, NOW, NEVER).unwrap()
        };
        // Up to 0.5% above par: taken as par, never valued above it.
        let out = at(1_005_000, Some(1_004_000));
        assert_eq!((out.price, out.mode), (Some(1_000_000), REDEMPTION_MODE_HEALTHY));
        let out = at(1_005_000, None);
        assert_eq!(out.price, Some(990_000));
        // Beyond: not believed; the market rules, capped at par.
        for (rate, market, price) in [
            (1_005_001, Some(1_004_000), Some(1_000_000)),
            (2_000_000, Some(970_000), Some(970_000)),
            (0, Some(970_000), Some(970_000)),
            (-5, None, None),
        ] {
            let out = at(rate, market);
            assert_eq!(
                (out.price, out.mode, out.broken_reasons),
                (price, REDEMPTION_MODE_BROKEN, BROKEN_RATE_OUT_OF_BOUNDS),
                "r {rate}"
            );
        }
        // A rate far below the market (0.5 while it prints 1.00) would undervalue everything on
        // one feed's word: not believed either. At the edge (m·(1 − 5%)) it is.
        let out = at(500_000, Some(1_000_000));
        assert_eq!((out.price, out.broken_reasons), (Some(1_000_000), BROKEN_RATE_OUT_OF_BOUNDS));
        let out = at(950_000, Some(1_000_000));
        assert_eq!((out.price, out.mode), (Some(950_000), REDEMPTION_MODE_HEALTHY));
        assert_eq!(at(949_999, Some(1_000_000)).broken_reasons, BROKEN_RATE_OUT_OF_BOUNDS);
    }

    /// Walk `(seconds after the previous observation, print)` from a fresh clock.
    fn walk(steps: &[(i64, i64)]) -> Vec<RedemptionOutcome> {
        let mut clock = NEVER;
        let mut now = NOW;
        let mut out = vec![];
        for &(dt, market) in steps {
            now += dt;
            let att = RedemptionAttestation { rate_publish_time: now, health_publish_time: now, ..healthy() };
            let o = redemption_aware_price(Some(market), &att, &PARAMS, now, clock).unwrap();
            clock = o.hard_band;
            out.push(o);
        }
        out
    }

    #[test]
    fn one_well_timed_refresh_inside_resets_nothing() {
        // Below (0.65) observed every minute; at minute 10 someone refreshes during a one-second
        // bounce to 0.97, then the keeper's next observation is below again.
        let mut steps = vec![(0, 650_000)];
        steps.extend((0..10).map(|_| (60, 650_000)));
        steps.push((1, 970_000));
        steps.push((59, 650_000));
        steps.extend((0..5).map(|_| (60, 650_000)));
        let out = walk(&steps);
        assert_eq!(out[10].hard_band.below_seconds, 600);
        // The bounce's two half-intervals (0 s below, 1 s inside; 29 s inside, 30 s below)
        // cancel: the clock holds at 600, it does not reset.
        assert_eq!(out[11].hard_band.below_seconds, 599);
        assert_eq!(out[12].hard_band.below_seconds, 600);
        // Five more minutes below: 900 s, broken 16 minutes after the first print below (the
        // bounce's minute counts for nothing); a timer reset by the bounce would have waited
        // until minute 26.
        assert_eq!(out[16].hard_band.below_seconds, 840);
        assert_eq!(out[16].mode, REDEMPTION_MODE_HEALTHY);
        assert_eq!(out[17].hard_band.below_seconds, 900);
        assert_eq!((out[17].mode, out[17].broken_reasons), (REDEMPTION_MODE_BROKEN, BROKEN_MARKET_BELOW_HARD_BAND));
    }

    #[test]
    fn refreshing_more_often_changes_nothing() {
        let sparse = walk(&[(0, 650_000), (60, 650_000), (60, 650_000)]);
        let dense = walk(&[(0, 650_000), (1, 650_000), (59, 650_000), (30, 650_000), (30, 650_000), (0, 650_000)]);
        assert_eq!(sparse.last().unwrap().hard_band.below_seconds, 120);
        assert_eq!(dense.last().unwrap().hard_band.below_seconds, 120);
        // One observation after a long silence claims at most HARD_BAND_MAX_INTERVAL_SECONDS.
        let silent = walk(&[(0, 650_000), (3_600, 650_000)]);
        assert_eq!(silent[1].hard_band.below_seconds, HARD_BAND_MAX_INTERVAL_SECONDS);
    }

    #[test]
    fn leaving_the_broken_state_takes_time_inside() {
        // 30 minutes below: the clock stops at 2 × grace (1,800 s).
        let mut steps = vec![(0, 650_000)];
        steps.extend((0..30).map(|_| (60, 650_000)));
        // Back inside: the first interval is neutral, then each minute drains 60 s.
        steps.extend((0..17).map(|_| (60, 960_000)));
        let out = walk(&steps);
        assert_eq!(out[30].hard_band.below_seconds, 1_800);
        assert_eq!(out[31].hard_band.below_seconds, 1_800);
        assert_eq!(out[45].hard_band.below_seconds, 960);
        assert_eq!(out[45].mode, REDEMPTION_MODE_BROKEN);
        assert_eq!(out[46].hard_band.below_seconds, 900);
        assert_eq!(out[46].mode, REDEMPTION_MODE_BROKEN);
        assert_eq!(out[47].hard_band.below_seconds, 840);
        assert_eq!((out[47].mode, out[47].price), (REDEMPTION_MODE_HEALTHY, Some(990_000)));
    }

    #[test]
    fn zero_grace_breaks_on_the_first_print_below() {
        let params = RedemptionParams { hard_band_grace_seconds: 0, ..PARAMS };
        let out = redemption_aware_price(Some(650_000), &healthy(), &params, NOW, NEVER).unwrap();
        assert_eq!(out.broken_reasons, BROKEN_MARKET_BELOW_HARD_BAND);
        let out = redemption_aware_price(Some(960_000), &healthy(), &params, NOW, NEVER).unwrap();
        assert_eq!(out.mode, REDEMPTION_MODE_HEALTHY);
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
