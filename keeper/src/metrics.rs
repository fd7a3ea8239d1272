//! Prometheus metrics and the HTTP endpoints that serve them.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabel {
    pub action: String,
}

/// The crank actions (`Action::name`), each a `cranks_landed_total` series from start-up.
pub const CRANK_ACTIONS: [&str; 8] = [
    "liquidate_takeover",
    "liquidate_against_book",
    "update_liquidation_status",
    "begin_adl",
    "nominate_adl",
    "execute_adl",
    "update_funding",
    "prune_expired_orders",
];

/// The failure reasons that are not a program error (`program_error_<code>` series appear when
/// first seen), each a `tx_failures_total` series from start-up.
pub const FAILURE_REASONS: [&str; 6] =
    ["transport", "timeout", "blockhash_expired", "rejected", "transaction_error", "too_large"];

/// What the keeper has done, for `/metrics`. Counters only count this keeper's own landed
/// transactions (from their events), never another keeper's.
pub struct Metrics {
    registry: Registry,
    pub liquidations: Counter,
    pub adl_fills: Counter,
    pub adl_haircut_atoms: Counter,
    pub insurance_paid_atoms: Counter,
    pub cranks_landed: Family<ActionLabel, Counter>,
    pub tx_failures: Family<Reason, Counter>,
    pub lost_races: Family<Reason, Counter>,
    pub retries: Counter,
    pub scans: Counter,
    pub scan_failures: Counter,
    pub scan_duration_seconds: Histogram,
    pub accounts_scanned: Gauge,
    pub liquidatable_accounts: Gauge,
    /// Unix seconds of the last successful scan (for `/health`).
    pub last_scan_unix: Gauge,
    /// The keeper's SOL (fee payer) balance, read each scan.
    pub sol_balance_lamports: Gauge,
    healthy_within_seconds: AtomicI64,
    /// The last scan failed after its retries (the node is down or unreachable).
    last_scan_failed: std::sync::atomic::AtomicBool,
    failure_count: AtomicU64,
    landed_count: AtomicU64,
    lost_count: AtomicU64,
}

impl Metrics {
    /// `healthy_within_seconds`: `/health` fails once the last good scan is older than this.
    pub fn new(healthy_within_seconds: i64) -> Arc<Self> {
        let mut registry = Registry::with_prefix("bulwark_keeper");
        let m = Self {
            liquidations: Counter::default(),
            adl_fills: Counter::default(),
            adl_haircut_atoms: Counter::default(),
            insurance_paid_atoms: Counter::default(),
            cranks_landed: Family::default(),
            tx_failures: Family::default(),
            lost_races: Family::default(),
            retries: Counter::default(),
            scans: Counter::default(),
            scan_failures: Counter::default(),
            scan_duration_seconds: Histogram::new(exponential_buckets(0.000_5, 2.0, 16)),
            accounts_scanned: Gauge::default(),
            liquidatable_accounts: Gauge::default(),
            last_scan_unix: Gauge::default(),
            sol_balance_lamports: Gauge::default(),
            healthy_within_seconds: AtomicI64::new(healthy_within_seconds),
            last_scan_failed: std::sync::atomic::AtomicBool::new(false),
            failure_count: AtomicU64::new(0),
            landed_count: AtomicU64::new(0),
            lost_count: AtomicU64::new(0),
            registry: Registry::default(),
        };
        // Every series a dashboard alerts on exists from start-up, at 0.
        for action in CRANK_ACTIONS {
            let _ = m.cranks_landed.get_or_create(&ActionLabel { action: action.to_string() });
        }
        for reason in FAILURE_REASONS {
            let _ = m.tx_failures.get_or_create(&Reason { reason: reason.to_string() });
        }
        registry.register("liquidations", "Liquidations landed by this keeper", m.liquidations.clone());
        registry.register("adl_fills", "ADL fills landed by this keeper", m.adl_fills.clone());
        registry.register(
            "adl_haircut_atoms",
            "Haircuts taken in this keeper's ADL fills",
            m.adl_haircut_atoms.clone(),
        );
        registry.register(
            "insurance_paid_atoms",
            "Insurance payouts in this keeper's transactions (collateral atoms)",
            m.insurance_paid_atoms.clone(),
        );
        registry.register("cranks_landed", "Transactions landed, by action", m.cranks_landed.clone());
        registry.register("tx_failures", "Transactions that failed, by reason", m.tx_failures.clone());
        registry.register("lost_races", "Cranks another keeper got to first, by program error", m.lost_races.clone());
        registry.register("retries", "Crank attempts after a retryable failure", m.retries.clone());
        registry.register("scans", "Completed scans", m.scans.clone());
        registry.register("scan_failures", "Scans that could not read the cluster", m.scan_failures.clone());
        registry.register(
            "scan_duration_seconds",
            "Scan time: fetch, decode, health, ranking",
            m.scan_duration_seconds.clone(),
        );
        registry.register("accounts_scanned", "Margin accounts in the last scan", m.accounts_scanned.clone());
        registry.register(
            "liquidatable_accounts",
            "Accounts below maintenance in the last scan",
            m.liquidatable_accounts.clone(),
        );
        registry.register("last_scan_unix", "Wall-clock time of the last successful scan", m.last_scan_unix.clone());
        registry.register(
            "sol_balance_lamports",
            "SOL balance of the keeper's fee payer, lamports, read each scan (0 until the first read)",
            m.sol_balance_lamports.clone(),
        );
        Arc::new(Self { registry, ..m })
    }

