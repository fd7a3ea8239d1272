//! The executor: scan, plan, crank. Each crank carries a compute-unit limit and a capped
//! priority fee, is retried with exponential backoff when the failure may not repeat, and is
//! held in an in-flight map while its outcome is unknown so it is never sent twice. A crank
//! the program refuses because another keeper got there first is a lost race, not a failure.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::Instruction;
use bulwark::error::BulwarkError;
use bulwark::events::{AdlFillV1, AdlRoundClosedV1, AdlRoundOpenedV1, InsurancePayoutV1, LiquidationV1};
use bulwark::state::MarginAccount;
use bulwark_sdk::chain::{
    send_and_confirm, send_and_confirm_tracked, transaction_size, Chain, ChainError, ChainResult, ConfirmOptions, Sent,
    PACKET_DATA_SIZE,
};
use bulwark_sdk::events::decode_events;
use bulwark_sdk::ix::{self, price_pairs, MarketKeys};
use solana_keypair::Keypair;
use solana_signer::Signer;
use tokio::sync::watch;

use crate::config::KeeperConfig;
use crate::metrics::Metrics;
use crate::plan::{plan_for, plan_with, Action, ActionKey, Avoid, PlanOptions};
use crate::snapshot::Snapshot;

/// How one crank ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Landed,
    /// Another keeper (or the market) got there first; the program said so by name.
    LostRace,
    Failed,
    /// Retries exhausted with the last outcome unknown: held in flight until its TTL.
    Unknown,
}

/// What one scan-and-crank cycle did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CycleReport {
    pub accounts: usize,
    pub planned: usize,
    pub landed: usize,
    pub lost_races: usize,
    pub failed: usize,
    pub unknown: usize,
    pub skipped_in_flight: usize,
    /// Cranks re-planned after a refusal the plan can route around (a takeover the keeper's
    /// margin cannot carry goes to the book; an ADL that filled nothing goes to others).
    pub fallbacks: usize,
}

/// The program errors that mean "already done by someone else" for each crank.
fn lost_race_error(action: &Action, error: &ChainError) -> Option<&'static str> {
    let candidates: &[(BulwarkError, &str)] = match action {
        Action::Takeover { .. } => &[
            (BulwarkError::AccountNotLiquidatable, "AccountNotLiquidatable"),
            (BulwarkError::NoPositionInMarket, "NoPositionInMarket"),
        ],
        // The book moved since the scan (taken by another taker, or only stale quotes left).
        Action::BookLiquidation { .. } => &[
            (BulwarkError::AccountNotLiquidatable, "AccountNotLiquidatable"),
            (BulwarkError::NoPositionInMarket, "NoPositionInMarket"),
            (BulwarkError::NoLiquidityInBand, "NoLiquidityInBand"),
        ],
        Action::FlagLiquidatable { .. } => &[(BulwarkError::LiquidationStatusUnchanged, "LiquidationStatusUnchanged")],
        // Someone else opened or moved the round, or the target changed, since the scan.
        Action::AdlBegin { .. } => &[
            (BulwarkError::AdlTargetHealthy, "AdlTargetHealthy"),
            (BulwarkError::NoPositionInMarket, "NoPositionInMarket"),
            (BulwarkError::InsuranceCanCover, "InsuranceCanCover"),
            (BulwarkError::AdlGraceNotElapsed, "AdlGraceNotElapsed"),
        ],
        Action::AdlNominate { .. } => &[(BulwarkError::AdlNominationWindowClosed, "AdlNominationWindowClosed")],
        Action::AdlExecute { .. } => &[
            (BulwarkError::AdlNominationWindowOpen, "AdlNominationWindowOpen"),
            (BulwarkError::AdlQueueOrder, "AdlQueueOrder"),
        ],
        Action::Funding { .. } => &[(BulwarkError::FundingNotDue, "FundingNotDue")],
        Action::Prune { .. } => &[(BulwarkError::NothingToPrune, "NothingToPrune")],
    };
    candidates.iter().find(|(e, _)| error.is_bulwark(*e)).map(|(_, name)| *name)
}

