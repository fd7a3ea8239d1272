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
use bulwark::events::{
    AdlFillV1, AdlNominatedV1, AdlRoundClosedV1, AdlRoundOpenedV1, AdlWindowReopenedV1, BadDebtRecordedV1,
    FundingSampledV1, FundingUpdatedV1, InsurancePayoutV1, LiquidationStatusV1, LiquidationV1, OrderCancelledV1,
};
use bulwark::state::{MarginAccount, ACCOUNT_FLAG_BEING_LIQUIDATED};
use bulwark_sdk::chain::{
    send_and_confirm, send_and_confirm_tracked, transaction_size, Chain, ChainError, ChainResult, ConfirmOptions, Sent,
    Signature, PACKET_DATA_SIZE,
};
use bulwark_sdk::events::decode_events;
use bulwark_sdk::ix::{self, price_pairs, MarketKeys};
use bulwark_sdk::units::format_price;
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

/// The error by name: the program's (Bulwark's from the IDL, or Anchor's from the logs), else
/// the transaction error (e.g. `InsufficientFundsForFee`), else the failure class.
pub fn error_name(error: &ChainError) -> String {
    if let Some(e) = error.custom_code().and_then(bulwark_sdk::errors::program_error) {
        return e.name.clone();
    }
    match error {
        ChainError::Transaction { err, logs } => logs
            .iter()
            .find_map(|line| {
                let code = line.split_once("Error Code: ")?.1;
                Some(code.split('.').next()?.trim().to_string())
            })
            .unwrap_or_else(|| format!("{err:?}")),
        _ => failure_reason(error),
    }
}

/// A failure that means the keeper's wallet cannot pay (a fee, or an ADL round's rent).
fn out_of_sol(error: &ChainError) -> bool {
    match error {
        ChainError::Transaction { err, logs } => {
            let kind = format!("{err:?}");
            kind.starts_with("InsufficientFundsFor")
                || kind == "AccountNotFound"
                || logs.iter().any(|l| l.contains("insufficient lamports"))
        }
        ChainError::Rejected(message) => message.contains("insufficient funds") || message.contains("AccountNotFound"),
        _ => false,
    }
}

/// SOL, from lamports, for a person.
fn format_sol(lamports: u64) -> String {
    bulwark_sdk::units::format_decimal(lamports as i128, 9)
}

/// How often the low-SOL warning repeats while the balance stays low.
const LOW_SOL_WARN_EVERY: Duration = Duration::from_secs(600);

/// Who and what a crank is about, as the keeper saw it at the scan: the fields of each of its
/// log lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CrankSubject {
    pub action: &'static str,
    /// The margin account a liquidation, status update or ADL round is about, and its owner.
    pub account: Option<Pubkey>,
    pub owner: Option<Pubkey>,
    /// The market's symbol (`--market-symbols`) or `#INDEX`, and its index.
    pub market: Option<String>,
    pub market_index: Option<u16>,
    /// The account's position in the market at the scan, signed lots.
    pub position_lots: Option<i64>,
    /// The market's oracle price at the scan (`PRICE_PRECISION`); a landed crank's line shows
    /// the price its events report instead.
    pub price: Option<i64>,
    /// Makers (book liquidation, prune), nominees (ADL begin/nominate) or queued winners (ADL
    /// execute) the crank names.
    pub makers: Option<usize>,
    pub nominees: Option<usize>,
    pub queued: Option<usize>,
}

