//! A replay scenario: price series, the collateral's market print, a redemption-attestation
//! schedule, the population and how each minute is walked. Any `ts_utc,open,high,low,close`
//! CSV replays; paths are relative to the scenario file.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    pub seed: u64,
    /// Price points per minute (≥ 4): the candle's path through open, both extremes and close.
    #[serde(default = "default_substeps")]
    pub substeps: usize,
    #[serde(default = "default_walk")]
    pub walk: Walk,
    /// Skip this many minutes of the series first.
    #[serde(default)]
    pub start_minute: usize,
    /// Replay at most this many minutes (all when absent).
    pub minutes: Option<usize>,
    /// Slots per sub-step (cluster time is the minute split evenly over its sub-steps).
    #[serde(default = "default_slots")]
    pub slots_per_substep: u64,
    /// Slots an ADL round takes nominations before it fills (the clearinghouse's setting).
    #[serde(default = "default_adl_nomination_slots")]
    pub adl_nomination_slots: u64,
    /// Collateral modes to run, each on the same seed: "market", "redemption_aware".
    pub modes: Vec<Mode>,
    /// One or more perps; the first one's minutes drive the clock.
    pub markets: Vec<MarketSpec>,
    pub collateral: CollateralSpec,
    /// Attested redemption rate and health from a minute on (first entry at minute 0; minutes
    /// count from the replay's first minute, after `start_minute`).
    pub attestations: Vec<Attestation>,
    pub population: Population,
    /// Check every invariant every this many sub-steps.
    #[serde(default = "default_invariant_every")]
    pub invariant_every_substeps: usize,
    /// An attacker population that runs the known attacks against the program during the
    /// replay (none when absent).
    #[serde(default)]
    pub attacker: Option<AttackerSpec>,
    /// Further runs after the modes, each the scenario with its risk settings changed (e.g.
    /// thin insurance and high leverage, so bankruptcies outrun insurance and ADL cuts).
    #[serde(default)]
    pub stress: Vec<StressRun>,
    /// The report's name for a run (set on the copy a stress run replays).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_label: Option<String>,
    /// The waterfall's bands for a run, when not the defaults (set by a stress run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bands_bps: Option<(u32, u32)>,
}

/// A run of the scenario with other risk settings; every field left out keeps the scenario's.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StressRun {
    pub label: String,
    pub mode: Mode,
    pub leverage: Option<[f64; 2]>,
    /// Applied to every market.
    pub initial_margin_bps: Option<u32>,
    pub maintenance_margin_bps: Option<u32>,
    pub liquidation_fee_bps: Option<u32>,
    /// Fill band and book-liquidation band of the waterfall (both must sit under maintenance).
    pub max_fill_deviation_bps: Option<u32>,
    pub book_liquidation_band_bps: Option<u32>,
    pub stakers: Option<usize>,
    /// Whole collateral units per staker.
    pub stake: Option<u64>,
}

impl Scenario {
    /// The scenario a stress run replays: its overrides applied, in its mode, under its label.
    pub fn stressed(&self, run: &StressRun) -> Scenario {
        let mut s = self.clone();
        s.modes = vec![run.mode];
        s.stress.clear();
        s.run_label = Some(run.label.clone());
        for m in &mut s.markets {
            m.initial_margin_bps = run.initial_margin_bps.unwrap_or(m.initial_margin_bps);
            m.maintenance_margin_bps = run.maintenance_margin_bps.unwrap_or(m.maintenance_margin_bps);
            m.liquidation_fee_bps = run.liquidation_fee_bps.unwrap_or(m.liquidation_fee_bps);
        }
        s.population.leverage = run.leverage.unwrap_or(s.population.leverage);
        s.population.stakers = run.stakers.unwrap_or(s.population.stakers);
        s.population.stake = run.stake.unwrap_or(s.population.stake);
        if run.max_fill_deviation_bps.is_some() || run.book_liquidation_band_bps.is_some() {
            let defaults = bulwark_tests::default_waterfall();
            s.bands_bps = Some((
                run.max_fill_deviation_bps.unwrap_or(defaults.max_fill_deviation_bps),
                run.book_liquidation_band_bps.unwrap_or(defaults.book_liquidation_band_bps),
            ));
        }
        s
    }

