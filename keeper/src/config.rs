//! Keeper settings: clap flags, each with an environment variable, over an optional TOML file,
//! over defaults. A flag or variable beats the file; the file beats the default.

use std::collections::BTreeMap;
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
    /// Warn when the keeper's SOL balance (fee payer, and rent for each ADL round it opens) is
    /// below this many lamports; 0: never.
    pub min_sol_lamports: u64,
    /// Market symbols for logs by index (the chain holds none); a market without one is `#INDEX`.
    pub market_symbols: BTreeMap<u16, String>,
    pub log_format: LogFormat,
}

/// How the binary writes its log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One line per event, `key=value` fields.
    #[default]
    Text,
    /// One JSON object per line, the event's fields at the top level.
    Json,
}

/// The default of `min_sol_lamports`: 0.05 SOL, about five open ADL rounds' rent.
pub const DEFAULT_MIN_SOL_LAMPORTS: u64 = 50_000_000;

const LAMPORTS_PER_SOL: f64 = 1_000_000_000.0;

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
            min_sol_lamports: DEFAULT_MIN_SOL_LAMPORTS,
            market_symbols: BTreeMap::new(),
            log_format: LogFormat::Text,
        }
    }

    /// A market's name in logs: its symbol when configured, else `#INDEX`.
    pub fn market_label(&self, index: u16) -> String {
        self.market_symbols.get(&index).cloned().unwrap_or_else(|| format!("#{index}"))
    }

    /// The compute-unit price actually paid.
    pub fn priority_fee(&self) -> u64 {
        self.priority_fee_micro_lamports.min(self.priority_fee_cap_micro_lamports)
    }
}

