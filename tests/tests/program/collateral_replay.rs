//! The USDe/USDT minutes of 10–11 October 2025 through both collateral price modes, with the
//! attestations healthy all night (redemption stayed open at 1:1).

use bulwark::constants::PRICE_PRECISION;
use bulwark::math::redemption::*;

const USDE_CSV: &str = include_str!("../../data/crash-2025-10-10/usde-usdt-spot-1m.csv");

/// Parse a decimal string into `PRICE_PRECISION` exactly (no floats).
fn parse_price(text: &str) -> i64 {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let mut frac = frac.to_string();
    assert!(frac.len() <= 6, "more precision than PRICE_PRECISION: {text}");
    while frac.len() < 6 {
        frac.push('0');
    }
    whole.parse::<i64>().unwrap() * PRICE_PRECISION + frac.parse::<i64>().unwrap()
}

/// Minute start (unix seconds) from `YYYY-MM-DDTHH:MM:SSZ` on 2025-10-10/11.
fn minute_unix(ts: &str) -> i64 {
    let day: i64 = ts[8..10].parse().unwrap();
    let hour: i64 = ts[11..13].parse().unwrap();
    let minute: i64 = ts[14..16].parse().unwrap();
    const OCT_10_2025: i64 = 1_760_054_400;
    OCT_10_2025 + (day - 10) * 86_400 + hour * 3_600 + minute * 60
}

#[test]
fn usde_night_in_both_modes() {
    let params = RedemptionParams {
        soft_band_bps: 100,
        hard_band_bps: 1_000,
        hard_band_grace_seconds: 3_600,
        max_attestation_age_seconds: 3_600,
    };
    let mut market_min = i64::MAX;
    let mut market_max = i64::MIN;
    let mut aware_min = i64::MAX;
    let mut aware_max = i64::MIN;
    let mut hard_band = HardBandClock::default();
    let mut observations = 0;
    let mut broken = 0;
    for line in USDE_CSV.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        let start = minute_unix(cols[0]);
        // Walk each minute open → low → high → close (a candle's worst case for a long holder).
        for (offset, price) in [(0, cols[1]), (15, cols[3]), (30, cols[2]), (59, cols[4])] {
            let now = start + offset;
            let market = parse_price(price);
            let attestation = RedemptionAttestation {
                rate: PRICE_PRECISION,
                rate_publish_time: now - 30,
                redemption_enabled: true,
                reserve_ratio: 1_010_000,
                health_publish_time: now - 30,
            };
            let out = redemption_aware_price(Some(market), &attestation, &params, now, hard_band).unwrap();
            hard_band = out.hard_band;
            let price = out.price.expect("a usable print always prices");
            observations += 1;
            broken += (out.mode == REDEMPTION_MODE_BROKEN) as u32;
            market_min = market_min.min(market);
            market_max = market_max.max(market);
            aware_min = aware_min.min(price);
            aware_max = aware_max.max(price);
        }
    }
    println!("USDe collateral price over 2025-10-10 18:00 – 2025-10-11 03:59 UTC ({observations} observations):");
    println!("  market mode:            min {market_min} max {market_max} (PRICE_PRECISION 1e6)");
    println!("  redemption-aware mode:  min {aware_min} max {aware_max}; broken observations: {broken}");
    assert_eq!(observations, 2_400);
    assert_eq!(market_min, 650_000, "the 21:54 wick");
    assert_eq!(market_max, 1_000_500);
    // Redemption stayed healthy: never below r·(1 − 1%), never above r.
    assert_eq!(aware_min, 990_000);
    assert_eq!(aware_max, 1_000_000);
    assert_eq!(broken, 0);
}

#[test]
fn parse_price_is_exact() {
    assert_eq!(parse_price("0.65"), 650_000);
    assert_eq!(parse_price("1.0"), 1_000_000);
    assert_eq!(parse_price("0.9987"), 998_700);
    assert_eq!(parse_price("2"), 2_000_000);
    assert_eq!(minute_unix("2025-10-10T21:54:00Z"), 1_760_133_240);
}