/// A refusal the planner routes around: the crank is re-planned without what was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    /// The keeper's own account cannot carry the position it would take over.
    TakeoverMargin,
    /// The program refused a winner the keeper nominated (it saw its position or profit
    /// differently, or it is queued already).
    AdlNominees,
}

/// What the program says about a nominee it will not queue.
const NOMINEE_REFUSALS: [BulwarkError; 6] = [
    BulwarkError::AdlCounterpartyNoPosition,
    BulwarkError::AdlCounterpartyNotInProfit,
    BulwarkError::AdlCounterpartySameSide,
    BulwarkError::DuplicateAccount,
    BulwarkError::AdlNominationNotRanked,
    BulwarkError::ClearinghouseMismatch,
];

fn refusal(action: &Action, error: &ChainError) -> Option<Refusal> {
    match action {
        Action::Takeover { .. } if error.is_bulwark(BulwarkError::LiquidatorInsufficientMargin) => {
            Some(Refusal::TakeoverMargin)
        }
        Action::AdlBegin { nominees, .. } | Action::AdlNominate { nominees, .. }
            if !nominees.is_empty() && NOMINEE_REFUSALS.iter().any(|e| error.is_bulwark(*e)) =>
        {
            Some(Refusal::AdlNominees)
        }
        _ => None,
    }
}

/// The same crank with one account fewer in its variable list, if it can lose one.
fn shrink(action: &Action) -> Option<Action> {
    let mut smaller = action.clone();
    let list = match &mut smaller {
        Action::AdlBegin { nominees: list, .. }
        | Action::AdlNominate { nominees: list, .. }
        | Action::AdlExecute { queued: list, .. } => list,
        Action::BookLiquidation { makers, .. } | Action::Prune { makers, .. } => makers,
        _ => return None,
    };
    if list.len() <= 1 {
        return None;
    }
    list.pop();
    Some(smaller)
}

/// A short label for a failure, for `tx_failures_total{reason}`.
fn failure_reason(error: &ChainError) -> String {
    match error {
        ChainError::Transport(_) => "transport".into(),
        ChainError::Timeout(_) => "timeout".into(),
        ChainError::BlockhashExpired => "blockhash_expired".into(),
        ChainError::Rejected(_) => "rejected".into(),
        ChainError::Transaction { .. } => match error.custom_code() {
            Some(code) => format!("program_error_{code}"),
            None => "transaction_error".into(),
        },
    }
}

/// A crank this keeper landed, with its logs (events), for callers that keep a journal.
#[derive(Clone, Debug)]
pub struct LandedCrank {
    pub action: Action,
    pub slot: u64,
    pub logs: Vec<String>,
}

/// What the last cycle saw and did, kept only when `Keeper::keep_journal` is on (the simulator
/// reads it; a long-running keeper does not need it).
#[derive(Default)]
pub struct Journal {
    /// The cycle's first snapshot and plan.
    pub snapshot: Option<Snapshot>,
    pub plan: Vec<Action>,
    pub landed: Vec<LandedCrank>,
    /// Time the cycle spent reading the chain (scans, re-scans and refreshes), and planning its
    /// first plan.
    pub scan_seconds: f64,
    pub plan_seconds: f64,
}

pub struct Keeper<C: Chain> {
    pub chain: C,
    pub config: KeeperConfig,
    authority: Keypair,
    pub margin_account: Pubkey,
    pub metrics: Arc<Metrics>,
    in_flight: HashMap<ActionKey, Instant>,
    /// Counts cranks. Two cranks with identical instructions in one blockhash would be one
    /// transaction (the second dropped as a duplicate), so each crank's compute-unit limit is
    /// raised by this count modulo `CRANK_NONCE_SPAN` (raised, never lowered below a budget). Attempts of one crank share it, so a
    /// retry rebroadcasts rather than duplicates.
    crank_nonce: AtomicU32,
    journal: Option<std::sync::Mutex<Journal>>,
    /// Targets whose takeover the program refused for this keeper's margin, and when: closed
    /// against the book instead until the in-flight TTL passes.
    takeover_refused: HashMap<Pubkey, Instant>,
}

