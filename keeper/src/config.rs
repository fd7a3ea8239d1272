//! Keeper settings: clap flags, each with an environment variable, over an optional TOML file,
//! over defaults. A flag or variable beats the file; the file beats the default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anchor_lang::prelude::Pubkey;
use clap::Parser;
use serde::Deserialize;

/// Everything the keeper runs with.
#[derive(Clone, Debug, PartialEq)]
pub struct KeeperConfig {
    pub rpc_url: String,
    pub clearinghouse: Pubkey,
    pub keypair_path: PathBuf,
    /// The keeper's own margin account (sub-account of its keypair): receives book-liquidation
    /// rewards and, with `takeover`, takes positions over.
    pub sub_account_id: u16,
    /// Take liquidated positions into the keeper's account (needs capital there).
    pub takeover: bool,
    pub scan_interval: Duration,
    /// Price per compute unit asked, micro-lamports; never above `priority_fee_cap`.
    pub priority_fee_micro_lamports: u64,
    pub priority_fee_cap_micro_lamports: u64,
    /// The compute-unit limit asked for every crank; `None`: each crank asks for the written
    /// budgets of the instructions it runs (`bulwark_sdk::compute`).
    pub compute_unit_limit: Option<u32>,
    /// Attempts after the first for a crank that failed for a retryable reason.
    pub max_retries: u32,
    pub retry_backoff: Duration,
    /// A crank whose outcome is unknown is not sent again for this long.
    pub in_flight_ttl: Duration,
    /// Defend the keeper's own accounts in ADL rounds: while one is queued, nominate every
    /// winner ranked above it that is not, so they pay first.
    pub defend: bool,
    /// ADL executions per round per scan, so one target cannot starve the rest.
    pub adl_cranks_per_scan: u32,
    pub confirm_timeout: Duration,
    pub metrics_addr: Option<SocketAddr>,
    /// `/health` fails once this many scan periods (plus the slowest crank's retries) pass
    /// without a successful scan, and at once when the last scan failed.
    pub unhealthy_after_scans: u32,
}

impl KeeperConfig {
    /// Defaults for everything but the addresses.
    pub fn new(rpc_url: impl Into<String>, clearinghouse: Pubkey, keypair_path: PathBuf) -> Self {
        Self {
            rpc_url: rpc_url.into(),
            clearinghouse,
            keypair_path,
            sub_account_id: 0,
            takeover: false,
            scan_interval: Duration::from_millis(1_000),
            priority_fee_micro_lamports: 10_000,
            priority_fee_cap_micro_lamports: 1_000_000,
            compute_unit_limit: None,
            max_retries: 3,
            retry_backoff: Duration::from_millis(250),
            in_flight_ttl: Duration::from_secs(90),
            defend: false,
            adl_cranks_per_scan: 8,
            confirm_timeout: Duration::from_secs(60),
            metrics_addr: None,
            unhealthy_after_scans: 3,
        }
    }

    /// The compute-unit price actually paid.
    pub fn priority_fee(&self) -> u64 {
        self.priority_fee_micro_lamports.min(self.priority_fee_cap_micro_lamports)
    }
}