impl CrankSubject {
    pub fn new(snapshot: &Snapshot, config: &KeeperConfig, action: &Action) -> Self {
        let market_index = match action {
            Action::Takeover { market_index, .. }
            | Action::BookLiquidation { market_index, .. }
            | Action::AdlBegin { market_index, .. }
            | Action::AdlNominate { market_index, .. }
            | Action::AdlExecute { market_index, .. }
            | Action::Funding { market_index }
            | Action::Prune { market_index, .. } => Some(*market_index),
            Action::FlagLiquidatable { .. } => None,
        };
        let account = action.target();
        let margin = account.and_then(|k| snapshot.account(&k));
        let position_lots = market_index
            .and_then(|index| margin?.open_positions().find(|p| p.market_index == index).map(|p| p.base_lots));
        let (mut makers, mut nominees, mut queued) = (None, None, None);
        match action {
            Action::BookLiquidation { makers: m, .. } | Action::Prune { makers: m, .. } => makers = Some(m.len()),
            Action::AdlBegin { nominees: n, .. } | Action::AdlNominate { nominees: n, .. } => nominees = Some(n.len()),
            Action::AdlExecute { queued: q, .. } => queued = Some(q.len()),
            _ => {}
        }
        Self {
            action: action.name(),
            account,
            owner: margin.map(|m| m.owner),
            market: market_index.map(|i| config.market_label(i)),
            market_index,
            position_lots,
            price: market_index.and_then(|i| snapshot.market(i)?.price).map(|p| p.price),
            makers,
            nominees,
            queued,
        }
    }
}

/// A `tracing` event at `$level` carrying a crank's subject fields, then `$rest` (more fields
/// and the message).
macro_rules! crank_event {
    ($level:expr, $subject:expr, $($rest:tt)+) => {{
        let s: &CrankSubject = $subject;
        tracing::event!(
            $level,
            action = %s.action,
            account = s.account.as_ref().map(tracing::field::display),
            owner = s.owner.as_ref().map(tracing::field::display),
            market = s.market.as_deref().map(tracing::field::display),
            market_index = s.market_index,
            position_lots = s.position_lots,
            price = s.price.map(|p| tracing::field::display(format_price(p))),
            makers = s.makers,
            nominees = s.nominees,
            queued = s.queued,
            $($rest)+
        )
    }};
}

/// What a landed crank's events say it did, for its log line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct LandedSummary {
    /// Lots closed (liquidation, ADL fills; signed like a fill of the account) or frozen (an ADL
    /// round opened).
    lots: Option<i64>,
    price: Option<i64>,
    liquidations: Option<usize>,
    fills: Option<usize>,
    nominated: Option<usize>,
    haircut_atoms: Option<u64>,
    insurance_paid_atoms: Option<u64>,
    bad_debt_atoms: Option<u64>,
    uncovered_atoms: Option<u64>,
    window_end_slot: Option<u64>,
    /// How many times the round restarted at a new price (not shown while 0).
    round_restarts: Option<u16>,
    round_closed: Option<bool>,
    funding_per_lot: Option<i64>,
    orders_pruned: Option<usize>,
    flagged: Option<bool>,
}

fn nonzero<T: Default + PartialEq>(v: T) -> Option<T> {
    (v != T::default()).then_some(v)
}

