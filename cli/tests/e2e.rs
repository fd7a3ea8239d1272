//! End to end, every part its own process over JSON-RPC: `bulwark-localnet` on a free port,
//! `bulwark-migrate` deploys, two users trade through the `bulwark` CLI, the BTC feed drops,
//! and `bulwark-keeper` liquidates the long against the book. Every check reads the chain over
//! RPC. Each process is stopped with SIGTERM and must exit cleanly; a guard kills whatever is
//! left if the test fails midway.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anchor_lang::prelude::Pubkey;
use bulwark::state::{MarginAccount, Market};
use bulwark_sdk::chain::rpc::RpcChain;
use bulwark_sdk::chain::Chain;
use bulwark_sdk::snapshot::Snapshot;
use solana_commitment_config::CommitmentConfig;

mod support;

use support::{binary, url_in, Finish as _, Process};

struct Cluster {
    url: String,
    dir: PathBuf,
    clearinghouse: String,
}

impl Cluster {
    /// Run the CLI as the holder of `keypair`; it must succeed.
    fn cli(&self, keypair: &str, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.try_cli(keypair, args);
        assert!(ok, "bulwark {args:?} failed:\n{stdout}\n{stderr}");
        stdout
    }

    fn try_cli(&self, keypair: &str, args: &[&str]) -> (bool, String, String) {
        let output = Command::new(binary("bulwark"))
            .args(args)
            .args(["--url", &self.url, "--clearinghouse", &self.clearinghouse])
            .arg("--keypair")
            .arg(self.dir.join(format!("{keypair}.json")))
            .env("BULWARK_CONFIG", self.dir.join("unused-cli.toml"))
            .finish();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    fn keygen(&self, name: &str) -> Pubkey {
        let out = Command::new(binary("bulwark"))
            .args(["keygen", "--json", "--outfile"])
            .arg(self.dir.join(format!("{name}.json")))
            .finish();
        assert!(out.status.success());
        let written: serde_json::Value = serde_json::from_slice(&out.stdout).expect("keygen JSON");
        assert!(written["path"].as_str().expect("the path").ends_with(&format!("{name}.json")));
        written["address"].as_str().expect("the address").parse().expect("an address")
    }
}

/// Run the @solana/kit client (`tests/kit`) against the node. Its packages come from
/// `npm ci --prefix cli/tests/kit` (CI does this and sets `BULWARK_REQUIRE_KIT=1`, which makes
/// their absence a failure rather than a skip).
fn kit_client(url: &str, ws_url: &str, clearinghouse: &str, admin: &Pubkey) {
    let kit = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kit");
    if !kit.join("node_modules/@solana/kit").exists() {
        assert!(
            std::env::var_os("BULWARK_REQUIRE_KIT").is_none(),
            "@solana/kit is not installed: npm ci --prefix cli/tests/kit"
        );
        eprintln!("skipping the @solana/kit client: run `npm ci --prefix cli/tests/kit` to include it");
        return;
    }
    let output = Command::new("node")
        .arg(kit.join("localnet-client.mjs"))
        .args([url, ws_url, clearinghouse, &admin.to_string()])
        .finish();
    assert!(
        output.status.success(),
        "the @solana/kit client failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprint!("{}", String::from_utf8_lossy(&output.stdout));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn http_get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut body = String::new();
    stream.read_to_string(&mut body).unwrap();
    body
}

fn metric(scrape: &str, name: &str) -> f64 {
    scrape
        .lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn deploy_trade_move_the_feed_and_the_keeper_liquidates() {
    let dir = std::env::temp_dir().join(format!("bulwark-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();

    // ---- the node
    let (mut node, banner) = Process::localnet(&dir, &["--slot-ms", "200"]);
    let (url, ws_url) = (url_in(&banner, "http://"), url_in(&banner, "ws://"));

    // ---- deploy with the migrations
    let mut cluster = Cluster { url: url.clone(), dir: dir.clone(), clearinghouse: String::new() };
    let admin = cluster.keygen("admin");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/localnet.toml"), dir.join("localnet.toml"))
        .unwrap();
    let migrate = |out: &str| {
        let output = Command::new(binary("bulwark-migrate"))
            .arg(dir.join("localnet.toml"))
            .args(["--url", &url, "--airdrop", "100", "--out"])
            .arg(dir.join(out))
            .arg("--keypair")
            .arg(dir.join("admin.json"))
            .finish();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(dir.join(out)).unwrap()).unwrap()
    };
    let deployment = migrate("deployment.json");
    assert_eq!(deployment["admin"], admin.to_string());
    let again = migrate("deployment-again.json");
    assert_eq!(again["clearinghouse"], deployment["clearinghouse"]);
    assert!(again["actions"].as_array().unwrap().iter().all(|a| a.as_str().unwrap().ends_with(": exists")));
    cluster.clearinghouse = deployment["clearinghouse"].as_str().unwrap().to_string();
    let btc_feed = deployment["feeds"]["btc-usd"].as_str().unwrap().to_string();
    let clearinghouse: Pubkey = cluster.clearinghouse.parse().unwrap();
    kit_client(&url, &ws_url, &cluster.clearinghouse, &admin);
    let chain = RpcChain::new(url.clone(), CommitmentConfig::confirmed());

    // ---- two users, funded through the CLI; the config file path works too
    let alice = cluster.keygen("alice");
    let bob = cluster.keygen("bob");
    let keeper = cluster.keygen("keeper");
    for user in ["alice", "bob", "keeper"] {
        cluster.cli(user, &["airdrop", "5"]);
    }
    cluster.cli("admin", &["mint-collateral", "1000", "--to", &alice.to_string()]);
    cluster.cli("admin", &["mint-collateral", "20000", "--to", &bob.to_string()]);
    let config_file = dir.join("alice-cli.toml");
    let set = Command::new(binary("bulwark"))
        .args(["config", "set", "--set-url", &url, "--set-clearinghouse", &cluster.clearinghouse])
        .arg("--set-keypair")
        .arg(dir.join("alice.json"))
        .env("BULWARK_CONFIG", &config_file)
        .finish();
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    let nothing = Command::new(binary("bulwark")).args(["config", "set"]).env("BULWARK_CONFIG", &config_file).finish();
    assert!(!nothing.status.success() && String::from_utf8_lossy(&nothing.stderr).contains("nothing to set"));
    let balance = Command::new(binary("bulwark")).arg("balance").env("BULWARK_CONFIG", &config_file).finish();
    assert_eq!(String::from_utf8_lossy(&balance.stdout), "SOL            5\ncollateral     1000\n");

    cluster.cli("alice", &["deposit", "1000"]);
    cluster.cli("bob", &["deposit", "20000"]);
    // Withdrawing more than the account holds fails with the program's error by name.
    let (ok, _, stderr) = cluster.try_cli("alice", &["withdraw", "1000.000001"]);
    assert!(!ok && stderr.contains("InsufficientCollateral"), "{stderr}");

    // ---- trade: Bob quotes, Alice lifts 90 lots (0.09 BTC, $9,000) at $100,000 on $1,000
    cluster.cli(
        "bob",
        &[
            "order",
            "place",
            "--market",
            "0",
            "--side",
            "sell",
            "--lots",
            "90",
            "--price",
            "100000",
            "--type",
            "post-only",
        ],
    );
    cluster.cli(
        "bob",
        &[
            "order",
            "place",
            "--market",
            "0",
            "--side",
            "buy",
            "--lots",
            "80",
            "--price",
            "93000",
            "--type",
            "post-only",
        ],
    );
    cluster.cli(
        "alice",
        &["order", "place", "--market", "0", "--side", "buy", "--lots", "90", "--price", "100000", "--type", "ioc"],
    );
    let book: serde_json::Value =
        serde_json::from_str(&cluster.cli("bob", &["book", "--market", "0", "--json"])).unwrap();
    // One level each way at most: Bob's bid, with the id of the one order resting there.
    assert_eq!(book["asks"], serde_json::json!([]), "{book}");
    assert_eq!(book["bids"].as_array().map(Vec::len), Some(1), "{book}");
    assert_eq!(
        (&book["bids"][0]["price"], &book["bids"][0]["lots"]),
        (&serde_json::json!("93000"), &serde_json::json!(80))
    );
    assert_eq!(book["bids"][0]["order_ids"].as_array().map(Vec::len), Some(1), "{book}");

    let alice_margin = bulwark_sdk::pda::margin_account(&clearinghouse, &alice, 0);
    let bob_margin = bulwark_sdk::pda::margin_account(&clearinghouse, &bob, 0);
    let account =
        |key: Pubkey| -> MarginAccount { runtime.block_on(chain.load(&key)).unwrap().expect("margin account") };
    let lots = |a: &MarginAccount| a.open_positions().find(|p| p.market_index == 0).map_or(0, |p| p.base_lots);
    assert_eq!(lots(&account(alice_margin)), 90);
    assert_eq!(lots(&account(bob_margin)), -90);
    // Taker fee 5 bps of $9,000: $4.50.
    assert_eq!(account(alice_margin).collateral_balance, 995_500_000);

    let positions = |who: &str| -> serde_json::Value {
        serde_json::from_str(&cluster.cli(who, &["positions", "--json"])).expect("positions JSON")
    };
    let before = positions("alice");
    assert_eq!(before["liquidatable"], false);
    assert_eq!(before["equity"], "995.5");
    assert_eq!(before["positions"][0]["oracle_price"], "100000");
    // Equity 995.5 − 0.09 × (100,000 − p) = 5% × 0.09 × p  ⇒  p = 8,004.5 / 0.0855 = 93,619.88…
    let liquidation_price = before["positions"][0]["liquidation_price"].as_str().unwrap().to_string();
    assert!(liquidation_price.starts_with("93619.88"), "{liquidation_price}");
    assert_eq!(positions("bob")["positions"][0]["adl_indicator"], 0, "Bob is not in profit yet");

    // ---- the feed drops to $93,500: Alice's equity 995.5 − 585 = 410.5 is below her 420.75
    // maintenance requirement
    cluster.cli("admin", &["feed", "publish", &btc_feed, "--price", "93500"]);
    let after = positions("alice");
    assert_eq!(after["liquidatable"], true, "{after:#}");
    assert_eq!(positions("bob")["positions"][0]["adl_indicator"], 5, "the only profitable short is first in line");

    // ---- the keeper, a separate process on its RPC backend
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let mut keeper_process = Process::spawn(
        "bulwark-keeper",
        Command::new(binary("bulwark-keeper"))
            .args(["--rpc-url", &url, "--clearinghouse", &cluster.clearinghouse, "--scan-interval-ms", "300"])
            .args(["--metrics-addr", &metrics_addr])
            .arg("--keypair")
            .arg(dir.join("keeper.json")),
        &dir,
        false,
    );
    let deadline = Instant::now() + Duration::from_secs(90);
    let market_key = bulwark_sdk::pda::market(&clearinghouse, 0);
    loop {
        let market: Market = runtime.block_on(chain.load(&market_key)).unwrap().expect("market");
        if market.liquidation_count > 0 && !positions("alice")["liquidatable"].as_bool().unwrap() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no liquidation within 90 s; keeper log:\n{}",
            std::fs::read_to_string(&keeper_process.log).unwrap()
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // Part of the long sold into Bob's $93,000 bid (in as many partial liquidations as the
    // keeper needed, each counted by the market): Alice is smaller and
    // back above maintenance plus the buffer, Bob's short shrank by the same lots, and the
    // keeper's own margin account holds its reward. (Selling 23 lots is the least that
    // restores 10% over maintenance: 410.5 − 2.8375 k ≥ 1.1 × 4.675 × (90 − k).)
    let market: Market = runtime.block_on(chain.load(&market_key)).unwrap().expect("market");
    assert!(market.liquidation_count >= 1);
    let alice_after = account(alice_margin);
    let sold = 90 - lots(&alice_after);
    assert!((23..90).contains(&sold), "sold {sold}");
    assert_eq!(lots(&account(bob_margin)), -90 + sold);
    let snapshot = runtime.block_on(Snapshot::load(&chain, &clearinghouse)).unwrap();
    let health = bulwark_sdk::health::health(&alice_after, &snapshot.prices()).unwrap();
    let buffer = snapshot.clearinghouse.waterfall.liquidation_buffer_bps as i128;
    assert!(health.equity * 10_000 >= health.maintenance_requirement * (10_000 + buffer), "{health:?}");
    let keeper_margin = bulwark_sdk::pda::margin_account(&clearinghouse, &keeper, 0);
    let reward = account(keeper_margin).collateral_balance;
    let cap = snapshot.clearinghouse.waterfall.max_book_liquidation_reward * market.liquidation_count;
    assert!(reward > 0 && reward <= cap, "reward {reward}: at most $10 per liquidation");

    let scrape = http_get(&metrics_addr, "/metrics");
    assert_eq!(metric(&scrape, "bulwark_keeper_liquidations_total"), market.liquidation_count as f64, "{scrape}");
    assert_eq!(metric(&scrape, "bulwark_keeper_adl_fills_total"), 0.0, "{scrape}");
    assert_eq!(metric(&scrape, "bulwark_keeper_tx_failures_total"), 0.0, "{scrape}");

    // ---- clean shutdown: both servers stop on SIGTERM with success
    let keeper_status = keeper_process.terminate();
    assert!(keeper_status.success(), "bulwark-keeper exited with {keeper_status}");
    let node_status = node.terminate();
    assert!(node_status.success(), "bulwark-localnet exited with {node_status}");
    drop(keeper_process);
    drop(node);
    std::fs::remove_dir_all(&dir).unwrap();
}
