//! One replay run: a clearinghouse in one collateral mode on a fresh embedded bank, the
//! population opened at the first minute's price, then every sub-step: feeds published, the
//! collateral refreshed, makers requoted each minute, and the keeper's cycle.

use std::collections::BTreeMap;
use std::time::Instant;

use anchor_lang::prelude::Pubkey;
use anyhow::{anyhow, bail, Result};
use bulwark::constants::PRICE_PRECISION;
use bulwark::controller::orders::{ORDER_TYPE_IMMEDIATE_OR_CANCEL, ORDER_TYPE_POST_ONLY};
use bulwark::controller::pricing::{in_collateral, MarketPrice};
use bulwark::events::{AdlFillV1, AdlRoundClosedV1, AdlRoundOpenedV1, BadDebtRecordedV1, LiquidationV1};
use bulwark::instructions::PriceFeedUpdate;
use bulwark::math::liquidation::is_liquidatable;
use bulwark::state::*;
use bulwark_keeper::{Keeper, KeeperConfig, Metrics};
use bulwark_sdk::events::decode_events;
use bulwark_sdk::ix::{self, MarketKeys};
use bulwark_tests::{
    market_mode_collateral, oracle_config, order, redemption_aware_collateral, ClearinghouseFixture,
    ClearinghouseOptions, Feed, TestEnv, User,
};
use serde::Serialize;
use solana_signer::Signer;

use crate::attacker::{AttackReport, Attackers, Ledger, Prices};
use crate::rng::Rng;
use crate::scenario::{load_candles, parse_price, walk, Candle, Mode, Scenario};

/// One liquidation, and whether it happened only because of the collateral's print.
#[derive(Clone, Debug, Serialize)]
pub struct LiquidationRecord {
    pub minute: usize,
    pub market: String,
    pub account: String,
    pub base_lots: i64,
    pub market_price_usd: f64,
    /// Not liquidatable had the collateral been valued at its attested redemption rate
    /// (`cause`).
    pub caused_by_collateral_print: bool,
    /// Slots from the scan that first saw the account liquidatable to this liquidation.
    pub reaction_slots: u64,
}

/// One ADL episode: a round, from opening to the target flat in the market.
#[derive(Clone, Debug, Serialize)]
pub struct AdlRecord {
    /// The minute the round closed.
    pub minute: usize,
    pub target: String,
    pub fills: u64,
    pub haircut: u64,
    /// The shortfall the round had to hand out: its `U` at its last (re)start plus what it
    /// took before that restart.
    pub uncovered: u64,
    /// Written off when the target ended flat with a debt nobody could pay.
    pub bad_debt: u64,
    /// The nomination window, and how often the round restarted at a new price.
    pub window_slots: u64,
    pub restarts: u16,
    /// Slots from the round opening, and from the target first being seen liquidatable (the
    /// opening when it never was flagged), to the target flat in the market.
    pub open_to_flat_slots: u64,
    pub eligible_to_flat_slots: u64,
    /// What each policy takes in this episode (Bulwark's first); empty when the round's
    /// opening state was not seen.
    pub taken_by_policy: Vec<(String, u64)>,
}

/// What the replay follows of an open round.
#[derive(Clone, Debug, Default)]
struct RoundProgress {
    /// The market's positions when the round first opened, for the peer policies.
    state: Option<crate::policies::AdlState>,
    /// (counterparty, lots, haircut) of every fill.
    charges: crate::policies::Charges,
    /// Haircuts taken before the last (re)start, and since it.
    haircut_before_start: u64,
    haircut_since_start: u64,
    uncovered_at_start: u64,
    fills: u64,
}

/// Where a run's wall time went, seconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Profile {
    /// Clearinghouse, markets, feeds and the population opened at the first minute.
    pub setup: f64,
    /// Clock warps, price feeds published, the collateral refreshed.
    pub prices: f64,
    /// Makers' quotes and the attacker population's transactions.
    pub population: f64,
    /// The keeper: reading and decoding every account, planning, and sending its cranks.
    pub keeper_scan: f64,
    pub keeper_plan: f64,
    pub keeper_cranks: f64,
    /// The replay's own accounting: causes, ADL episodes and peer policies, per-minute points.
    pub bookkeeping: f64,
    /// The accounting invariants checked against the bank.
    pub invariants: f64,
}