impl LandedSummary {
    fn from_logs(action: &Action, logs: &[String]) -> Self {
        let mut out = Self::default();
        let liquidations = decode_events::<LiquidationV1>(logs);
        if !liquidations.is_empty() {
            out.liquidations = Some(liquidations.len());
            out.lots = Some(liquidations.iter().map(|l| l.base_lots).sum());
            out.price = liquidations.last().map(|l| l.oracle_price);
            out.flagged = liquidations.last().map(|l| l.still_liquidating);
        }
        let fills = decode_events::<AdlFillV1>(logs);
        if !fills.is_empty() {
            out.fills = Some(fills.len());
            out.lots = Some(fills.iter().map(|f| f.base_lots).sum());
            out.price = fills.last().map(|f| f.oracle_price);
            out.haircut_atoms = Some(fills.iter().map(|f| f.haircut).sum());
        }
        if let Some(opened) = decode_events::<AdlRoundOpenedV1>(logs).pop() {
            if out.fills.is_none() {
                out.lots = Some(opened.target_lots);
                out.price = Some(opened.price);
            }
            out.uncovered_atoms = Some(opened.uncovered);
            out.window_end_slot = Some(opened.window_end_slot);
            out.round_restarts = nonzero(opened.restart_count);
        }
        if let Some(reopened) = decode_events::<AdlWindowReopenedV1>(logs).pop() {
            out.uncovered_atoms = Some(reopened.uncovered_left);
            out.window_end_slot = Some(reopened.window_end_slot);
        }
        if action.is_adl() && !matches!(action, Action::AdlExecute { .. }) {
            out.nominated = Some(decode_events::<AdlNominatedV1>(logs).len());
        }
        if matches!(action, Action::AdlExecute { .. }) {
            out.round_closed = Some(!decode_events::<AdlRoundClosedV1>(logs).is_empty());
        }
        out.insurance_paid_atoms = nonzero(decode_events::<InsurancePayoutV1>(logs).iter().map(|p| p.amount).sum());
        out.bad_debt_atoms = nonzero(decode_events::<BadDebtRecordedV1>(logs).iter().map(|d| d.amount).sum());
        if let Some(status) = decode_events::<LiquidationStatusV1>(logs).pop() {
            out.flagged = Some(status.status_flags & ACCOUNT_FLAG_BEING_LIQUIDATED != 0);
        }
        if let Action::Funding { .. } = action {
            if let Some(sample) = decode_events::<FundingSampledV1>(logs).pop() {
                out.price = Some(sample.oracle_price);
            }
            out.funding_per_lot = decode_events::<FundingUpdatedV1>(logs).pop().map(|f| f.funding_per_lot);
        }
        if let Action::Prune { .. } = action {
            out.orders_pruned = Some(decode_events::<OrderCancelledV1>(logs).len());
        }
        out
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

/// One info line for a landed crank: its subject, what its events say it did, its signature;
/// at debug, one line per ADL fill naming the winner that paid.
fn log_landed(subject: &CrankSubject, action: &Action, signature: &Signature, slot: u64, logs: &[String]) {
    let done = LandedSummary::from_logs(action, logs);
    let subject = CrankSubject { price: done.price.or(subject.price), ..subject.clone() };
    crank_event!(
        tracing::Level::INFO,
        &subject,
        lots = done.lots,
        liquidations = done.liquidations,
        fills = done.fills,
        nominated = done.nominated,
        haircut_atoms = done.haircut_atoms,
        insurance_paid_atoms = done.insurance_paid_atoms,
        bad_debt_atoms = done.bad_debt_atoms,
        uncovered_atoms = done.uncovered_atoms,
        window_end_slot = done.window_end_slot,
        round_restarts = done.round_restarts,
        round_closed = done.round_closed,
        funding_per_lot = done.funding_per_lot,
        orders_pruned = done.orders_pruned,
        flagged = done.flagged,
        %signature,
        slot,
        "crank landed"
    );
    if tracing::enabled!(tracing::Level::DEBUG) {
        for fill in decode_events::<AdlFillV1>(logs) {
            tracing::debug!(
                account = %fill.target,
                counterparty = %fill.counterparty,
                market = subject.market.as_deref().map(tracing::field::display),
                market_index = subject.market_index,
                lots = fill.base_lots,
                price = %format_price(fill.oracle_price),
                haircut_atoms = fill.haircut,
                %signature,
                "ADL fill"
            );
        }
    }
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
    /// When the low-SOL warning was last logged, while the balance stays low.
    low_sol_warned: std::sync::Mutex<Option<Instant>>,
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
            low_sol_warned: std::sync::Mutex::new(None),
        }
    }