    /// Every run in order: one per mode, then the stress runs, each as the scenario it replays.
    pub fn runs(&self) -> Vec<Scenario> {
        let mut runs: Vec<Scenario> = self
            .modes
            .iter()
            .map(|mode| {
                let mut s = self.clone();
                s.modes = vec![*mode];
                s.stress.clear();
                s
            })
            .collect();
        runs.extend(self.stress.iter().map(|r| self.stressed(r)));
        runs
    }
}

fn default_substeps() -> usize {
    4
}
fn default_walk() -> Walk {
    Walk::ByDirection
}
fn default_slots() -> u64 {
    38
}
fn default_adl_nomination_slots() -> u64 {
    4
}
fn default_invariant_every() -> usize {
    4
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Market,
    RedemptionAware,
}

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::Market => "market",
            Mode::RedemptionAware => "redemption_aware",
        }
    }
}

/// The order a minute's extremes are visited in.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Walk {
    /// A falling candle goes O→H→L→C, a rising one O→L→H→C (the usual intrabar guess).
    ByDirection,
    /// Always O→L→H→C (worst case for longs first).
    OpenLowHighClose,
    /// Always O→H→L→C.
    OpenHighLowClose,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MarketSpec {
    pub symbol: String,
    pub csv: PathBuf,
    /// Base atoms per lot and the base's decimals (0.001 BTC: 100_000 atoms at 8 decimals).
    pub base_lot_size: u64,
    pub base_decimals: u8,
    /// Tick in USD, as a decimal string.
    pub tick_usd: String,
    pub initial_margin_bps: u32,
    pub maintenance_margin_bps: u32,
    pub liquidation_fee_bps: u32,
    pub taker_fee_bps: u32,
    pub maker_fee_bps: i32,
    pub insurance_fee_share_bps: u32,
    /// Oracle guard: largest distance from the feed's moving average, bps.
    pub max_oracle_divergence_bps: u32,
    pub ema_window_seconds: u32,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CollateralSpec {
    pub symbol: String,
    /// The one venue's market print the collateral is valued at in market mode.
    pub csv: PathBuf,
    pub max_oracle_divergence_bps: u32,
    pub soft_band_bps: u32,
    pub hard_band_bps: u32,
    pub hard_band_grace_seconds: i64,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    pub minute: usize,
    pub rate: String,
    pub redemption_enabled: bool,
    pub reserve_ratio: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Population {
    pub traders: usize,
    /// Deposit range, whole collateral units.
    pub deposit: [u64; 2],
    pub leverage: [f64; 2],
    pub long_fraction: f64,
    pub makers: usize,
    pub maker_deposit: u64,
    pub maker_levels: usize,
    pub maker_level_lots: u64,
    pub maker_spread_bps: u64,
    pub maker_step_bps: u64,
    /// A maker stops quoting the side that would grow its position past this.
    pub maker_inventory_limit_lots: i64,
    pub stakers: usize,
    pub stake: u64,
    /// The liquidator takes positions over (needs `liquidator_deposit`) instead of closing
    /// them against the book.
    pub liquidator_takeover: bool,
    pub liquidator_deposit: u64,
}

/// Attackers: owners each holding two margin accounts (sub-accounts 0 and 1) that trade
/// against each other, so the owner's net position stays flat and anything it gains comes out
/// of someone else. Each strategy runs at the start of every `every_minutes`-th minute in the
/// window, in the gap between the makers' cancels and their new quotes (an attacker ordering
/// its transactions between a maker's), except `deposit_ping` and `self_liquidation`, which
/// react every sub-step before the keeper's cycle.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AttackerSpec {
    pub owners: usize,
    /// Per margin account (two per owner), whole collateral units.
    pub deposit: u64,
    pub strategies: Vec<Strategy>,
    #[serde(default = "default_every_minutes")]
    pub every_minutes: usize,
    /// The window, in minutes from the replay's first: from `from_minute`, for `minutes` (to
    /// the end when absent).
    #[serde(default)]
    pub from_minute: usize,
    pub minutes: Option<usize>,
}

fn default_every_minutes() -> usize {
    1
}

impl AttackerSpec {
    pub fn runs(&self, strategy: Strategy) -> bool {
        self.strategies.contains(&strategy)
    }

    /// Whether `minute` lies in the attack window.
    pub fn active(&self, minute: usize) -> bool {
        minute >= self.from_minute && self.minutes.is_none_or(|n| minute < self.from_minute + n)
    }

    /// Whether the minute strategies run at the start of `minute`.
    pub fn acts(&self, minute: usize) -> bool {
        self.active(minute) && (minute - self.from_minute) % self.every_minutes.max(1) == 0
    }
}

/// What an attacker owner tries.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Open: one account rests at the fill band's edge and its sibling takes it at the largest
    /// size its margin allows (first oversized), so the loss lands on the taker; the winner then
    /// withdraws all it may. Close (next turn): reduce-only at the other edge, the same
    /// account losing again.
    HedgedPair,
    /// One-lot orders at the resting band's edges, just outside them and at absurd prices.
    FarOrders,
    /// Fill one book side (alternating) with one-lot orders from both accounts at the far
    /// edge of the resting band.
    Jam,
    /// A liquidatable attacker account deposits one atom every sub-step (to reset the ADL
    /// grace clock).
    DepositPing,
    /// A skewed two-sided book (bid just under the fill band's top, ask at the resting band's
    /// top; mirrored on alternate turns) placed right before the owner cranks `update_funding`,
    /// then cancelled.
    FundingSteer,
    /// A liquidatable attacker account is liquidated against the book by its own sibling as
    /// the cranker, the sibling resting an order at the book-liquidation band's worst price.
    SelfLiquidation,
}