/// One point per minute.
#[derive(Clone, Debug, Serialize)]
pub struct SeriesPoint {
    pub minute: usize,
    pub unix: i64,
    /// The first market's price (the plots' price path).
    pub market_price_usd: f64,
    /// Every market's price, in scenario order.
    pub market_prices_usd: Vec<f64>,
    pub collateral_print_usd: f64,
    /// The collateral price the clearinghouse used (its last refresh).
    pub collateral_price_used: f64,
    pub insurance_balance: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    pub mode: String,
    pub minutes: usize,
    pub accounts: usize,
    pub liquidations: Vec<LiquidationRecord>,
    pub adl: Vec<AdlRecord>,
    pub insurance_paid: u64,
    pub insurance_start: u64,
    pub insurance_end: u64,
    pub adl_fills: u64,
    pub haircut_total: u64,
    pub uncovered_total: u64,
    /// Bulwark's ADL and every peer policy on the same episodes (`policies`), summed.
    pub policies: Vec<crate::policies::PolicyOutcome>,
    /// Debts ADL rounds wrote off (the winners' profits could not cover them).
    pub bad_debt_written_off: u64,
    /// Σ negative equity over accounts at the end, plus debts of flat accounts.
    pub bad_debt: u64,
    pub invariant_checks: u64,
    pub invariant_failures: u64,
    pub first_invariant_failure: Option<String>,
    pub transactions: u64,
    /// Of those, population transactions (quotes, orders, refreshes) the program refused.
    pub refused_transactions: u64,
    pub keeper_cranks: u64,
    pub keeper_lost_races: u64,
    pub keeper_failures: u64,
    /// The program errors behind the keeper's lost races (state changed since its scan).
    pub keeper_lost_races_by_error: Vec<(String, u64)>,
    /// The keeper's failures by reason, program errors by name.
    pub keeper_failures_by_reason: Vec<(String, u64)>,
    pub wall_seconds: f64,
    /// Series replayed with their last price carried over minutes they have no row for.
    pub carried: Vec<CarriedSeries>,
    pub profile: Profile,
    pub series: Vec<SeriesPoint>,
    /// The attacker population's figures, when the scenario has one.
    pub attacker: Option<AttackReport>,
}

impl RunReport {
    pub fn print_caused(&self) -> usize {
        self.liquidations.iter().filter(|l| l.caused_by_collateral_print).count()
    }
    pub fn reaction_max(&self) -> u64 {
        self.liquidations.iter().map(|l| l.reaction_slots).max().unwrap_or(0)
    }
    /// Median reaction, slots.
    pub fn reaction_median(&self) -> u64 {
        let mut r: Vec<u64> = self.liquidations.iter().map(|l| l.reaction_slots).collect();
        r.sort_unstable();
        r.get(r.len() / 2).copied().unwrap_or(0)
    }
}

/// SOL the keeper starts with: 1,000.
const KEEPER_FLOAT_LAMPORTS: u64 = 1_000_000_000_000;

/// The prices one sub-step publishes.
struct Step {
    minute: usize,
    unix: i64,
    /// One price per market, in scenario order.
    market_usd: Vec<i64>,
    collateral_print: i64,
    attestation: (i64, bool, i64),
}

fn usd(x: i64) -> f64 {
    x as f64 / PRICE_PRECISION as f64
}

/// A series that had no row for some of the replayed minutes: its last price was carried.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CarriedSeries {
    pub series: String,
    /// Minutes replayed at a carried price.
    pub minutes: usize,
    /// The series' last row at or before the replay's last minute.
    pub last_row_unix: i64,
}

/// The walk of every minute. The first market's minutes drive the clock; every other series is
/// aligned to them by timestamp (its last row within the minute). A minute a series has no row
/// for (a gap, or past its end) is flat at the last close before it, and counted in the
/// returned list.
fn steps(
    scenario: &Scenario,
    markets: &[Vec<Candle>],
    collateral: &[Candle],
) -> Result<(Vec<Step>, Vec<CarriedSeries>)> {
    let driver = markets[0].get(scenario.start_minute..).unwrap_or(&[]);
    let minutes = scenario.minutes.unwrap_or(driver.len()).min(driver.len());
    let attest = |minute: usize| -> Result<(i64, bool, i64)> {
        let a = scenario.attestations.iter().rev().find(|a| a.minute <= minute).expect("validated: starts at 0");
        Ok((parse_price(&a.rate)?, a.redemption_enabled, parse_price(&a.reserve_ratio)?))
    };
    // For each other series, its candle for each driver minute, and how many were carried.
    let aligned = |series: &[Candle]| -> (Vec<Candle>, usize, i64) {
        let mut out = Vec::with_capacity(minutes);
        let mut carried = 0;
        let mut i = 0;
        for m in driver.iter().take(minutes) {
            // A row anywhere in the driver's minute belongs to it.
            while i + 1 < series.len() && series[i + 1].unix < m.unix + 60 {
                i += 1;
            }
            let c = series[i];
            if c.unix >= m.unix {
                out.push(c);
            } else {
                carried += 1;
                out.push(Candle { unix: m.unix, open: c.close, high: c.close, low: c.close, close: c.close });
            }
        }
        (out, carried, series[i].unix)
    };
    if let Some(start) = driver.first() {
        for series in markets.iter().map(|m| &m[..]).chain([collateral]) {
            if series.first().is_none_or(|c| c.unix > start.unix) {
                bail!("a price series starts after the replay's first minute");
            }
        }
    }
    let names = scenario.markets.iter().map(|m| m.symbol.as_str()).chain([scenario.collateral.symbol.as_str()]);
    let mut carried = Vec::new();
    let mut all: Vec<Vec<Candle>> = Vec::new();
    for (name, series) in names.zip(markets.iter().map(|m| &m[..]).chain([collateral])) {
        let (candles, minutes, last_row_unix) = aligned(series);
        if minutes > 0 {
            carried.push(CarriedSeries { series: name.to_string(), minutes, last_row_unix });
        }
        all.push(candles);
    }
    let collateral = all.pop().expect("the collateral series is last");
    let others = all;
    let mut out = Vec::new();
    for (minute, candle) in driver.iter().take(minutes).enumerate() {
        let paths: Vec<Vec<i64>> = others.iter().map(|c| walk(&c[minute], scenario.walk, scenario.substeps)).collect();
        let collateral_path = walk(&collateral[minute], scenario.walk, scenario.substeps);
        for (i, c) in collateral_path.iter().enumerate() {
            out.push(Step {
                minute,
                unix: candle.unix + (i as i64 * 60) / scenario.substeps as i64,
                market_usd: paths.iter().map(|p| p[i]).collect(),
                collateral_print: *c,
                attestation: attest(minute)?,
            });
        }
    }
    Ok((out, carried))
}