    /// Read the keeper's SOL balance into `sol_balance_lamports` and warn when it is below
    /// `min_sol_lamports`: at once, then every `LOW_SOL_WARN_EVERY` while it stays low. `None`
    /// when the balance could not be read (the scan reports the node's trouble).
    pub async fn check_sol_balance(&self) -> Option<u64> {
        let me = self.authority.pubkey();
        let lamports = match self.chain.accounts(&[me]).await {
            Ok(mut accounts) => accounts.pop().flatten().map_or(0, |a| a.lamports),
            Err(e) => {
                tracing::debug!(
                    keeper = %me,
                    error = %crate::config::redact(&e.to_string(), &self.config.rpc_url),
                    "reading the keeper's SOL balance failed"
                );
                return None;
            }
        };
        self.metrics.sol_balance_lamports.set(i64::try_from(lamports).unwrap_or(i64::MAX));
        let min = self.config.min_sol_lamports;
        let mut warned = self.low_sol_warned.lock().unwrap();
        if lamports < min {
            if warned.is_none_or(|at| at.elapsed() >= LOW_SOL_WARN_EVERY) {
                tracing::warn!(
                    keeper = %me,
                    sol_balance = %format_sol(lamports),
                    min_sol = %format_sol(min),
                    "keeper SOL balance low: it pays every crank's fee and ~0.01 SOL of rent per ADL round it \
                     opens, and fails every crank once dry; fund it, e.g. `solana transfer --allow-unfunded-recipient \
                     {me} 0.5 --url {}`",
                    crate::config::redacted_url(&self.config.rpc_url)
                );
                *warned = Some(Instant::now());
            }
        } else if warned.take().is_some() {
            tracing::info!(keeper = %me, sol_balance = %format_sol(lamports), "keeper SOL balance back above --min-sol");
        }
        Some(lamports)
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
            tracing::warn!(
                error = %crate::config::redact(&e.to_string(), &self.config.rpc_url),
                "re-reading what a crank wrote failed; scanning again"
            );
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
                    tracing::warn!(
                        error = %crate::config::redact(&e.to_string(), &self.config.rpc_url),
                        attempt,
                        "scan failed; retrying"
                    );
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
        tracing::debug!(
            accounts = snapshot.accounts.len(),
            markets = snapshot.markets.len(),
            adl_rounds = snapshot.adl_rounds.len(),
            below_maintenance,
            planned = actions.len(),
            slot = snapshot.clock.slot,
            "scanned"
        );
        for action in &actions {
            crank_event!(tracing::Level::DEBUG, &CrankSubject::new(&snapshot, &self.config, action), "planned");
        }

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
        // After the cranks: the balance read never delays a liquidation.
        self.check_sol_balance().await;
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
        let subject = CrankSubject::new(snapshot, &self.config, action);
        let mut fitted = action.clone();
        let instructions = loop {
            let Some(instructions) = self.instructions(snapshot, &fitted) else {
                crank_event!(tracing::Level::WARN, &subject, ?action, "crank needs an account the snapshot lacks");
                return (Outcome::Failed, None, vec![]);
            };
            if transaction_size(&instructions, &payer) <= PACKET_DATA_SIZE {
                break instructions;
            }
            match shrink(&fitted) {
                Some(smaller) => fitted = smaller,
                None => {
                    crank_event!(tracing::Level::WARN, &subject, ?action, "crank failed: does not fit one transaction");
                    self.metrics.fail("too_large");
                    return (Outcome::Failed, None, vec![]);
                }
            }
        };
        let action = &fitted;
        let subject = CrankSubject::new(snapshot, &self.config, action);
        let mut touched: Vec<Pubkey> =
            instructions.iter().flat_map(|ix| ix.accounts.iter().filter(|m| m.is_writable).map(|m| m.pubkey)).collect();
        touched.sort_unstable();
        touched.dedup();
        let mut sent = Vec::new();
        let mut last_unknown = false;
        let mut last_error = None;
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
                    self.record(&subject, action, landed.signature, landed.slot, landed.logs);
                    return (Outcome::Landed, None, touched);
                }
                Err(e) => {
                    // An earlier attempt whose answer was lost may have landed: then this is ours.
                    if let Some((signature, slot, logs)) = self.landed_earlier(&sent).await {
                        self.record(&subject, action, signature, slot, logs);
                        return (Outcome::Landed, None, touched);
                    }
                    let signature = sent.last().map(|s| tracing::field::display(s.signature));
                    if let Some(name) = lost_race_error(action, &e) {
                        crank_event!(tracing::Level::INFO, &subject, error = %name, signature, "lost race");
                        self.metrics.lost_race(name);
                        return (Outcome::LostRace, None, vec![]);
                    }
                    let reason = failure_reason(&e);
                    self.metrics.fail(&reason);
                    let error = error_name(&e);
                    if let Some(refused) = refusal(action, &e) {
                        crank_event!(
                            tracing::Level::INFO,
                            &subject,
                            error = %error,
                            ?refused,
                            signature,
                            "crank refused; re-planning"
                        );
                        return (Outcome::Failed, Some(refused), vec![]);
                    }
                    let hint = out_of_sol(&e).then(|| {
                        format!(
                            "the keeper's wallet {payer} cannot pay: fund it (see bulwark_keeper_sol_balance_lamports)"
                        )
                    });
                    if !e.is_retryable() {
                        crank_event!(
                            tracing::Level::WARN,
                            &subject,
                            error = %error,
                            %reason,
                            detail = %crate::config::redact(&e.describe(), &self.config.rpc_url),
                            hint,
                            signature,
                            "crank failed"
                        );
                        return (Outcome::Failed, None, vec![]);
                    }
                    crank_event!(
                        tracing::Level::INFO,
                        &subject,
                        error = %error,
                        detail = %crate::config::redact(&e.describe(), &self.config.rpc_url),
                        attempt,
                        signature,
                        "crank attempt failed; retrying"
                    );
                    last_unknown |= matches!(e, ChainError::Timeout(_) | ChainError::Transport(_));
                    last_error = Some(e);
                }
            }
        }
        let signature = sent.last().map(|s| tracing::field::display(s.signature));
        let error = last_error.as_ref().map(|e| tracing::field::display(error_name(e)));
        let detail = last_error
            .as_ref()
            .map(|e| tracing::field::display(crate::config::redact(&e.describe(), &self.config.rpc_url)));
        let attempts = self.config.max_retries + 1;
        if last_unknown {
            crank_event!(
                tracing::Level::WARN,
                &subject,
                error,
                detail,
                attempts,
                signature,
                "crank outcome unknown after its retries; not sent again until --in-flight-ttl-ms passes"
            );
            (Outcome::Unknown, None, vec![])
        } else {
            crank_event!(
                tracing::Level::WARN,
                &subject,
                error,
                detail,
                attempts,
                signature,
                "crank failed after its retries"
            );
            (Outcome::Failed, None, vec![])
        }
    }

    async fn landed_earlier(&self, sent: &[Sent]) -> Option<(Signature, u64, Vec<String>)> {
        for attempt in sent {
            if let Ok(Some(status)) = self.chain.transaction_status(&attempt.signature).await {
                if status.err.is_none() {
                    return Some((attempt.signature, status.slot, status.logs));
                }
            }
        }
        None
    }

    /// Count and log a landed crank from its events, and journal it when a journal is kept.
    fn record(&self, subject: &CrankSubject, action: &Action, signature: Signature, slot: u64, logs: Vec<String>) {
        self.record_metrics(action, &logs);
        log_landed(subject, action, &signature, slot, &logs);
        if let Some(journal) = &self.journal {
            journal.lock().unwrap().landed.push(LandedCrank { action: action.clone(), slot, logs });
        }
    }

    fn record_metrics(&self, action: &Action, logs: &[String]) {
        self.metrics.landed(action.name());
        self.metrics.liquidations.inc_by(decode_events::<LiquidationV1>(logs).len() as u64);
        let fills = decode_events::<AdlFillV1>(logs);
        self.metrics.adl_fills.inc_by(fills.len() as u64);
        self.metrics.adl_haircut_atoms.inc_by(fills.iter().map(|f| f.haircut).sum());
        let payouts = decode_events::<InsurancePayoutV1>(logs);
        self.metrics.insurance_paid_atoms.inc_by(payouts.iter().map(|p| p.amount).sum());
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
                Ok(report) => tracing::debug!(
                    accounts = report.accounts,
                    planned = report.planned,
                    landed = report.landed,
                    lost_races = report.lost_races,
                    failed = report.failed,
                    unknown = report.unknown,
                    skipped_in_flight = report.skipped_in_flight,
                    fallbacks = report.fallbacks,
                    "cycle"
                ),
                Err(e) => tracing::error!(
                    error = %crate::config::redact(&e.describe(), &self.config.rpc_url),
                    "scan failed after its retries"
                ),
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