/// `bulwark-keeper`: cranks one clearinghouse's liquidations, insurance cover, ADL, funding and
/// expired-order pruning.
///
/// Every setting is a flag, an environment variable (shown with each flag) or a key of the
/// `--config` file; a flag or variable beats the file, the file beats the default. Log level
/// from RUST_LOG (default `info`: one line per landed or failed crank; `debug` adds each scan).
#[derive(Parser, Debug, Default)]
#[command(name = "bulwark-keeper", version)]
pub struct Cli {
    /// TOML file with any of the settings below (snake_case keys, e.g. `max_retries = 5`;
    /// unknown keys are refused) [default: none: flags, environment and defaults only].
    #[arg(long, env = "BULWARK_KEEPER_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// JSON-RPC endpoint of the cluster [default: http://127.0.0.1:8899].
    #[arg(long, env = "BULWARK_RPC_URL", value_name = "URL")]
    pub rpc_url: Option<String>,
    /// Address of the clearinghouse to keep. Required, no default: from this flag, its variable
    /// or the file.
    #[arg(long, env = "BULWARK_CLEARINGHOUSE", value_name = "ADDRESS")]
    pub clearinghouse: Option<String>,
    /// Keypair file of the keeper: it signs and pays fees and ADL-round rent for every crank,
    /// and owns the keeper's margin account [default: ~/.config/solana/id.json].
    #[arg(long, env = "BULWARK_KEEPER_KEYPAIR", value_name = "PATH")]
    pub keypair: Option<PathBuf>,
    /// Sub-account id of the keeper's own margin account, created at start-up when missing: it
    /// receives book-liquidation rewards and, with --takeover, takes positions over [default: 0].
    #[arg(long, env = "BULWARK_KEEPER_SUB_ACCOUNT", value_name = "ID")]
    pub sub_account_id: Option<u16>,
    /// Take liquidated positions over into the keeper's margin account at the oracle (needs
    /// capital there) instead of closing them against the book (true/false, yes/no, 1/0)
    /// [default: false].
    #[arg(long, env = "BULWARK_KEEPER_TAKEOVER", value_name = "BOOL",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub takeover: Option<bool>,
    /// Time between the starts of two scans, milliseconds [default: 1000].
    #[arg(long, env = "BULWARK_KEEPER_SCAN_INTERVAL_MS", value_name = "MS")]
    pub scan_interval_ms: Option<u64>,
    /// Priority fee asked for every crank: price per compute unit, micro-lamports; never above
    /// --priority-fee-cap-micro-lamports [default: 10000].
    #[arg(long, env = "BULWARK_KEEPER_PRIORITY_FEE", value_name = "MICRO_LAMPORTS")]
    pub priority_fee_micro_lamports: Option<u64>,
    /// The most the priority fee may be, micro-lamports per compute unit [default: 1000000].
    #[arg(long, env = "BULWARK_KEEPER_PRIORITY_FEE_CAP", value_name = "MICRO_LAMPORTS")]
    pub priority_fee_cap_micro_lamports: Option<u64>,
    /// Compute-unit limit for every crank [default: each crank's instructions' budgets from
    /// docs/compute.md].
    #[arg(long, env = "BULWARK_KEEPER_COMPUTE_UNIT_LIMIT", value_name = "UNITS")]
    pub compute_unit_limit: Option<u32>,
    /// Attempts after the first for a scan or crank that failed for a reason that may not repeat
    /// (transport, timeout, expired blockhash) [default: 3].
    #[arg(long, env = "BULWARK_KEEPER_MAX_RETRIES", value_name = "N")]
    pub max_retries: Option<u32>,
    /// Wait before the first retry, milliseconds; doubled for each later one [default: 250].
    #[arg(long, env = "BULWARK_KEEPER_RETRY_BACKOFF_MS", value_name = "MS")]
    pub retry_backoff_ms: Option<u64>,
    /// A crank whose outcome is still unknown after its retries is not sent again for this long,
    /// milliseconds [default: 90000].
    #[arg(long, env = "BULWARK_KEEPER_IN_FLIGHT_TTL_MS", value_name = "MS")]
    pub in_flight_ttl_ms: Option<u64>,
    /// Nominate every winner ranked above one of this keeper's own queued accounts in an ADL
    /// round, so they pay first (true/false; the bare flag is true) [default: false].
    #[arg(long, env = "BULWARK_KEEPER_DEFEND", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub defend: Option<bool>,
    /// ADL executions per round per scan, so one target cannot starve the rest [default: 8].
    #[arg(long, env = "BULWARK_KEEPER_ADL_CRANKS_PER_SCAN", value_name = "N")]
    pub adl_cranks_per_scan: Option<u32>,
    /// How long to wait for one transaction's confirmation before its outcome counts as unknown
    /// (a timeout), milliseconds [default: 60000].
    #[arg(long, env = "BULWARK_KEEPER_CONFIRM_TIMEOUT_MS", value_name = "MS")]
    pub confirm_timeout_ms: Option<u64>,
    /// Serve /metrics and /health here, e.g. 127.0.0.1:9464 [default: none: no HTTP server].
    #[arg(long, env = "BULWARK_KEEPER_METRICS_ADDR", value_name = "ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// /health answers 503 once this many scan periods (plus the slowest crank's retries) pass
    /// without a successful scan, and as soon as a scan fails after its retries [default: 3].
    #[arg(long, env = "BULWARK_KEEPER_UNHEALTHY_AFTER_SCANS", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub unhealthy_after_scans: Option<u32>,
    /// Warn when the keeper's SOL balance is below this many SOL, naming the address to fund; 0
    /// turns the warning off. The keeper pays every crank's fee and ~0.01 SOL of rent per ADL
    /// round it opens (returned when the round closes); a keeper without SOL fails every crank.
    /// The balance is the metric bulwark_keeper_sol_balance_lamports, read each scan
    /// [default: 0.05].
    #[arg(long, env = "BULWARK_KEEPER_MIN_SOL", value_name = "SOL", value_parser = parse_sol)]
    pub min_sol: Option<f64>,
    /// Market symbols for logs, INDEX=SYMBOL separated by commas, e.g. 0=BTC-PERP,1=ETH-PERP (the
    /// chain holds no names) [default: none: a market is logged as #INDEX].
    #[arg(long, env = "BULWARK_KEEPER_MARKET_SYMBOLS", value_name = "INDEX=SYMBOL", value_delimiter = ',',
          value_parser = parse_market_symbol)]
    pub market_symbols: Option<Vec<(u16, String)>>,
    /// A deployment file `bulwark-migrate --out` wrote: market symbols for logs come from it
    /// when --market-symbols is not given [default: none].
    #[arg(long, env = "BULWARK_DEPLOYMENT", value_name = "PATH")]
    pub deployment: Option<PathBuf>,
    /// Log format: `text`, one line per event with key=value fields (coloured only when standard
    /// output is a terminal and NO_COLOR is unset), or `json`, one object per line with the
    /// fields at the top level. Logs go to standard output [default: text].
    #[arg(long, env = "BULWARK_KEEPER_LOG_FORMAT", value_name = "FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
}