pub(crate) struct Stage {
    pub(crate) env: TestEnv,
    pub(crate) fx: ClearinghouseFixture,
    pub(crate) markets: Vec<MarketKeys>,
    /// One per market, then the collateral print, the redemption rate and redemption health.
    feeds: Vec<Feed>,
    makers: Vec<User>,
    transactions: u64,
    /// Population transactions the program refused (makers' quotes, traders' orders).
    refused: u64,
    /// What honest users lose to the attacker population, from every landed transaction.
    pub(crate) ledger: Ledger,
}

impl Stage {
    async fn send(
        &mut self,
        ixs: &[anchor_lang::solana_program::instruction::Instruction],
        signers: &[&solana_keypair::Keypair],
    ) -> bool {
        self.transactions += 1;
        let out = self.send_observed(ixs, signers).await;
        if out.result.is_err() {
            self.refused += 1;
        }
        out.result.is_ok()
    }

    /// Send, and show a landed transaction's events to the ledger.
    pub(crate) async fn send_observed(
        &mut self,
        ixs: &[anchor_lang::solana_program::instruction::Instruction],
        signers: &[&solana_keypair::Keypair],
    ) -> bulwark_tests::TxOutcome {
        let out = self.env.send(ixs, signers).await;
        if out.result.is_ok() {
            self.ledger.observe(&out.logs);
        }
        out
    }

    /// Refresh the collateral price now (the sub-step's first priced transaction) and return it.
    async fn refresh_collateral(&mut self) -> i64 {
        let ch = self.env.clearinghouse(&self.fx).await;
        let ixs = self.refresh(&ch);
        if !ixs.is_empty() {
            self.send(&ixs, &[]).await;
        }
        let ch = self.env.clearinghouse(&self.fx).await;
        if ch.collateral_oracle_state.last_price > 0 {
            ch.collateral_oracle_state.last_price
        } else {
            PRICE_PRECISION
        }
    }

    fn refresh(&self, ch: &Clearinghouse) -> Vec<anchor_lang::solana_program::instruction::Instruction> {
        ix::collateral_refresh_for(&self.fx.key, ch).into_iter().collect()
    }

    async fn publish(&mut self, step: &Step) -> Result<()> {
        let (rate, enabled, reserve) = step.attestation;
        let mut updates: Vec<(i64, bool, i64)> = step.market_usd.iter().map(|p| (*p, true, 0)).collect();
        updates.extend([
            (step.collateral_print, true, 0),
            (rate, enabled, reserve),
            (PRICE_PRECISION, enabled, reserve),
        ]);
        let mut ixs = Vec::new();
        for (feed, (price, redemption_enabled, reserve_ratio)) in self.feeds.iter().zip(updates) {
            let update = PriceFeedUpdate { price, conf: 0, redemption_enabled, reserve_ratio };
            ixs.push(ix::update_price_feed_ix(&feed.authority.pubkey(), &feed.key, update));
        }
        let authorities: Vec<solana_keypair::Keypair> =
            self.feeds.iter().map(|f| f.authority.insecure_clone()).collect();
        let signers: Vec<&solana_keypair::Keypair> = authorities.iter().collect();
        if !self.send(&ixs, &signers).await {
            bail!("publishing the minute {} prices failed", step.minute);
        }
        Ok(())
    }

    fn maker_users(&self) -> Vec<User> {
        self.makers
            .iter()
            .map(|m| User {
                owner: m.owner.insecure_clone(),
                margin_account: m.margin_account,
                token_account: m.token_account,
            })
            .collect()
    }

    /// Every maker cancels its quotes (all first, so no fresh quote crosses a stale one).
    async fn cancel_quotes(&mut self) {
        for maker in &self.maker_users() {
            let cancels: Vec<_> = self
                .markets
                .iter()
                .map(|m| ix::cancel_order_ix(&maker.owner.pubkey(), &maker.margin_account, m, None))
                .collect();
            self.send(&cancels, &[&maker.owner]).await;
        }
    }