/// Fixed (non-remaining) accounts of each crank's instruction whose builder passes its price
/// pairs writable; `None`: the builder marks them read-only itself.
fn fixed_accounts(action: &Action) -> Option<usize> {
    match action {
        Action::Takeover { .. } | Action::BookLiquidation { .. } => Some(10),
        Action::FlagLiquidatable { .. } => Some(2),
        Action::Funding { .. } => Some(4),
        Action::Prune { .. } => Some(3),
        Action::AdlBegin { .. } | Action::AdlNominate { .. } | Action::AdlExecute { .. } => None,
    }
}

/// How far the compute-unit limit is shaded to make cranks distinct.
const CRANK_NONCE_SPAN: u32 = 1_024;

impl<C: Chain> Keeper<C> {
    pub fn new(chain: C, config: KeeperConfig, authority: Keypair, metrics: Arc<Metrics>) -> Self {
        let margin_account =
            bulwark_sdk::pda::margin_account(&config.clearinghouse, &authority.pubkey(), config.sub_account_id);
        Self {
            chain,
            config,
            authority,
            margin_account,
            metrics,
            in_flight: HashMap::new(),
            crank_nonce: AtomicU32::new(0),
            journal: None,
            takeover_refused: HashMap::new(),
        }
    }

    /// Keep a journal of each cycle (snapshot, plan, landed cranks with logs).
    pub fn keep_journal(&mut self) {
        self.journal = Some(std::sync::Mutex::new(Journal::default()));
    }

    /// The journal since the last call (empty when not kept).
    pub fn take_journal(&self) -> Journal {
        self.journal.as_ref().map(|j| std::mem::take(&mut *j.lock().unwrap())).unwrap_or_default()
    }

    fn confirm_options(&self) -> ConfirmOptions {
        ConfirmOptions { timeout: self.config.confirm_timeout, ..ConfirmOptions::default() }
    }

    /// Create the keeper's margin account if it does not exist.
    pub async fn ensure_margin_account(&self) -> ChainResult<()> {
        if self.chain.load::<MarginAccount>(&self.margin_account).await?.is_some() {
            return Ok(());
        }
        let me = self.authority.pubkey();
        let create = ix::create_margin_account_ix(&self.config.clearinghouse, &me, &me, self.config.sub_account_id);
        send_and_confirm(&self.chain, &[create], &self.authority, &[], self.confirm_options()).await.map(|_| ())
    }

    /// Bring `snapshot` up to date after a landed crank that wrote `touched`; false when the
    /// read failed (the caller scans again before relying on it).
    async fn refresh(&self, snapshot: &mut Snapshot, touched: &[Pubkey]) -> bool {
        let started = Instant::now();
        let result = snapshot.refresh(&self.chain, touched).await;
        if let Some(journal) = &self.journal {
            journal.lock().unwrap().scan_seconds += started.elapsed().as_secs_f64();
        }
        if let Err(e) = &result {
            self.metrics.scan_failures.inc();
            tracing::warn!(error = %e, "re-reading what a crank wrote failed; scanning again");
        }
        result.is_ok()
    }

