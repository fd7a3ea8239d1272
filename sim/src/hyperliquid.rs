//! Hyperliquid's real auto-deleveraging on 10 October 2025, wave by wave: a reference beside
//! the replay's figures, not a replay of it.
//!
//! Source: pluriholonomic/autodeleveraging-analysis @ aae0be8600e6362c1f2f73a0a345ad2237800e32,
//! `out/eval_horizon_sweep/gap_ms=5000/horizon_ms=0/two_pass_equity_delta_by_wave.csv`, the
//! data behind arXiv 2512.01112 v3 ("Autodeleveraging: impossibilities and optimization").
//! Per wave: `budget_needed_usd` (Σ |mark − fill price| · size over the wave's ADL fills: what
//! the losers' deficit needed) and `budget_prod_usd` (Σ over winners of their end equity without
//! ADL less with it: what production took), rounded to the cent.

/// (wave, needed USD, taken USD).
pub const WAVES: [(u32, f64, f64); 16] = [
    (1, 2_266_239.82, 414_233.97),
    (2, 1_383_878.32, 171_137.10),
    (4, 1_065_843.45, 407_593.47),
    (5, 115_496.58, 41_011.41),
    (7, 8_055.87, 8_995.09),
    (8, 1_576_039.22, 11_415_047.96),
    (9, 44_867.64, 16_097.97),
    (10, 1_622_228.64, 1_071_568.12),
    (11, 373_726.47, 1_202_926.64),
    (12, 5_177.08, 7_682.72),
    (13, 5_584_123.65, 38_449_033.21),
    (14, 1_021_113.06, 6_612_642.34),
    (17, 9_400.22, 243_600.80),
    (21, 1_545.19, 18_544.06),
    (25, 671.65, 17_880.94),
    (28, 1_262.75, 10_339.52),
];

/// Σ needed and Σ taken over the waves.
pub fn totals() -> (f64, f64) {
    WAVES.iter().fold((0.0, 0.0), |(n, t), (_, needed, taken)| (n + needed, t + taken))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_waves_sum_to_the_published_totals() {
        // The source's totals: $15,079,669.61 needed, $60,108,335.33 taken.
        let (needed, taken) = super::totals();
        assert!((needed - 15_079_669.61).abs() < 0.05, "{needed}");
        assert!((taken - 60_108_335.33).abs() < 0.05, "{taken}");
    }
}