/// `--min-sol`: a non-negative number of SOL.
fn parse_sol(text: &str) -> Result<f64, String> {
    let sol: f64 = text.trim().parse().map_err(|e| format!("{text:?} is not a number of SOL: {e}"))?;
    sol_to_lamports(sol)?;
    Ok(sol)
}

fn sol_to_lamports(sol: f64) -> Result<u64, String> {
    if !sol.is_finite() || sol < 0.0 || sol * LAMPORTS_PER_SOL >= u64::MAX as f64 {
        return Err(format!("{sol}: SOL must be a non-negative number"));
    }
    Ok((sol * LAMPORTS_PER_SOL).round() as u64)
}

/// `--market-symbols`: one `INDEX=SYMBOL`.
fn parse_market_symbol(text: &str) -> Result<(u16, String), String> {
    let (index, symbol) =
        text.split_once('=').ok_or_else(|| format!("{text:?}: expected INDEX=SYMBOL, e.g. 0=BTC-PERP"))?;
    let index = index.trim().parse::<u16>().map_err(|e| format!("{text:?}: market index: {e}"))?;
    let symbol = symbol.trim();
    if symbol.is_empty() {
        return Err(format!("{text:?}: empty symbol"));
    }
    Ok((index, symbol.to_string()))
}

/// `url` fit for logs: scheme, host and port only. Hosted RPC URLs often carry an API key in
/// the path, the query or the user part.
pub fn redacted_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return "<rpc url>".into() };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    let hidden = authority.contains('@') || rest.len() > authority.len() && rest[authority.len()..] != *"/";
    format!("{scheme}://{host}{}", if hidden { "/…" } else { "" })
}

/// `text` with the secret-bearing parts of `url` (its user part, and its path and query when
/// they are more than `/`) replaced by `…`, wherever they appear and however the HTTP client
/// re-spelled the URL around them (an added `/`, a dropped port).
pub fn redact(text: &str, url: &str) -> String {
    let Some((_, rest)) = url.split_once("://") else { return text.to_string() };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let mut secrets: Vec<String> = Vec::new();
    if let Some((user, _)) = authority.rsplit_once('@') {
        secrets.push(format!("{user}@"));
    }
    let tail = &rest[authority.len()..];
    let tail = tail.strip_prefix('/').unwrap_or(tail);
    let tail = tail.trim_end_matches('/');
    if !tail.is_empty() {
        secrets.push(tail.to_string());
    }
    let mut out = text.to_string();
    for secret in secrets {
        out = out.replace(&secret, "…");
    }
    out
}