    /// Fetch and price everything, retrying reads with backoff.
    pub async fn scan(&self) -> ChainResult<Snapshot> {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            match Snapshot::load(&self.chain, &self.config.clearinghouse).await {
                Ok(snapshot) => {
                    self.metrics.scan_duration_seconds.observe(started.elapsed().as_secs_f64());
                    if let Some(journal) = &self.journal {
                        journal.lock().unwrap().scan_seconds += started.elapsed().as_secs_f64();
                    }
                    self.metrics.scans.inc();
                    self.metrics.accounts_scanned.set(snapshot.accounts.len() as i64);
                    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                    self.metrics.last_scan_unix.set(now.as_secs() as i64);
                    self.metrics.scan_ended(true);
                    return Ok(snapshot);
                }
                Err(e) if e.is_retryable() && attempt < self.config.max_retries => {
                    self.metrics.scan_failures.inc();
                    self.metrics.retries.inc();
                    tracing::warn!(error = %e, attempt, "scan failed; retrying");
                    tokio::time::sleep(self.backoff(attempt)).await;
                    attempt += 1;
                }
                Err(e) => {
                    self.metrics.scan_failures.inc();
                    self.metrics.scan_ended(false);
                    return Err(e);
                }
            }
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        self.config.retry_backoff.saturating_mul(1 << attempt.min(10))
    }

    fn plan_options(&self) -> PlanOptions {
        PlanOptions {
            keeper_account: self.margin_account,
            takeover: self.config.takeover,
            defend_owner: self.config.defend.then(|| self.authority.pubkey()),
        }
    }

    fn avoid(&self) -> Avoid {
        Avoid { takeover: self.takeover_refused.keys().copied().collect(), adl_counterparties: Vec::new() }
    }