/// One minute of one series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candle {
    pub unix: i64,
    pub open: i64,
    pub high: i64,
    pub low: i64,
    pub close: i64,
}

/// A non-negative decimal string in `PRICE_PRECISION`, exactly (no floats).
pub fn parse_price(text: &str) -> Result<i64> {
    let value = bulwark_sdk::units::parse_decimal(text, bulwark_sdk::units::PRICE_DECIMALS)
        .with_context(|| format!("price {text:?}"))?;
    if value < 0 {
        bail!("price {text:?} is negative");
    }
    i64::try_from(value).with_context(|| format!("price {text:?} too large"))
}

/// An RFC 3339 UTC timestamp (`2025-10-10T18:00:00Z`) to unix seconds.
pub fn parse_utc(ts: &str) -> Result<i64> {
    let t = time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
        .with_context(|| format!("timestamp {ts:?}: expected RFC 3339, e.g. 2025-10-10T18:00:00Z"))?;
    Ok(t.unix_timestamp())
}

/// Unix seconds as `HH:MM` UTC (plot axes).
pub fn utc_hhmm(unix: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix) {
        Ok(t) => format!("{:02}:{:02}", t.hour(), t.minute()),
        Err(_) => String::new(),
    }
}

/// One row of a price series: OHLC candles (`ts_utc,open,high,low,close[,volume]`) or a
/// close-only series (`ts_utc,price`), told apart by the header.
#[derive(serde::Deserialize)]
struct Row {
    ts_utc: String,
    open: Option<String>,
    high: Option<String>,
    low: Option<String>,
    close: Option<String>,
    price: Option<String>,
}

/// Read a price series, one row per minute, timestamps increasing. A close-only series becomes
/// candles that move in a straight line from the previous row's price to this one (the first
/// row is flat).
pub fn load_candles(path: &Path) -> Result<Vec<Candle>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("reading {}", path.display()))?;
    let headers = reader.headers().with_context(|| format!("reading {}", path.display()))?.clone();
    let has = |name: &str| headers.iter().any(|h| h == name);
    let ohlc = ["open", "high", "low", "close"].iter().all(|h| has(h));
    if !has("ts_utc") || !(ohlc || has("price")) {
        bail!("{}: expected the header ts_utc,open,high,low,close or ts_utc,price", path.display());
    }
    let mut out: Vec<Candle> = Vec::new();
    for (n, row) in reader.deserialize::<Row>().enumerate() {
        let line = n + 2;
        let at = || format!("{}:{line}", path.display());
        let row = row.with_context(at)?;
        let field = |v: &Option<String>, name: &str| -> Result<i64> {
            parse_price(v.as_deref().ok_or_else(|| anyhow::anyhow!("{}: no {name}", at()))?).with_context(at)
        };
        let unix = parse_utc(&row.ts_utc).with_context(at)?;
        let candle = if ohlc {
            Candle {
                unix,
                open: field(&row.open, "open")?,
                high: field(&row.high, "high")?,
                low: field(&row.low, "low")?,
                close: field(&row.close, "close")?,
            }
        } else {
            let price = field(&row.price, "price")?;
            let open = out.last().map_or(price, |c| c.close);
            Candle { unix, open, high: open.max(price), low: open.min(price), close: price }
        };
        if candle.low > candle.open.min(candle.close) || candle.high < candle.open.max(candle.close) {
            bail!("{}: low/high do not bound open/close", at());
        }
        if candle.low <= 0 {
            bail!("{}: prices must be positive", at());
        }
        if out.last().is_some_and(|c| c.unix >= candle.unix) {
            bail!("{}: timestamps must increase", at());
        }
        out.push(candle);
    }
    if out.is_empty() {
        bail!("{}: no rows", path.display());
    }
    Ok(out)
}