/// Market symbols from a deployment JSON (`markets: [{ "index": 0, "name": "BTC-PERP" }, …]`).
fn deployment_symbols(path: &std::path::Path) -> anyhow::Result<Vec<(u16, String)>> {
    #[derive(serde::Deserialize)]
    struct Deployment {
        markets: Vec<Listed>,
    }
    #[derive(serde::Deserialize)]
    struct Listed {
        index: u16,
        name: String,
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        anyhow::anyhow!("--deployment {}: {e} (the JSON `bulwark-migrate --out` writes)", path.display())
    })?;
    let deployment: Deployment = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("--deployment {}: not a deployment file: {e}", path.display()))?;
    Ok(deployment.markets.into_iter().map(|m| (m.index, m.name)).collect())
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
    pub min_sol: Option<f64>,
    /// `["0=BTC-PERP", "1=ETH-PERP"]`, as the flag.
    pub market_symbols: Option<Vec<String>>,
    pub log_format: Option<LogFormat>,
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
        pick!(log_format);
        if let Some(sol) = self.min_sol.or(file.min_sol) {
            c.min_sol_lamports = sol_to_lamports(sol).map_err(|e| anyhow::anyhow!("min_sol: {e}"))?;
        }
        let symbols = match (self.market_symbols, file.market_symbols) {
            (Some(flag), _) => flag,
            (None, Some(file)) => file
                .iter()
                .map(|s| parse_market_symbol(s))
                .collect::<Result<_, _>>()
                .map_err(|e| anyhow::anyhow!("market_symbols: {e}"))?,
            // Symbols only label logs: an unreadable deployment file is not worth refusing to crank.
            (None, None) => match &self.deployment {
                Some(path) => deployment_symbols(path).unwrap_or_else(|e| {
                    eprintln!("warning: {e}; markets are logged as #INDEX");
                    Vec::new()
                }),
                None => Vec::new(),
            },
        };
        c.market_symbols = symbols.into_iter().collect();
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
    fn rpc_urls_are_logged_without_keys() {
        assert_eq!(redacted_url("http://127.0.0.1:8899"), "http://127.0.0.1:8899");
        assert_eq!(redacted_url("http://127.0.0.1:8899/"), "http://127.0.0.1:8899");
        assert_eq!(redacted_url("https://x.example.pro/SECRET/"), "https://x.example.pro/…");
        assert_eq!(redacted_url("https://rpc.example.com/?api-key=SECRET"), "https://rpc.example.com/…");
        assert_eq!(redacted_url("https://user:SECRET@rpc.example.com"), "https://rpc.example.com/…");
        let text = "error sending request for url (https://x.example.pro/SECRET/)";
        assert_eq!(
            redact(text, "https://x.example.pro/SECRET"),
            "error sending request for url (https://x.example.pro/…/)"
        );
        assert!(!redact(text, "https://x.example.pro/SECRET/").contains("SECRET"));
        // The client's own spelling: a `/` before the query, the default port dropped.
        let text = "error sending request for url (https://rpc.example.com/?api-key=SECRET)";
        assert!(!redact(text, "https://rpc.example.com:443?api-key=SECRET").contains("SECRET"));
        let clean = "error sending request for url (https://rpc.example.com/)";
        assert_eq!(redact(clean, "https://user:SECRET@rpc.example.com"), clean);
        let with_user = "https://user:SECRET@rpc.example.com";
        assert!(!redact(with_user, with_user).contains("SECRET"));
        assert_eq!(redact("nothing to hide", "http://127.0.0.1:8899"), "nothing to hide");
    }

    #[test]
    fn market_symbols_come_from_a_deployment_file_unless_given() {
        let dir = std::env::temp_dir().join(format!("bulwark-keeper-deployment-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("deployment.json");
        std::fs::write(
            &path,
            r#"{"clearinghouse": "x", "markets": [{"index": 0, "name": "BTC-PERP", "active": true}]}"#,
        )
        .unwrap();
        assert_eq!(deployment_symbols(&path).unwrap(), vec![(0, "BTC-PERP".to_string())]);
        std::fs::write(&path, "{}").unwrap();
        assert!(deployment_symbols(&path).unwrap_err().to_string().contains("not a deployment file"));
        assert!(deployment_symbols(&dir.join("absent.json"))
            .unwrap_err()
            .to_string()
            .contains("bulwark-migrate --out"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn sol_floor_market_symbols_and_log_format_come_from_flags_or_the_file() {
        let ch = Pubkey::new_unique().to_string();
        let base = Cli { clearinghouse: Some(ch.clone()), ..Cli::default() };
        let c = base.resolve().unwrap();
        assert_eq!((c.min_sol_lamports, c.log_format), (50_000_000, LogFormat::Text));
        assert_eq!((c.market_label(0), c.market_label(3)), ("#0".to_string(), "#3".to_string()));

        let args = [
            "bulwark-keeper",
            "--clearinghouse",
            &ch,
            "--min-sol",
            "0.25",
            "--market-symbols",
            "0=BTC-PERP, 2=SOL-PERP",
            "--log-format",
            "json",
        ];
        let c = Cli::try_parse_from(args).unwrap().resolve().unwrap();
        assert_eq!((c.min_sol_lamports, c.log_format), (250_000_000, LogFormat::Json));
        assert_eq!(
            (c.market_label(0), c.market_label(1), c.market_label(2)),
            ("BTC-PERP".into(), "#1".into(), "SOL-PERP".into())
        );
        for bad in
            [["--min-sol", "-1"], ["--min-sol", "lots"], ["--market-symbols", "BTC-PERP"], ["--log-format", "xml"]]
        {
            assert!(Cli::try_parse_from(["bulwark-keeper", bad[0], bad[1]]).is_err(), "{bad:?} accepted");
        }

        let dir = std::env::temp_dir().join(format!("bulwark-keeper-config-sol-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keeper.toml");
        std::fs::write(
            &path,
            format!(
                "clearinghouse = \"{ch}\"\nmin_sol = 1\nmarket_symbols = [\"1=ETH-PERP\"]\nlog_format = \"json\"\n"
            ),
        )
        .unwrap();
        let c = Cli::try_parse_from(["bulwark-keeper", "--config", path.to_str().unwrap()]).unwrap().resolve().unwrap();
        assert_eq!((c.min_sol_lamports, c.log_format), (1_000_000_000, LogFormat::Json));
        assert_eq!(c.market_label(1), "ETH-PERP");
        let c = Cli::try_parse_from(["bulwark-keeper", "--config", path.to_str().unwrap(), "--min-sol", "0"])
            .unwrap()
            .resolve()
            .unwrap();
        assert_eq!(c.min_sol_lamports, 0, "the flag beats the file; 0 turns the warning off");
        std::fs::write(&path, format!("clearinghouse = \"{ch}\"\nmarket_symbols = [\"x\"]\n")).unwrap();
        let err = Cli::try_parse_from(["bulwark-keeper", "--config", path.to_str().unwrap()]).unwrap().resolve();
        assert!(err.unwrap_err().to_string().contains("INDEX=SYMBOL"));
    }

    /// `bulwark-keeper --help` explains every argument: what it does, and its default or why it
    /// has none. The defaults written in the help are the ones `resolve` applies.
    #[test]
    fn every_argument_has_help_and_a_default_or_a_reason_for_none() {
        use clap::CommandFactory;
        let mut command = Cli::command();
        command.build();
        let mut problems = Vec::new();
        let mut written_defaults = std::collections::BTreeMap::new();
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str().to_string();
            let help = arg.get_long_help().or(arg.get_help()).map(|h| h.to_string()).unwrap_or_default();
            if help.trim().is_empty() {
                problems.push(format!("{id}: no help text"));
                continue;
            }
            let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values());
            if arg.is_required_set() || !takes_value {
                continue;
            }
            if let Some((_, rest)) = help.split_once("[default: ") {
                let value = rest.split(']').next().unwrap_or_default();
                written_defaults.insert(id, value.to_string());
            } else if arg.get_default_values().is_empty() && !help.to_lowercase().contains("no default") {
                problems.push(format!("{id}: neither a default nor why it has none in {help:?}"));
            }
        }
        assert!(problems.is_empty(), "{problems:#?}");

        let c = Cli { clearinghouse: Some(Pubkey::new_unique().to_string()), ..Cli::default() }.resolve().unwrap();
        let applied = [
            ("rpc_url", c.rpc_url.clone()),
            ("sub_account_id", c.sub_account_id.to_string()),
            ("takeover", c.takeover.to_string()),
            ("scan_interval_ms", c.scan_interval.as_millis().to_string()),
            ("priority_fee_micro_lamports", c.priority_fee_micro_lamports.to_string()),
            ("priority_fee_cap_micro_lamports", c.priority_fee_cap_micro_lamports.to_string()),
            ("max_retries", c.max_retries.to_string()),
            ("retry_backoff_ms", c.retry_backoff.as_millis().to_string()),
            ("in_flight_ttl_ms", c.in_flight_ttl.as_millis().to_string()),
            ("defend", c.defend.to_string()),
            ("adl_cranks_per_scan", c.adl_cranks_per_scan.to_string()),
            ("confirm_timeout_ms", c.confirm_timeout.as_millis().to_string()),
            ("unhealthy_after_scans", c.unhealthy_after_scans.to_string()),
            ("min_sol", (c.min_sol_lamports as f64 / LAMPORTS_PER_SOL).to_string()),
            ("log_format", format!("{:?}", c.log_format).to_lowercase()),
        ];
        for (id, value) in applied {
            assert_eq!(written_defaults.get(id), Some(&value), "--help's default for {id}");
        }
    }

    #[test]
    fn priority_fee_is_capped() {
        let mut c = KeeperConfig::new("", Pubkey::default(), PathBuf::new());
        c.priority_fee_micro_lamports = 5_000_000;
        c.priority_fee_cap_micro_lamports = 200_000;
        assert_eq!(c.priority_fee(), 200_000);
    }
}