    /// One scan and every crank it calls for. ADL keeps cranking a target (re-reading what each
    /// batch wrote) until it is flat or `adl_cranks_per_scan` is used up. A crank refused in a way
    /// the plan can route around is re-planned at once for the same target: a takeover the
    /// keeper cannot carry becomes a book liquidation (or, with no liquidity, the ADL or status
    /// update the plan then calls for); an ADL that filled nothing is re-planned without the
    /// counterparties it named.
    pub async fn run_cycle(&mut self) -> ChainResult<CycleReport> {
        let ttl = self.config.in_flight_ttl;
        self.in_flight.retain(|_, since| since.elapsed() < ttl);
        self.takeover_refused.retain(|_, since| since.elapsed() < ttl);
        let mut avoid = self.avoid();
        let mut snapshot = self.scan().await?;
        let planning = Instant::now();
        let actions = plan_with(&snapshot, &self.plan_options(), &avoid);
        if let Some(journal) = &self.journal {
            let mut journal = journal.lock().unwrap();
            journal.plan_seconds += planning.elapsed().as_secs_f64();
            journal.snapshot = Some(snapshot.clone());
            journal.plan = actions.clone();
        }
        let mut report =
            CycleReport { accounts: snapshot.accounts.len(), planned: actions.len(), ..Default::default() };
        let prices = snapshot.prices();
        let below_maintenance = snapshot
            .accounts
            .iter()
            .filter(|(_, a)| crate::snapshot::health(a, &prices).is_some_and(|h| !h.meets_maintenance()))
            .count();
        self.metrics.liquidatable_accounts.set(below_maintenance as i64);

        // The plan holds while nothing has landed. After that, each remaining liquidation or
        // ADL is re-planned from the snapshot refreshed with what landed: makers or
        // counterparties it named may be gone.
        let mut plan_current = true;
        let mut scan_current = true;
        for planned in actions {
            let mut action = planned;
            if !plan_current && !matches!(action, Action::Funding { .. } | Action::Prune { .. }) {
                if !scan_current {
                    snapshot = self.scan().await?;
                    scan_current = true;
                }
                let key = action.key();
                let fresh = match action.target() {
                    Some(target) => plan_for(&snapshot, &self.plan_options(), &avoid, &target),
                    None => plan_with(&snapshot, &self.plan_options(), &avoid),
                };
                match fresh.into_iter().find(|a| a.key() == key) {
                    Some(fresh) => action = fresh,
                    None => continue, // no longer needed
                }
            }
            let mut adl_cranks = 0;
            let mut fallbacks = 0;
            loop {
                let key = action.key();
                if self.in_flight.contains_key(&key) {
                    report.skipped_in_flight += 1;
                    break;
                }
                self.in_flight.insert(key, Instant::now());
                let (outcome, refused, touched) = self.execute_reporting(&snapshot, &action).await;
                if outcome != Outcome::Unknown {
                    self.in_flight.remove(&key);
                }
                match outcome {
                    Outcome::Landed => {
                        report.landed += 1;
                        plan_current = false;
                        // Re-read what this crank wrote rather than everything: at thousands of
                        // accounts a full scan per landed crank is most of a busy cycle.
                        scan_current = self.refresh(&mut snapshot, &touched).await;
                    }
                    Outcome::LostRace => report.lost_races += 1,
                    Outcome::Failed => report.failed += 1,
                    Outcome::Unknown => report.unknown += 1,
                }
                if let (Some(refused), Some(target)) = (refused, action.target()) {
                    // Route around the refusal, once per kind, and try the target again.
                    if fallbacks >= 2 {
                        break;
                    }
                    fallbacks += 1;
                    match (refused, &action) {
                        (Refusal::TakeoverMargin, _) => {
                            self.takeover_refused.insert(target, Instant::now());
                            avoid.takeover.push(target);
                        }
                        (Refusal::AdlNominees, Action::AdlBegin { nominees, .. })
                        | (Refusal::AdlNominees, Action::AdlNominate { nominees, .. }) => {
                            avoid.adl_counterparties.extend(nominees.iter().map(|c| (target, *c)));
                            // The scan was stale about someone's equity: look again.
                            snapshot = self.scan().await?;
                            scan_current = true;
                        }
                        _ => {}
                    }
                    let next = plan_for(&snapshot, &self.plan_options(), &avoid, &target)
                        .into_iter()
                        .find(|a| a.target() == Some(target));
                    match next {
                        Some(next) => {
                            report.fallbacks += 1;
                            action = next;
                            continue;
                        }
                        None => break,
                    }
                }
                // Keep executing this round until it closes (or waits for nominations).
                if !matches!(action, Action::AdlExecute { .. }) {
                    break;
                }
                adl_cranks += 1;
                if outcome != Outcome::Landed || adl_cranks >= self.config.adl_cranks_per_scan {
                    break;
                }
                if !scan_current {
                    snapshot = self.scan().await?;
                    scan_current = true;
                }
                let target = action.target().unwrap_or_default();
                let next = plan_for(&snapshot, &self.plan_options(), &avoid, &target)
                    .into_iter()
                    .find(|a| matches!(a, Action::AdlExecute { .. }) && a.key() == key);
                match next {
                    Some(next) => action = next,
                    None => break,
                }
            }
        }
        Ok(report)
    }

    /// Send one crank, retrying what may succeed on another attempt.
    pub async fn execute(&self, snapshot: &Snapshot, action: &Action) -> Outcome {
        self.execute_reporting(snapshot, action).await.0
    }