    /// Each maker quotes a ladder around the oracle on the sides its inventory allows.
    async fn quote(&mut self, scenario: &Scenario, price_ticks: &[u64]) {
        let ch = self.env.clearinghouse(&self.fx).await;
        let makers = self.maker_users();
        let p = &scenario.population;
        let markets = self.markets.clone();
        for maker in &makers {
            for (market, ticks) in markets.iter().zip(price_ticks) {
                // Reloaded per market: quotes just placed elsewhere count as positions too.
                let account = self.env.margin(maker.margin_account).await;
                let lots =
                    account.open_positions().find(|q| q.market_index == market.index).map(|q| q.base_lots).unwrap_or(0);
                // The maker's other markets price its margin check.
                let held: Vec<MarketKeys> = markets
                    .iter()
                    .filter(|m| m.index != market.index && account.open_positions().any(|q| q.market_index == m.index))
                    .copied()
                    .collect();
                let pairs = ix::price_pairs(&held);
                let mut ixs = self.refresh(&ch);
                for level in 0..p.maker_levels as u64 {
                    let offset_bps = p.maker_spread_bps + level * p.maker_step_bps;
                    let bid = ticks * (10_000 - offset_bps) / 10_000;
                    let ask = (ticks * (10_000 + offset_bps)).div_ceil(10_000);
                    for (side, price, allowed) in [
                        (SIDE_BID, bid, lots < p.maker_inventory_limit_lots),
                        (SIDE_ASK, ask, lots > -p.maker_inventory_limit_lots),
                    ] {
                        if allowed && price > 0 {
                            let args = order(side, ORDER_TYPE_POST_ONLY, price, p.maker_level_lots);
                            let place = ix::place_order_ix(
                                &maker.owner.pubkey(),
                                &self.fx,
                                &maker.margin_account,
                                market,
                                args,
                                &pairs,
                            );
                            ixs.push(place);
                        }
                    }
                }
                self.send(&ixs, &[&maker.owner]).await;
            }
        }
    }
}

/// The market's positions as the program saw them when a round opened: every other account's
/// position there, valued at the round's price.
fn adl_state(
    snapshot: &bulwark_sdk::snapshot::Snapshot,
    stage: &Stage,
    opened: &AdlRoundOpenedV1,
) -> Option<crate::policies::AdlState> {
    let view = snapshot.markets.iter().find(|m| m.keys.key == opened.market)?;
    let index = view.market.index;
    let spec = bulwark::controller::pricing::perp_spec(&view.market);
    let prices = bulwark::controller::pricing::with_exact_price(&snapshot.prices(), index, opened.price);
    let lot_value = bulwark::math::perp::base_value(1, opened.price, &spec).ok()?;
    let makers: Vec<Pubkey> = stage.makers.iter().map(|m| m.margin_account).collect();
    let holders = snapshot
        .accounts
        .iter()
        .filter(|(key, _)| *key != opened.target)
        .filter_map(|(key, account)| {
            let p = account.open_positions().find(|p| p.market_index == index && p.base_lots != 0)?;
            let equity = bulwark_sdk::health::health(account, &prices).ok()?.equity;
            Some(crate::policies::Holder {
                key: key.to_bytes(),
                lots: p.base_lots,
                quote_entry: p.quote_entry,
                equity,
                maker: makers.contains(key),
            })
        })
        .collect();
    Some(crate::policies::AdlState {
        lot_value,
        target_lots: opened.target_lots,
        deficit: opened.deficit as u128,
        uncovered: opened.uncovered as u128,
        holders,
        seed: opened.window_end_slot,
    })
}