    pub fn fail(&self, reason: &str) {
        self.tx_failures.get_or_create(&Reason { reason: reason.into() }).inc();
        self.failure_count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn lost_race(&self, error: &str) {
        self.lost_races.get_or_create(&Reason { reason: error.into() }).inc();
        self.lost_count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn landed(&self, action: &str) {
        self.cranks_landed.get_or_create(&ActionLabel { action: action.into() }).inc();
        self.landed_count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn failures(&self, reason: &str) -> u64 {
        self.tx_failures.get_or_create(&Reason { reason: reason.into() }).get()
    }

    /// Cranks landed, every action.
    pub fn total_landed(&self) -> u64 {
        self.landed_count.load(Ordering::Relaxed)
    }

    /// Lost races, every error.
    pub fn total_lost_races(&self) -> u64 {
        self.lost_count.load(Ordering::Relaxed)
    }

    /// Lost races by program error, from the exposition (sorted by name).
    pub fn lost_races_by_error(&self) -> Vec<(String, u64)> {
        self.nonzero_by_reason("lost_races")
    }

    /// Failures by reason, from the exposition (sorted by reason).
    pub fn failures_by_reason(&self) -> Vec<(String, u64)> {
        self.nonzero_by_reason("tx_failures")
    }

    /// The non-zero series of a counter family labelled by `reason`.
    fn nonzero_by_reason(&self, family: &str) -> Vec<(String, u64)> {
        let prefix = format!("bulwark_keeper_{family}_total{{reason=\"");
        self.render()
            .lines()
            .filter_map(|l| l.strip_prefix(prefix.as_str()))
            .filter_map(|l| {
                let (name, rest) = l.split_once("\"}")?;
                Some((name.to_string(), rest.trim().parse().ok()?))
            })
            .filter(|(_, n): &(String, u64)| *n > 0)
            .collect()
    }

    /// Failures of every reason.
    pub fn total_failures(&self) -> u64 {
        self.failure_count.load(Ordering::Relaxed)
    }

    pub fn lost(&self, error: &str) -> u64 {
        self.lost_races.get_or_create(&Reason { reason: error.into() }).get()
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("formatting into a String cannot fail");
        out
    }

    /// Record how the last scan ended (after its retries).
    pub fn scan_ended(&self, ok: bool) {
        self.last_scan_failed.store(!ok, Ordering::Relaxed);
    }

    /// A successful scan recently, and no failed one since.
    pub fn is_healthy(&self, now_unix: i64) -> bool {
        let last = self.last_scan_unix.get();
        last > 0
            && !self.last_scan_failed.load(Ordering::Relaxed)
            && now_unix - last <= self.healthy_within_seconds.load(Ordering::Relaxed)
    }
}

fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

async fn metrics_handler(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], metrics.render())
}

async fn health_handler(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    if metrics.is_healthy(now_unix()) {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "no recent successful scan\n")
    }
}

pub fn router(metrics: Arc<Metrics>) -> Router {
    Router::new().route("/metrics", get(metrics_handler)).route("/health", get(health_handler)).with_state(metrics)
}

/// Serve `/metrics` and `/health` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(metrics)).with_graceful_shutdown(shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_an_alert_needs_is_there_from_start_up_at_zero() {
        let text = Metrics::new(60).render();
        for line in [
            "bulwark_keeper_cranks_landed_total{action=\"execute_adl\"} 0",
            "bulwark_keeper_cranks_landed_total{action=\"liquidate_against_book\"} 0",
            "bulwark_keeper_tx_failures_total{reason=\"transport\"} 0",
            "bulwark_keeper_tx_failures_total{reason=\"timeout\"} 0",
            "# TYPE bulwark_keeper_sol_balance_lamports gauge",
            "bulwark_keeper_sol_balance_lamports 0",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        let m = Metrics::new(60);
        assert!(m.failures_by_reason().is_empty(), "zero series are not failures");
        m.fail("timeout");
        assert_eq!(m.failures_by_reason(), vec![("timeout".to_string(), 1)]);
    }

    #[test]
    fn health_fails_at_once_when_a_scan_fails_and_after_the_window_without_one() {
        let m = Metrics::new(60);
        assert!(!m.is_healthy(1_000), "no scan yet");
        m.last_scan_unix.set(1_000);
        m.scan_ended(true);
        assert!(m.is_healthy(1_060));
        assert!(!m.is_healthy(1_061), "a minute without a successful scan");
        m.scan_ended(false);
        assert!(!m.is_healthy(1_001), "the node stopped answering");
        m.last_scan_unix.set(1_005);
        m.scan_ended(true);
        assert!(m.is_healthy(1_005));
    }
}