    /// `execute`, also naming a refusal the plan can route around and, when it landed, the
    /// accounts its transaction may have written.
    async fn execute_reporting(&self, snapshot: &Snapshot, action: &Action) -> (Outcome, Option<Refusal>, Vec<Pubkey>) {
        // Fit the packet: drop trailing counterparties or makers (order is kept, so the rest
        // is still valid on chain) until the transaction is small enough.
        let payer = self.authority.pubkey();
        let mut fitted = action.clone();
        let instructions = loop {
            let Some(instructions) = self.instructions(snapshot, &fitted) else {
                tracing::warn!(?action, "crank needs an account the snapshot lacks");
                return (Outcome::Failed, None, vec![]);
            };
            if transaction_size(&instructions, &payer) <= PACKET_DATA_SIZE {
                break instructions;
            }
            match shrink(&fitted) {
                Some(smaller) => fitted = smaller,
                None => {
                    tracing::warn!(?action, "crank does not fit one transaction");
                    self.metrics.fail("too_large");
                    return (Outcome::Failed, None, vec![]);
                }
            }
        };
        let action = &fitted;
        let mut touched: Vec<Pubkey> =
            instructions.iter().flat_map(|ix| ix.accounts.iter().filter(|m| m.is_writable).map(|m| m.pubkey)).collect();
        touched.sort_unstable();
        touched.dedup();
        let mut sent = Vec::new();
        let mut last_unknown = false;
        for attempt in 0..=self.config.max_retries {
            if attempt > 0 {
                self.metrics.retries.inc();
                tokio::time::sleep(self.backoff(attempt - 1)).await;
            }
            let result = send_and_confirm_tracked(
                &self.chain,
                &instructions,
                &self.authority,
                &[],
                self.confirm_options(),
                &mut sent,
            )
            .await;
            match result {
                Ok(landed) => {
                    self.record(action, landed.slot, landed.logs);
                    return (Outcome::Landed, None, touched);
                }
                Err(e) => {
                    // An earlier attempt whose answer was lost may have landed: then this is ours.
                    if let Some((slot, logs)) = self.landed_earlier(&sent).await {
                        self.record(action, slot, logs);
                        return (Outcome::Landed, None, touched);
                    }
                    if let Some(name) = lost_race_error(action, &e) {
                        tracing::info!(action = action.name(), error = name, "lost race");
                        self.metrics.lost_race(name);
                        return (Outcome::LostRace, None, vec![]);
                    }
                    self.metrics.fail(&failure_reason(&e));
                    if let Some(refused) = refusal(action, &e) {
                        tracing::info!(action = action.name(), ?refused, "crank refused; re-planning");
                        return (Outcome::Failed, Some(refused), vec![]);
                    }
                    if !e.is_retryable() {
                        tracing::warn!(action = action.name(), error = %e, "crank failed");
                        return (Outcome::Failed, None, vec![]);
                    }
                    tracing::warn!(action = action.name(), error = %e, attempt, "crank attempt failed; retrying");
                    last_unknown |= matches!(e, ChainError::Timeout(_) | ChainError::Transport(_));
                }
            }
        }
        if last_unknown {
            (Outcome::Unknown, None, vec![])
        } else {
            (Outcome::Failed, None, vec![])
        }
    }

    async fn landed_earlier(&self, sent: &[Sent]) -> Option<(u64, Vec<String>)> {
        for attempt in sent {
            if let Ok(Some(status)) = self.chain.transaction_status(&attempt.signature).await {
                if status.err.is_none() {
                    return Some((status.slot, status.logs));
                }
            }
        }
        None
    }

    /// Count a landed crank from its events, and journal it when a journal is kept.
    fn record(&self, action: &Action, slot: u64, logs: Vec<String>) {
        self.record_metrics(action, &logs);
        if let Some(journal) = &self.journal {
            journal.lock().unwrap().landed.push(LandedCrank { action: action.clone(), slot, logs });
        }
    }

    fn record_metrics(&self, action: &Action, logs: &[String]) {
        self.metrics.landed(action.name());
        let liquidations = decode_events::<LiquidationV1>(logs);
        self.metrics.liquidations.inc_by(liquidations.len() as u64);
        let fills = decode_events::<AdlFillV1>(logs);
        self.metrics.adl_fills.inc_by(fills.len() as u64);
        for opened in decode_events::<AdlRoundOpenedV1>(logs) {
            tracing::info!(
                target_account = %opened.target,
                market = %opened.market,
                price = opened.price,
                uncovered = opened.uncovered,
                window_end_slot = opened.window_end_slot,
                restart = opened.restart_count,
                "ADL round opened"
            );
        }
        for closed in decode_events::<AdlRoundClosedV1>(logs) {
            tracing::info!(
                target_account = %closed.target,
                haircut_total = closed.haircut_total,
                fills = closed.fill_count,
                slots_open = closed.closed_slot.saturating_sub(closed.opened_slot),
                "ADL round closed"
            );
        }
        self.metrics.adl_haircut_atoms.inc_by(fills.iter().map(|f| f.haircut).sum());
        let payouts = decode_events::<InsurancePayoutV1>(logs);
        self.metrics.insurance_paid_atoms.inc_by(payouts.iter().map(|p| p.amount).sum());
        tracing::info!(
            action = action.name(),
            liquidations = liquidations.len(),
            adl_fills = fills.len(),
            "crank landed"
        );
    }