/// `bulwark-keeper`: cranks one clearinghouse's liquidations, insurance cover, ADL, funding and
/// expired-order pruning.
#[derive(Parser, Debug, Default)]
#[command(name = "bulwark-keeper", version)]
pub struct Cli {
    /// TOML file with any of the settings below (snake_case keys).
    #[arg(long, env = "BULWARK_KEEPER_CONFIG")]
    pub config: Option<PathBuf>,
    #[arg(long, env = "BULWARK_RPC_URL")]
    pub rpc_url: Option<String>,
    #[arg(long, env = "BULWARK_CLEARINGHOUSE")]
    pub clearinghouse: Option<String>,
    #[arg(long, env = "BULWARK_KEEPER_KEYPAIR")]
    pub keypair: Option<PathBuf>,
    #[arg(long, env = "BULWARK_KEEPER_SUB_ACCOUNT")]
    pub sub_account_id: Option<u16>,
    /// true/false, yes/no, 1/0.
    #[arg(long, env = "BULWARK_KEEPER_TAKEOVER", value_parser = clap::builder::BoolishValueParser::new())]
    pub takeover: Option<bool>,
    #[arg(long, env = "BULWARK_KEEPER_SCAN_INTERVAL_MS")]
    pub scan_interval_ms: Option<u64>,
    #[arg(long, env = "BULWARK_KEEPER_PRIORITY_FEE")]
    pub priority_fee_micro_lamports: Option<u64>,
    #[arg(long, env = "BULWARK_KEEPER_PRIORITY_FEE_CAP")]
    pub priority_fee_cap_micro_lamports: Option<u64>,
    /// Compute-unit limit for every crank [default: each crank's instructions' budgets from
    /// docs/compute.md].
    #[arg(long, env = "BULWARK_KEEPER_COMPUTE_UNIT_LIMIT")]
    pub compute_unit_limit: Option<u32>,
    #[arg(long, env = "BULWARK_KEEPER_MAX_RETRIES")]
    pub max_retries: Option<u32>,
    #[arg(long, env = "BULWARK_KEEPER_RETRY_BACKOFF_MS")]
    pub retry_backoff_ms: Option<u64>,
    #[arg(long, env = "BULWARK_KEEPER_IN_FLIGHT_TTL_MS")]
    pub in_flight_ttl_ms: Option<u64>,
    /// Nominate every winner ranked above one of this keeper's own queued accounts in an ADL
    /// round, so they pay first (true/false) [default: false].
    #[arg(long, env = "BULWARK_KEEPER_DEFEND", num_args = 0..=1, default_missing_value = "true",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub defend: Option<bool>,
    #[arg(long, env = "BULWARK_KEEPER_ADL_CRANKS_PER_SCAN")]
    pub adl_cranks_per_scan: Option<u32>,
    #[arg(long, env = "BULWARK_KEEPER_CONFIRM_TIMEOUT_MS")]
    pub confirm_timeout_ms: Option<u64>,
    /// Serve /metrics and /health here, e.g. 127.0.0.1:9464.
    #[arg(long, env = "BULWARK_KEEPER_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// /health answers 503 once this many scan periods (plus the slowest crank's retries) pass
    /// without a successful scan, and as soon as a scan fails after its retries [default: 3].
    #[arg(long, env = "BULWARK_KEEPER_UNHEALTHY_AFTER_SCANS", value_parser = clap::value_parser!(u32).range(1..))]
    pub unhealthy_after_scans: Option<u32>,
}

/// The TOML file: the same settings, all optional.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub rpc_url: Option<String>,
    pub clearinghouse: Option<String>,
    pub keypair: Option<PathBuf>,
    pub sub_account_id: Option<u16>,
    pub takeover: Option<bool>,
    pub scan_interval_ms: Option<u64>,
    pub priority_fee_micro_lamports: Option<u64>,
    pub priority_fee_cap_micro_lamports: Option<u64>,
    pub compute_unit_limit: Option<u32>,
    pub max_retries: Option<u32>,
    pub retry_backoff_ms: Option<u64>,
    pub in_flight_ttl_ms: Option<u64>,
    pub defend: Option<bool>,
    pub adl_cranks_per_scan: Option<u32>,
    pub confirm_timeout_ms: Option<u64>,
    pub metrics_addr: Option<SocketAddr>,
    pub unhealthy_after_scans: Option<u32>,
}