/// The minute's price points: open, the two extremes in walk order and close, each exactly, at
/// `n` (≥ 4) even steps, with straight lines between them.
pub fn walk(candle: &Candle, walk: Walk, n: usize) -> Vec<i64> {
    let falling = candle.close < candle.open;
    let high_first = match walk {
        Walk::ByDirection => falling,
        Walk::OpenLowHighClose => false,
        Walk::OpenHighLowClose => true,
    };
    let path = if high_first {
        [candle.open, candle.high, candle.low, candle.close]
    } else {
        [candle.open, candle.low, candle.high, candle.close]
    };
    let n = n.max(4);
    // Where each of the four points falls: 0, ~(n−1)/3, ~2(n−1)/3, n−1 (distinct for n ≥ 4).
    let last = n - 1;
    let anchors = [0, (last + 1) / 3, (2 * last + 1) / 3, last];
    (0..n)
        .map(|i| {
            let leg = (0..3).find(|&k| i <= anchors[k + 1]).unwrap_or(2);
            let (from, to) = (anchors[leg], anchors[leg + 1]);
            let (a, b) = (path[leg] as i128, path[leg + 1] as i128);
            (a + (b - a) * (i - from) as i128 / (to - from) as i128) as i64
        })
        .collect()
}

impl Scenario {
    pub fn load(path: &Path) -> Result<(Self, PathBuf)> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let scenario: Scenario = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        scenario.validate()?;
        Ok((scenario, base))
    }

    fn validate(&self) -> Result<()> {
        if self.modes.is_empty() {
            bail!("no modes to run");
        }
        if self.markets.is_empty() || self.markets.len() > bulwark::constants::MAX_POSITIONS {
            bail!("between 1 and {} markets", bulwark::constants::MAX_POSITIONS);
        }
        if self.attestations.first().map(|a| a.minute) != Some(0) {
            bail!("the attestation schedule must start at minute 0");
        }
        if self.population.traders == 0 || self.population.makers == 0 {
            bail!("need traders and makers");
        }
        let p = &self.population;
        if p.leverage[0] <= 0.0 || p.leverage[1] < p.leverage[0] {
            bail!("leverage range must be positive and ordered");
        }
        if p.deposit[0] == 0 || p.deposit[1] < p.deposit[0] || p.deposit[1] > 1_000_000_000 {
            bail!("deposit range must be ordered, within 1..=1e9 units");
        }
        if p.maker_spread_bps + (p.maker_levels.max(1) as u64 - 1) * p.maker_step_bps >= 10_000 {
            bail!("maker quotes must stay within 100% of the price");
        }
        if self.substeps < 4 {
            bail!("substeps must be at least 4 (open, both extremes, close)");
        }
        for pair in self.attestations.windows(2) {
            if pair[1].minute <= pair[0].minute {
                bail!("attestation minutes must increase");
            }
        }
        for a in &self.attestations {
            if parse_price(&a.rate)? <= 0 {
                bail!("attested redemption rate must be positive");
            }
        }
        for run in &self.stress {
            if let Some([low, high]) = run.leverage {
                if low <= 0.0 || high < low {
                    bail!("stress run {}: leverage range must be positive and ordered", run.label);
                }
            }
        }
        if let Some(a) = &self.attacker {
            if a.owners == 0 || a.deposit == 0 || a.deposit > 1_000_000_000 {
                bail!("attacker: at least one owner and a deposit within 1..=1e9 units");
            }
            if a.strategies.is_empty() || a.every_minutes == 0 {
                bail!("attacker: name at least one strategy and run it every ≥ 1 minutes");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_and_times_parse_exactly() {
        assert_eq!(parse_price("117590.80").unwrap(), 117_590_800_000);
        assert_eq!(parse_price("0.65").unwrap(), 650_000);
        assert_eq!(parse_price("1").unwrap(), 1_000_000);
        assert!(parse_price("1.0000001").is_err());
        assert_eq!(parse_utc("2025-10-10T18:00:00Z").unwrap(), 1_760_119_200);
        assert_eq!(parse_utc("2025-10-11T03:59:00Z").unwrap(), 1_760_155_140);
        assert!(parse_utc("2025-10-10 18:00").is_err());
        assert_eq!(utc_hhmm(1_760_155_140), "03:59");
    }

    fn series(name: &str, text: &str) -> Result<Vec<Candle>> {
        let path = std::env::temp_dir().join(format!("bulwark-series-{}-{name}.csv", std::process::id()));
        std::fs::write(&path, text).unwrap();
        let out = load_candles(&path);
        std::fs::remove_file(&path).unwrap();
        out
    }

    #[test]
    fn candles_and_close_only_series_load() {
        let ohlc =
            series("ohlc", "ts_utc,open,high,low,close,volume\n2025-10-10T18:00:00Z,1.0,1.0002,0.9990,1.0001,5\n")
                .unwrap();
        assert_eq!(
            ohlc,
            vec![Candle { unix: 1_760_119_200, open: 1_000_000, high: 1_000_200, low: 999_000, close: 1_000_100 }]
        );
        // Close-only: each minute runs from the previous close to its own.
        let closes = series("close", "ts_utc,price\n2025-10-10T18:00:00Z,1.0\n2025-10-10T18:01:00Z,0.9\n").unwrap();
        assert_eq!(
            closes,
            vec![
                Candle { unix: 1_760_119_200, open: 1_000_000, high: 1_000_000, low: 1_000_000, close: 1_000_000 },
                Candle { unix: 1_760_119_260, open: 1_000_000, high: 1_000_000, low: 900_000, close: 900_000 },
            ]
        );
        let err = |name, text| format!("{:#}", series(name, text).unwrap_err());
        assert!(err("header", "time,value\n2025-10-10T18:00:00Z,1\n").contains("expected the header"));
        assert!(err("order", "ts_utc,price\n2025-10-10T18:01:00Z,1\n2025-10-10T18:00:00Z,1\n")
            .contains(":3: timestamps must increase"));
        assert!(
            err("bounds", "ts_utc,open,high,low,close\n2025-10-10T18:00:00Z,1,0.9,0.8,1\n").contains("do not bound")
        );
        assert!(err("ts", "ts_utc,price\n10/10/2025 18:00,1\n").contains("RFC 3339"));
        assert!(err("empty", "ts_utc,price\n").contains("no rows"));
    }

    #[test]
    fn a_minute_is_walked_through_its_extremes() {
        let falling = Candle { unix: 0, open: 100, high: 104, low: 90, close: 95 };
        assert_eq!(walk(&falling, Walk::ByDirection, 4), vec![100, 104, 90, 95]);
        assert_eq!(walk(&falling, Walk::OpenLowHighClose, 4), vec![100, 90, 104, 95]);
        let rising = Candle { unix: 0, open: 100, high: 110, low: 98, close: 108 };
        assert_eq!(walk(&rising, Walk::ByDirection, 4), vec![100, 98, 110, 108]);
        assert_eq!(walk(&rising, Walk::ByDirection, 7), vec![100, 99, 98, 104, 110, 109, 108]);
        // Every sub-step count keeps both extremes exactly.
        for n in 4..12 {
            let points = walk(&falling, Walk::ByDirection, n);
            assert_eq!((points.len(), points[0], points[n - 1]), (n, 100, 95));
            assert!(points.contains(&104) && points.contains(&90), "n = {n}: {points:?}");
        }
    }
}