    /// Compute budget, the collateral refresh when the clearinghouse needs one, then the crank.
    pub fn instructions(&self, snapshot: &Snapshot, action: &Action) -> Option<Vec<Instruction>> {
        let ch = &snapshot.keys;
        let nonce = self.crank_nonce.fetch_add(1, Ordering::Relaxed) % CRANK_NONCE_SPAN;
        let priced = !matches!(action, Action::Prune { .. });
        let refresh = if priced { ix::collateral_refresh_for(&ch.key, &snapshot.clearinghouse) } else { None };
        // The limit asked: the operator's when set, else the written budgets of exactly what
        // this transaction runs (each measured in its worst case on the bytecode).
        let limit = self.config.compute_unit_limit.unwrap_or_else(|| {
            let mut names = action.instruction_names();
            names.extend(refresh.iter().map(|_| "RefreshCollateralPrice"));
            bulwark_sdk::compute::crank_limit(&names)
        });
        let mut out = vec![
            ix::compute_unit_limit_ix(limit.saturating_add(nonce).min(bulwark_sdk::compute::MAX_TRANSACTION_CU)),
            ix::compute_unit_price_ix(self.config.priority_fee()),
        ];
        out.extend(refresh);
        let market_keys = |index: u16| snapshot.market(index).map(|m| m.keys);
        // (market, oracle) pairs of every market these accounts hold, except `skip`.
        let pairs_for = |accounts: &[Pubkey], skip: Option<u16>| -> Option<Vec<Pubkey>> {
            let mut indexes: Vec<u16> = Vec::new();
            for key in accounts {
                for p in snapshot.account(key)?.open_positions() {
                    if Some(p.market_index) != skip && !indexes.contains(&p.market_index) {
                        indexes.push(p.market_index);
                    }
                }
            }
            let keys: Option<Vec<MarketKeys>> = indexes.into_iter().map(market_keys).collect();
            Some(price_pairs(&keys?))
        };
        let me = self.authority.pubkey();
        let crank = match action {
            Action::Takeover { target, market_index } => ix::liquidate_takeover_ix(
                &me,
                ch,
                &self.margin_account,
                target,
                &market_keys(*market_index)?,
                0,
                &pairs_for(&[*target, self.margin_account], Some(*market_index))?,
            ),
            Action::BookLiquidation { target, market_index, makers } => {
                // Every maker's markets are priced too: the program checks each maker's whole
                // account after its fill.
                let remaining = snapshot.matching_remaining(*market_index, target, makers)?;
                ix::liquidate_against_book_ix(
                    &me,
                    ch,
                    &self.margin_account,
                    target,
                    &market_keys(*market_index)?,
                    &remaining,
                )
            }
            Action::FlagLiquidatable { target } => {
                ix::update_liquidation_status_ix(&ch.key, target, &pairs_for(&[*target], None)?)
            }
            Action::AdlBegin { target, market_index, nominees } => {
                let market = market_keys(*market_index)?;
                let begin =
                    ix::begin_adl_ix(&me, &ch.key, &market, target, &pairs_for(&[*target], Some(*market_index))?);
                out.push(begin);
                if nominees.is_empty() {
                    return Some(out);
                }
                let pairs = pairs_for(nominees, Some(*market_index))?;
                ix::nominate_adl_ix(&me, &ch.key, &market, target, &pairs, nominees)
            }
            Action::AdlNominate { target, market_index, nominees } => {
                let pairs = pairs_for(nominees, Some(*market_index))?;
                ix::nominate_adl_ix(&me, &ch.key, &market_keys(*market_index)?, target, &pairs, nominees)
            }
            Action::AdlExecute { target, market_index, opener, queued } => {
                let mut holders = vec![*target];
                holders.extend_from_slice(queued);
                let pairs = pairs_for(&holders, Some(*market_index))?;
                ix::execute_adl_ix(ch, &market_keys(*market_index)?, target, opener, &pairs, queued)
            }
            Action::Funding { market_index } => ix::update_funding_ix(&ch.key, &market_keys(*market_index)?),
            Action::Prune { market_index, makers } => {
                ix::prune_expired_orders_ix(&ch.key, &market_keys(*market_index)?, makers)
            }
        };
        // Price pairs are read, never written: do not write-lock other markets and feeds.
        let pairs: Vec<Pubkey> = snapshot.markets.iter().flat_map(|m| m.keys.price_pair()).collect();
        out.push(match fixed_accounts(action) {
            Some(fixed) => ix::readonly_remaining(crank, fixed, &pairs),
            None => crank,
        });
        Some(out)
    }