impl Cli {
    /// Merge flags and environment over the file (if any) over defaults.
    pub fn resolve(self) -> anyhow::Result<KeeperConfig> {
        let file: FileConfig = match &self.config {
            Some(path) => toml::from_str(&std::fs::read_to_string(path)?)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
            None => FileConfig::default(),
        };
        let clearinghouse = self
            .clearinghouse
            .or(file.clearinghouse)
            .ok_or_else(|| anyhow::anyhow!("--clearinghouse (or BULWARK_CLEARINGHOUSE, or the file) is required"))?
            .parse::<Pubkey>()
            .map_err(|e| anyhow::anyhow!("clearinghouse: {e}"))?;
        let rpc_url = self.rpc_url.or(file.rpc_url).unwrap_or_else(|| "http://127.0.0.1:8899".into());
        let keypair = self.keypair.or(file.keypair).unwrap_or_else(bulwark_sdk::keypair::default_keypair_path);
        let mut c = KeeperConfig::new(rpc_url, clearinghouse, keypair);
        let ms = Duration::from_millis;
        macro_rules! pick {
            ($field:ident) => {
                if let Some(v) = self.$field.or(file.$field) {
                    c.$field = v;
                }
            };
            ($field:ident, $source:ident, $map:expr) => {
                if let Some(v) = self.$source.or(file.$source) {
                    c.$field = $map(v);
                }
            };
        }
        pick!(sub_account_id);
        pick!(takeover);
        pick!(scan_interval, scan_interval_ms, ms);
        pick!(priority_fee_micro_lamports);
        pick!(priority_fee_cap_micro_lamports);
        pick!(compute_unit_limit, compute_unit_limit, Some);
        pick!(max_retries);
        pick!(retry_backoff, retry_backoff_ms, ms);
        pick!(in_flight_ttl, in_flight_ttl_ms, ms);
        pick!(defend);
        pick!(adl_cranks_per_scan);
        pick!(confirm_timeout, confirm_timeout_ms, ms);
        pick!(unhealthy_after_scans);
        anyhow::ensure!(c.unhealthy_after_scans >= 1, "unhealthy_after_scans must be at least 1");
        c.metrics_addr = self.metrics_addr.or(file.metrics_addr);
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let dir = std::env::temp_dir().join(format!("bulwark-keeper-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keeper.toml");
        let ch = Pubkey::new_unique();
        std::fs::write(
            &path,
            format!("clearinghouse = \"{ch}\"\nrpc_url = \"http://file:8899\"\nmax_retries = 7\npriority_fee_micro_lamports = 50\ntakeover = true\n"),
        )
        .unwrap();
        let args =
            ["bulwark-keeper", "--config", path.to_str().unwrap(), "--max-retries", "2", "--adl-cranks-per-scan", "3"];
        let cli = Cli::try_parse_from(args).unwrap();
        let c = cli.resolve().unwrap();
        assert_eq!((c.clearinghouse, c.rpc_url.as_str(), c.max_retries), (ch, "http://file:8899", 2));
        assert!(c.takeover);
        assert_eq!(c.priority_fee(), 50);
        assert_eq!(c.scan_interval, Duration::from_millis(1_000));
        assert_eq!(c.adl_cranks_per_scan, 3);
        let cli =
            Cli::try_parse_from(["bulwark-keeper", "--clearinghouse", &ch.to_string(), "--takeover", "yes"]).unwrap();
        assert!(cli.resolve().unwrap().takeover);

        std::fs::write(&path, "clearinghouse = \"x\"\nunknown_key = 1\n").unwrap();
        let cli = Cli::try_parse_from(["bulwark-keeper", "--config", path.to_str().unwrap()]).unwrap();
        assert!(cli.resolve().unwrap_err().to_string().contains("unknown field"));
        assert!(Cli::default().resolve().unwrap_err().to_string().contains("--clearinghouse"));
    }

    #[test]
    fn priority_fee_is_capped() {
        let mut c = KeeperConfig::new("", Pubkey::default(), PathBuf::new());
        c.priority_fee_micro_lamports = 5_000_000;
        c.priority_fee_cap_micro_lamports = 200_000;
        assert_eq!(c.priority_fee(), 200_000);
    }
}