/// Run `scenario` in `mode`. `progress` is called once per sub-step.
pub async fn run(scenario: &Scenario, base: &std::path::Path, mode: Mode, progress: &dyn Fn()) -> Result<RunReport> {
    let started = Instant::now();
    let market_candles: Vec<Vec<Candle>> =
        scenario.markets.iter().map(|m| load_candles(&base.join(&m.csv))).collect::<Result<_>>()?;
    let collateral_candles = load_candles(&base.join(&scenario.collateral.csv))?;
    let (steps, carried) = steps(scenario, &market_candles, &collateral_candles)?;
    let first = steps.first().ok_or_else(|| anyhow!("no minutes to replay"))?;
    let pop = &scenario.population;
    let mut rng = Rng::new(scenario.seed);

    // ---- the stage -------------------------------------------------------------------------
    let mut env = TestEnv::new().await;
    env.seed_keypairs(scenario.seed);
    env.set_unix_time(first.unix - 60).await;
    let mut feeds = Vec::new();
    for (i, spec) in scenario.markets.iter().enumerate() {
        feeds.push(env.create_feed(10 + i as u64, -6, spec.ema_window_seconds).await);
    }
    let print_feed = env.create_feed(1, -6, 600).await;
    let rate_feed = env.create_feed(2, -6, 600).await;
    let health_feed = env.create_feed(3, -6, 600).await;
    let mut collateral_market = oracle_config(ORACLE_SOURCE_MANUAL, print_feed.key);
    collateral_market.max_twap_divergence_bps = scenario.collateral.max_oracle_divergence_bps;
    let collateral_oracle = match mode {
        Mode::Market => market_mode_collateral(collateral_market),
        Mode::RedemptionAware => {
            let mut c = redemption_aware_collateral(collateral_market, rate_feed.key, health_feed.key);
            c.soft_band_bps = scenario.collateral.soft_band_bps;
            c.hard_band_bps = scenario.collateral.hard_band_bps;
            c.hard_band_grace_seconds = scenario.collateral.hard_band_grace_seconds;
            c
        }
    };
    let fx = env
        .setup_clearinghouse(ClearinghouseOptions {
            collateral_oracle,
            timelock_seconds: 0,
            waterfall: {
                let defaults = bulwark_tests::default_waterfall();
                let (fill_band, book_band) =
                    scenario.bands_bps.unwrap_or((defaults.max_fill_deviation_bps, defaults.book_liquidation_band_bps));
                bulwark::state::WaterfallParams {
                    adl_nomination_slots: scenario.adl_nomination_slots,
                    max_fill_deviation_bps: fill_band,
                    book_liquidation_band_bps: book_band,
                    ..defaults
                }
            },
            ..Default::default()
        })
        .await;
    let markets: Vec<MarketKeys> =
        feeds.iter().enumerate().map(|(i, f)| MarketKeys::new(&fx.key, i as u16, f.key)).collect();
    feeds.extend([print_feed, rate_feed, health_feed]);
    let mut stage =
        Stage { env, markets, fx, feeds, makers: vec![], transactions: 0, refused: 0, ledger: Ledger::default() };
    stage.publish(first).await?;
    let admin = stage.fx.admin.insecure_clone();
    let mut tick_sizes = Vec::new();
    for (spec, keys) in scenario.markets.iter().zip(stage.markets.clone()) {
        let tick_size = parse_price(&spec.tick_usd)? as u64;
        tick_sizes.push(tick_size);
        let params = MarketParams {
            tick_size,
            base_lot_size: spec.base_lot_size,
            min_order_lots: 1,
            max_open_interest_lots: u64::MAX / 4,
            size_premium_unit_lots: 0,
            funding_period_seconds: 3_600,
            initial_margin_bps: spec.initial_margin_bps,
            maintenance_margin_bps: spec.maintenance_margin_bps,
            size_premium_bps: 0,
            liquidation_fee_bps: spec.liquidation_fee_bps,
            insurance_fee_share_bps: spec.insurance_fee_share_bps,
            max_funding_rate_bps: 50,
            taker_fee_bps: spec.taker_fee_bps,
            maker_fee_bps: spec.maker_fee_bps,
            base_decimals: spec.base_decimals,
            padding: [0; 7],
        };
        let mut oracle = oracle_config(ORACLE_SOURCE_MANUAL, keys.oracle);
        oracle.max_twap_divergence_bps = spec.max_oracle_divergence_bps;
        let create = ix::create_market_ix(&admin.pubkey(), &stage.fx.key, keys.index, oracle, params);
        if !stage.send(&[create], &[&admin]).await || !stage.send(&[ix::activate_market_ix(&keys.key)], &[]).await {
            bail!("listing {} failed: check its parameters", spec.symbol);
        }
        stage.fx.markets.push(keys.key);
    }

    // ---- the population --------------------------------------------------------------------
    let unit = 10u64.pow(6); // collateral atoms per unit (6 decimals)
    for _ in 0..pop.makers {
        let maker = stage.env.create_user(&mut stage.fx, pop.maker_deposit * unit).await;
        stage.env.deposit(&stage.fx, &maker, pop.maker_deposit * unit).await.ok();
        stage.makers.push(maker);
    }
    for _ in 0..pop.stakers {
        let staker = stage.env.create_user(&mut stage.fx, pop.stake * unit).await;
        stage.env.stake_insurance(&stage.fx, &staker, pop.stake * unit).await.ok();
    }
    let liquidator = stage.env.create_user(&mut stage.fx, pop.liquidator_deposit.max(1) * unit).await;
    if pop.liquidator_deposit > 0 {
        stage.env.deposit(&stage.fx, &liquidator, pop.liquidator_deposit * unit).await.ok();
    }
    // The keeper pays fees and each ADL round's rent until the round closes: at thousands of
    // traders hundreds of rounds wait at once, so give it a float no run can exhaust.
    let payer = stage.env.payer();
    let float = anchor_lang::solana_program::system_instruction::transfer(
        &payer.pubkey(),
        &liquidator.owner.pubkey(),
        KEEPER_FLOAT_LAMPORTS,
    );
    if !stage.send(&[float], &[]).await {
        bail!("funding the keeper failed");
    }

    let collateral_usd = stage.refresh_collateral().await;
    let ch = stage.env.clearinghouse(&stage.fx).await;
    let mut qplt = Vec::new();
    for keys in &stage.markets {
        qplt.push(stage.env.load::<Market>(keys.key).await.quote_per_lot_tick);
    }
    let price_ticks = |market: usize, price: i64| (price as u64 / tick_sizes[market]).max(1);
    let mut traders: Vec<User> = Vec::with_capacity(pop.traders);
    for i in 0..pop.traders {
        let deposit = rng.range_u64(pop.deposit[0], pop.deposit[1]) * unit;
        let leverage = rng.range_f64(pop.leverage[0], pop.leverage[1]);
        let long = rng.unit() < pop.long_fraction;
        let trader = stage.env.create_user(&mut stage.fx, deposit).await;
        stage.env.deposit(&stage.fx, &trader, deposit).await.ok();
        // One market per trader, in turn; notional in collateral at the opening price.
        let m = i % stage.markets.len();
        let market = stage.markets[m];
        let ticks = price_ticks(m, in_collateral(first.market_usd[m], collateral_usd)?);
        let lot_value = ticks as u128 * qplt[m] as u128;
        let lots = ((deposit as f64 * leverage) as u128 / lot_value.max(1)) as u64;
        if lots == 0 {
            traders.push(trader);
            continue;
        }
        let maker = &stage.makers[i % stage.makers.len()];
        let maker = User {
            owner: maker.owner.insecure_clone(),
            margin_account: maker.margin_account,
            token_account: maker.token_account,
        };
        let maker_account = stage.env.margin(maker.margin_account).await;
        let held: Vec<MarketKeys> = stage
            .markets
            .iter()
            .filter(|k| k.index != market.index && maker_account.open_positions().any(|q| q.market_index == k.index))
            .copied()
            .collect();
        let (maker_side, taker_side) = if long { (SIDE_ASK, SIDE_BID) } else { (SIDE_BID, SIDE_ASK) };
        let mut ixs = stage.refresh(&ch);
        let quote = order(maker_side, ORDER_TYPE_POST_ONLY, ticks, lots);
        ixs.push(ix::place_order_ix(
            &maker.owner.pubkey(),
            &stage.fx,
            &maker.margin_account,
            &market,
            quote,
            &ix::price_pairs(&held),
        ));
        stage.send(&ixs, &[&maker.owner]).await;
        let mut ixs = stage.refresh(&ch);
        let take = order(taker_side, ORDER_TYPE_IMMEDIATE_OR_CANCEL, ticks, lots);
        // The trader holds nothing yet; the maker's other markets price its check after the fill.
        let mut remaining = ix::price_pairs(&held);
        remaining.push(maker.margin_account);
        ixs.push(ix::place_order_ix(
            &trader.owner.pubkey(),
            &stage.fx,
            &trader.margin_account,
            &market,
            take,
            &remaining,
        ));
        stage.send(&ixs, &[&trader.owner]).await;
        traders.push(trader);
    }
    let insurance_start = stage.env.clearinghouse(&stage.fx).await.insurance_balance;
    let mut attackers = match &scenario.attacker {
        Some(spec) => Some(Attackers::create(&mut stage, spec).await),
        None => None,
    };

    // ---- the keeper --------------------------------------------------------------------------
    let mut config = KeeperConfig::new("embedded", stage.fx.key, std::path::PathBuf::new());
    config.takeover = pop.liquidator_takeover;
    config.retry_backoff = std::time::Duration::from_millis(1);
    let mut keeper = Keeper::new(stage.env.chain(), config, liquidator.owner.insecure_clone(), Metrics::new(3_600));
    keeper.keep_journal();

    // ---- the night ---------------------------------------------------------------------------
    let mut report = RunReport {
        mode: scenario.run_label.clone().unwrap_or_else(|| mode.label().to_string()),
        minutes: steps.last().map(|s| s.minute + 1).unwrap_or(0),
        accounts: stage.fx.margin_accounts.len(),
        liquidations: vec![],
        adl: vec![],
        insurance_paid: 0,
        insurance_start,
        insurance_end: 0,
        adl_fills: 0,
        haircut_total: 0,
        uncovered_total: 0,
        policies: vec![],
        bad_debt_written_off: 0,
        bad_debt: 0,
        invariant_checks: 0,
        invariant_failures: 0,
        first_invariant_failure: None,
        transactions: 0,
        refused_transactions: 0,
        keeper_cranks: 0,
        keeper_lost_races: 0,
        keeper_failures: 0,
        keeper_lost_races_by_error: vec![],
        keeper_failures_by_reason: vec![],
        wall_seconds: 0.0,
        carried,
        profile: Profile::default(),
        series: vec![],
        attacker: None,
    };
    let mut first_seen: BTreeMap<Pubkey, u64> = BTreeMap::new();
    let mut causes = crate::cause::CauseTracker::default();
    let mut adl_rounds: BTreeMap<Pubkey, RoundProgress> = BTreeMap::new();
    let buffer = ch.waterfall.liquidation_buffer_bps;
    let mut last_minute = usize::MAX;
    report.profile.setup = started.elapsed().as_secs_f64();
    let mut lap = Instant::now();
    let mut split = |into: &mut f64| {
        *into += lap.elapsed().as_secs_f64();
        lap = Instant::now();
    };
    for (i, step) in steps.iter().enumerate() {
        let now = stage.env.clock().await.unix_timestamp;
        stage.env.warp((step.unix - now).max(1), scenario.slots_per_substep).await;
        stage.publish(step).await?;
        let collateral_usd = stage.refresh_collateral().await;
        split(&mut report.profile.prices);
        let prices = match &attackers {
            Some(_) => {
                let mut markets = Vec::with_capacity(stage.markets.len());
                for keys in stage.markets.clone() {
                    markets.push(stage.env.load::<Market>(keys.key).await);
                }
                let oracle: Vec<i64> =
                    step.market_usd.iter().map(|usd| in_collateral(*usd, collateral_usd).unwrap_or(*usd)).collect();
                for ((keys, market), price) in stage.markets.iter().zip(&markets).zip(&oracle) {
                    stage.ledger.markets.insert(
                        keys.key,
                        (market.index as usize, *price, bulwark::controller::pricing::perp_spec(market)),
                    );
                }
                stage.ledger.minute = step.minute;
                stage.ledger.substep = i % scenario.substeps;
                Some(Prices { oracle, markets })
            }
            None => None,
        };
        if let (Some(attackers), Some(prices)) = (&mut attackers, &prices) {
            attackers.mark_to_market(&mut stage, prices).await;
        }
        let new_minute = step.minute != last_minute;
        if new_minute {
            stage.cancel_quotes().await;
        }
        if let (Some(attackers), Some(prices)) = (&mut attackers, &prices) {
            // In the makers' gap: the book holds no honest quote.
            if new_minute {
                attackers.act(&mut stage, prices, step.minute).await;
            }
            attackers.react(&mut stage, prices, step.minute).await;
        }
        if new_minute {
            // Makers quote each market in collateral, as the exchange shows it.
            let ticks: Vec<u64> = step
                .market_usd
                .iter()
                .enumerate()
                .map(|(m, usd)| price_ticks(m, in_collateral(*usd, collateral_usd).unwrap_or(*usd)))
                .collect();
            stage.quote(scenario, &ticks).await;
            last_minute = step.minute;
        }
        if let (Some(attackers), Some(prices)) = (&mut attackers, &prices) {
            attackers.rebalance(&mut stage, prices, step.minute).await;
        }
        split(&mut report.profile.population);
        let cycle = keeper.run_cycle().await;
        let journal = keeper.take_journal();
        let mut keeper_seconds = 0.0;
        split(&mut keeper_seconds);
        report.profile.keeper_scan += journal.scan_seconds;
        report.profile.keeper_plan += journal.plan_seconds;
        report.profile.keeper_cranks += (keeper_seconds - journal.scan_seconds - journal.plan_seconds).max(0.0);
        for crank in &journal.landed {
            stage.ledger.source = format!("keeper {:?}", crank.action);
            stage.ledger.observe(&crank.logs);
        }
        stage.ledger.source = "population".into();
        let Some(snapshot) = journal.snapshot else {
            bail!("keeper scan failed at minute {}: {:?}", step.minute, cycle.err());
        };
        let slot = snapshot.clock.slot;
        let prices = snapshot.prices();
        // Fair prices: the collateral valued at its attested redemption rate.
        let fair: Vec<MarketPrice> = snapshot
            .markets
            .iter()
            .filter_map(|m| {
                let usd = *step.market_usd.get(m.market.index as usize)?;
                in_collateral(usd, step.attestation.0).ok().map(|p| MarketPrice::new(&m.market, p))
            })
            .collect();
        // The slot each account was first seen liquidatable (by the program's test), and the
        // end of liquidation episodes: an account no longer flagged starts a new one next time.
        for (key, account) in &snapshot.accounts {
            let flagged = account.status_flags & ACCOUNT_FLAG_BEING_LIQUIDATED != 0;
            let liquidatable = bulwark_sdk::health::health(account, &prices)
                .ok()
                .and_then(|h| is_liquidatable(&h, flagged, buffer).ok())
                .unwrap_or(false);
            if liquidatable {
                first_seen.entry(*key).or_insert(slot);
            } else {
                first_seen.remove(key);
            }
            causes.observe(*key, account, &fair, buffer);
        }
        for crank in &journal.landed {
            for liq in decode_events::<LiquidationV1>(&crank.logs) {
                let account = snapshot
                    .account(&liq.margin_account)
                    .ok_or_else(|| anyhow!("liquidated account {} not in the scan", liq.margin_account))?;
                // Judged at fair prices with the flag the account would carry there (`cause`).
                let caused_by_print = causes
                    .liquidation(liq.margin_account, account, &fair, buffer)
                    .map_err(|e| anyhow!("{}: {e}", liq.margin_account))?;
                let market_position = stage.markets.iter().position(|k| k.key == liq.market);
                report.liquidations.push(LiquidationRecord {
                    minute: step.minute,
                    account: liq.margin_account.to_string(),
                    base_lots: liq.base_lots,
                    market: market_position.map(|m| scenario.markets[m].symbol.clone()).unwrap_or_default(),
                    market_price_usd: usd(market_position.map(|m| step.market_usd[m]).unwrap_or(0)),
                    caused_by_collateral_print: caused_by_print,
                    reaction_slots: slot.saturating_sub(first_seen.remove(&liq.margin_account).unwrap_or(slot)),
                });
            }
            // ADL episodes, by round: (re)starts, fills, and the close with any write-off.
            for opened in decode_events::<AdlRoundOpenedV1>(&crank.logs) {
                let state = adl_state(&snapshot, &stage, &opened);
                let progress = adl_rounds.entry(opened.round).or_default();
                if progress.state.is_none() {
                    progress.state = state;
                }
                progress.haircut_before_start += progress.haircut_since_start;
                progress.haircut_since_start = 0;
                progress.uncovered_at_start = opened.uncovered;
            }
            for fill in decode_events::<AdlFillV1>(&crank.logs) {
                let round = bulwark_sdk::pda::adl_round(&fill.market, &fill.target);
                let progress = adl_rounds.entry(round).or_default();
                progress.haircut_since_start += fill.haircut;
                progress.fills += 1;
                progress.charges.push((
                    fill.counterparty.to_bytes(),
                    fill.base_lots.unsigned_abs(),
                    fill.haircut as u128,
                ));
            }
            let written_off = decode_events::<BadDebtRecordedV1>(&crank.logs);
            let filled_now: Vec<Pubkey> = decode_events::<AdlFillV1>(&crank.logs).iter().map(|f| f.target).collect();
            for closed in decode_events::<AdlRoundClosedV1>(&crank.logs) {
                let progress = adl_rounds.remove(&closed.round).unwrap_or_default();
                let bad_debt: u64 =
                    written_off.iter().filter(|b| b.margin_account == closed.target).map(|b| b.amount).sum();
                // A round that closed the target by its own last fill had its whole shortfall to
                // hand out; one that ended otherwise (the target healthy again, or closed by a
                // liquidation once insurance could pay) handed out only what it took.
                let closed_by_fill = closed.reason == 0 && filled_now.contains(&closed.target);
                let uncovered = if closed_by_fill {
                    progress.haircut_before_start + progress.uncovered_at_start
                } else {
                    progress.haircut_before_start + progress.haircut_since_start
                };
                if progress.fills == 0 {
                    continue; // no ADL happened: not an episode
                }
                report.uncovered_total += uncovered;
                let mut taken_by_policy = Vec::new();
                if let Some(mut state) = progress.state.clone() {
                    // Every policy answers for the same shortfall the round handed out.
                    state.uncovered = uncovered as u128;
                    let mut outcomes =
                        vec![crate::policies::outcome(crate::policies::BULWARK, &state, &progress.charges)];
                    outcomes.extend(crate::policies::peers(&state));
                    for o in outcomes {
                        taken_by_policy.push((o.policy.to_string(), o.taken as u64));
                        match report.policies.iter_mut().find(|p| p.policy == o.policy) {
                            Some(total) => total.add(&o),
                            None => report.policies.push(o),
                        }
                    }
                }
                report.bad_debt_written_off += bad_debt;
                let eligible_since = if closed.target_liquidatable_since_slot == 0 {
                    closed.opened_slot
                } else {
                    closed.target_liquidatable_since_slot.min(closed.opened_slot)
                };
                report.adl.push(AdlRecord {
                    minute: step.minute,
                    target: closed.target.to_string(),
                    fills: progress.fills,
                    haircut: closed.haircut_total,
                    uncovered,
                    bad_debt,
                    window_slots: scenario.adl_nomination_slots,
                    restarts: closed.restart_count,
                    open_to_flat_slots: closed.closed_slot.saturating_sub(closed.opened_slot),
                    eligible_to_flat_slots: closed.closed_slot.saturating_sub(eligible_since),
                    taken_by_policy,
                });
            }
        }
        split(&mut report.profile.bookkeeping);
        if (i + 1) % scenario.invariant_every_substeps.max(1) == 0 || i + 1 == steps.len() {
            report.invariant_checks += 1;
            let violations = stage.env.invariant_violations(&stage.fx).await;
            if !violations.is_empty() {
                report.invariant_failures += 1;
                report
                    .first_invariant_failure
                    .get_or_insert_with(|| format!("minute {}: {}", step.minute, violations.join("; ")));
            }
        }
        split(&mut report.profile.invariants);
        if i + 1 == steps.len() || steps[i + 1].minute != step.minute {
            let ch = stage.env.clearinghouse(&stage.fx).await;
            report.series.push(SeriesPoint {
                minute: step.minute,
                unix: step.unix,
                market_price_usd: usd(step.market_usd[0]),
                market_prices_usd: step.market_usd.iter().map(|p| usd(*p)).collect(),
                collateral_print_usd: usd(step.collateral_print),
                collateral_price_used: usd(ch.collateral_oracle_state.last_price),
                insurance_balance: ch.insurance_balance as f64 / unit as f64,
            });
        }
        split(&mut report.profile.bookkeeping);
        progress();
    }

    // ---- the morning after -------------------------------------------------------------------
    let ch = stage.env.clearinghouse(&stage.fx).await;
    let mut adl_fills = 0;
    let mut haircut_total = 0;
    for keys in &stage.markets {
        let market = stage.env.load::<Market>(keys.key).await;
        adl_fills += market.adl_fill_count;
        haircut_total += market.adl_haircut_total;
    }
    let end = keeper.scan().await.map_err(|e| anyhow!("final scan: {e}"))?;
    let prices = end.prices();
    let mut bad_debt = 0u64;
    for (key, account) in &end.accounts {
        let h = bulwark_sdk::health::health(account, &prices).map_err(|e| anyhow!("final health of {key}: {e}"))?;
        bad_debt += (-h.equity).max(0) as u64;
    }
    report.bad_debt = bad_debt;
    if let Some(attackers) = &attackers {
        let mut final_equity = 0i128;
        for key in attackers.accounts() {
            let account = end.account(&key).ok_or_else(|| anyhow!("attacker account {key} not in the final scan"))?;
            final_equity += bulwark_sdk::health::health(account, &prices)
                .map_err(|e| anyhow!("final health of {key}: {e}"))?
                .equity;
        }
        report.attacker = Some(attackers.report(final_equity, &stage.ledger));
    }
    report.insurance_paid = ch.insurance_paid_total;
    report.insurance_end = ch.insurance_balance;
    report.adl_fills = adl_fills;
    report.haircut_total = haircut_total;
    report.keeper_cranks = keeper.metrics.total_landed();
    report.keeper_lost_races = keeper.metrics.total_lost_races();
    // Every transaction the bank processed: setup, population, prices, and the keeper's.
    report.transactions =
        stage.env.transactions_sent() + report.keeper_cranks + report.keeper_lost_races + report.keeper_failures;
    report.refused_transactions = stage.refused;
    report.keeper_failures = keeper.metrics.total_failures();
    report.keeper_lost_races_by_error = keeper.metrics.lost_races_by_error();
    report.keeper_failures_by_reason = keeper
        .metrics
        .failures_by_reason()
        .into_iter()
        .map(|(reason, n)| {
            let named = reason
                .strip_prefix("program_error_")
                .and_then(|code| code.parse().ok())
                .and_then(bulwark_sdk::errors::program_error)
                .map(|e| e.name.clone());
            (named.unwrap_or(reason), n)
        })
        .collect();
    report.wall_seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