    /// Cycle every `scan_interval` until `shutdown` turns true; a cycle in progress finishes.
    pub async fn run(&mut self, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            match self.run_cycle().await {
                Ok(report) if report.planned > 0 => tracing::info!(?report, "cycle"),
                Ok(_) => tracing::debug!("cycle: nothing to do"),
                Err(e) => tracing::error!(error = %e, "scan failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.scan_interval) => {}
                _ = shutdown.changed() => {}
            }
        }
        tracing::info!("keeper stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrinking_drops_the_last_of_the_variable_accounts() {
        let keys: Vec<Pubkey> = (0..3).map(|_| Pubkey::new_unique()).collect();
        let adl = Action::AdlExecute { target: keys[0], market_index: 0, opener: keys[0], queued: keys.clone() };
        assert_eq!(
            shrink(&adl),
            Some(Action::AdlExecute { target: keys[0], market_index: 0, opener: keys[0], queued: keys[..2].to_vec() })
        );
        let one = Action::BookLiquidation { target: keys[0], market_index: 0, makers: vec![keys[1]] };
        assert_eq!(shrink(&one), None, "a crank keeps at least one maker");
        assert_eq!(shrink(&Action::Funding { market_index: 0 }), None);
    }

    #[test]
    fn the_largest_adl_execution_fits_one_packet_with_the_queue_head_shrunk() {
        // Seven other markets' price pairs (the program's limit), the compute budget and the
        // collateral refresh: the keeper's worst case. Five queued winners fit; the program takes
        // six, so the keeper sends the head in shorter calls.
        let ch = bulwark_sdk::ix::ClearinghouseKeys::new(Pubkey::new_unique());
        let market = MarketKeys::new(&ch.key, 0, Pubkey::new_unique());
        let others: Vec<MarketKeys> = (1..8).map(|i| MarketKeys::new(&ch.key, i, Pubkey::new_unique())).collect();
        let payer = Pubkey::new_unique();
        let crank = |queued: usize| {
            let queued: Vec<Pubkey> = (0..queued).map(|_| Pubkey::new_unique()).collect();
            [
                ix::compute_unit_limit_ix(1_000_000),
                ix::compute_unit_price_ix(1),
                ix::refresh_collateral_price_ix(&ch.key, Some(Pubkey::new_unique()), None, None),
                ix::execute_adl_ix(&ch, &market, &Pubkey::new_unique(), &payer, &price_pairs(&others), &queued),
            ]
        };
        let sizes: Vec<usize> = (4..=6).map(|n| transaction_size(&crank(n), &payer)).collect();
        assert_eq!(sizes, vec![1_168, 1_201, 1_234]);
        assert!(sizes[1] <= PACKET_DATA_SIZE && sizes[2] > PACKET_DATA_SIZE, "five fit, six do not");
    }
}
