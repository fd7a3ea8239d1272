//! What the keeper's log says about a crank: the liquidated margin account and its owner, the
//! market by symbol and index, lots, price and signature, in text and as JSON fields; a failure
//! names its error; a keeper short of SOL says so, naming its address, and its balance is a
//! metric.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulwark::state::*;
use bulwark_keeper::config::LogFormat;
use bulwark_keeper::{logging, Keeper, KeeperConfig, Metrics};
use bulwark_tests::*;
use solana_keypair::Keypair;
use solana_signer::Signer;
use tracing_subscriber::EnvFilter;

/// A log sink for one test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    /// Log what runs until the guard drops (this thread only: the test's runtime is current-thread).
    fn install(&self, format: LogFormat, filter: &str) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(logging::subscriber(format, EnvFilter::new(filter), self.clone(), false))
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'w> tracing_subscriber::fmt::MakeWriter<'w> for Captured {
    type Writer = Captured;
    fn make_writer(&'w self) -> Self::Writer {
        self.clone()
    }
}

fn config(fx: &ClearinghouseFixture) -> KeeperConfig {
    let mut c = KeeperConfig::new("embedded", fx.key, PathBuf::new());
    c.retry_backoff = Duration::from_millis(1);
    c.confirm_timeout = Duration::from_secs(5);
    c.market_symbols.insert(0, "BTC-PERP".into());
    c
}

/// Alice (100 lots long at $100, $1,100 deposited) under maintenance at $93.5, with 50 lots bid
/// at $93 for the keeper to sell into.
async fn alice_liquidatable_against_the_book(desk: &mut Desk) -> User {
    let mm = desk.user(100_000 * USD).await;
    let alice = desk.user(1_100 * USD).await;
    desk.trade(&mm, &alice, SIDE_ASK, 100, 100).await;
    desk.set_price(93_500_000).await;
    let bidder = desk.user(10_000 * USD).await;
    desk.env.place(&desk.fx, &bidder, &desk.market, order(SIDE_BID, ORDER_TYPE_LIMIT, 93, 50), &[]).await.ok();
    alice
}

#[tokio::test]
async fn a_landed_liquidation_names_the_account_its_owner_the_market_lots_price_and_signature() {
    let mut desk = Desk::new(simple_market_params()).await;
    assert_eq!(desk.env.market(&desk.market).await.index, 0);
    let cranker = desk.user(0).await;
    let alice = alice_liquidatable_against_the_book(&mut desk).await;

    let text = Captured::default();
    let mut k = Keeper::new(desk.env.chain(), config(&desk.fx), cranker.owner.insecure_clone(), Metrics::new(60));
    let guard = text.install(LogFormat::Text, "bulwark_keeper=info");
    let report = k.run_cycle().await.unwrap();
    drop(guard);
    assert_eq!((report.landed, report.failed), (1, 0));
    let log = text.text();
    print!("{log}");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 1, "info is one line per landed crank:\n{log}");
    let line = lines[0];
    assert!(!line.contains('\u{1b}'), "no colour when not asked: {line}");
    for field in [
        " INFO ".to_string(),
        "crank landed".to_string(),
        "action=liquidate_against_book".to_string(),
        format!("account={}", alice.margin_account),
        format!("owner={}", alice.owner.pubkey()),
        "market=BTC-PERP market_index=0".to_string(),
        "position_lots=100".to_string(),
        // Sold 50 lots of the long (a sale is negative) at the $93.5 oracle.
        "lots=-50".to_string(),
        "price=93.5".to_string(),
        "makers=1".to_string(),
        "liquidations=1".to_string(),
        "flagged=false".to_string(),
        "signature=".to_string(),
    ] {
        assert!(line.contains(&field), "missing {field:?} in {line}");
    }
    // The signature is the landed transaction's.
    let signature = line.split("signature=").nth(1).unwrap().split_whitespace().next().unwrap();
    assert!(signature.parse::<bulwark_sdk::chain::Signature>().is_ok(), "{signature}");

    // Debug adds each scan's summary and plan.
    let debug = Captured::default();
    let guard = debug.install(LogFormat::Text, "bulwark_keeper=debug");
    k.run_cycle().await.unwrap();
    drop(guard);
    let scanned = debug.text().lines().find(|l| l.contains("scanned")).map(str::to_string).unwrap_or_default();
    assert!(scanned.contains(" DEBUG ") && scanned.contains("accounts="), "{}", debug.text());
}

#[tokio::test]
async fn json_logs_carry_the_account_and_market_as_fields() {
    let mut desk = Desk::new(simple_market_params()).await;
    let cranker = desk.user(0).await;
    let alice = alice_liquidatable_against_the_book(&mut desk).await;

    let json = Captured::default();
    let mut k = Keeper::new(desk.env.chain(), config(&desk.fx), cranker.owner.insecure_clone(), Metrics::new(60));
    let guard = json.install(LogFormat::Json, "bulwark_keeper=info");
    assert_eq!(k.run_cycle().await.unwrap().landed, 1);
    drop(guard);
    let log = json.text();
    let event: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(event["level"], "INFO");
    assert_eq!(event["message"], "crank landed");
    assert_eq!(event["action"], "liquidate_against_book");
    assert_eq!(event["account"], alice.margin_account.to_string());
    assert_eq!(event["owner"], alice.owner.pubkey().to_string());
    assert_eq!(event["market"], "BTC-PERP");
    assert_eq!(event["market_index"], 0);
    assert_eq!(event["lots"], -50);
    assert_eq!(event["price"], "93.5");
    assert!(event["signature"].as_str().is_some_and(|s| s.len() > 60), "{event}");
}

#[tokio::test]
async fn a_keeper_without_sol_says_so_and_its_failures_name_the_error() {
    let mut desk = Desk::new(simple_market_params()).await;
    let alice = alice_liquidatable_against_the_book(&mut desk).await;
    // A keypair nobody funded: every crank it signs fails.
    let dry = Keypair::new();
    let mut c = config(&desk.fx);
    c.max_retries = 0;
    let metrics = Metrics::new(60);
    let k = Keeper::new(desk.env.chain(), c, dry.insecure_clone(), metrics.clone());
    let log = Captured::default();
    let guard = log.install(LogFormat::Text, "bulwark_keeper=info");
    assert_eq!(k.check_sol_balance().await, Some(0));
    let snapshot = k.scan().await.unwrap();
    let planned = bulwark_keeper::plan::plan(
        &snapshot,
        &bulwark_keeper::plan::PlanOptions { keeper_account: k.margin_account, takeover: false, defend_owner: None },
    );
    let action = planned.into_iter().find(|a| a.target() == Some(alice.margin_account)).expect("a liquidation");
    assert_eq!(k.execute(&snapshot, &action).await, bulwark_keeper::Outcome::Failed);
    drop(guard);
    let text = log.text();
    print!("{text}");
    let warning = text.lines().find(|l| l.contains("SOL balance low")).expect("a low-SOL warning");
    for field in
        [" WARN ".to_string(), format!("keeper={}", dry.pubkey()), "sol_balance=0".into(), "min_sol=0.05".into()]
    {
        assert!(warning.contains(&field), "missing {field:?} in {warning}");
    }
    assert!(warning.contains(&format!("solana transfer --allow-unfunded-recipient {}", dry.pubkey())), "{warning}");
    let failure = text.lines().find(|l| l.contains("crank failed")).expect("a failure line");
    for field in [
        format!("account={}", alice.margin_account),
        format!("owner={}", alice.owner.pubkey()),
        "market=BTC-PERP".into(),
        "error=AccountNotFound".into(),
        format!("the keeper's wallet {} cannot pay", dry.pubkey()),
    ] {
        assert!(failure.contains(&field), "missing {field:?} in {failure}");
    }
    assert!(metrics.render().contains("bulwark_keeper_sol_balance_lamports 0"));
}

#[tokio::test]
async fn the_sol_balance_is_a_metric_and_a_low_one_is_warned_about_once_per_interval() {
    let mut desk = Desk::new(simple_market_params()).await;
    let cranker = desk.user(0).await;
    let balance = desk.env.lamports(cranker.owner.pubkey()).await;
    let mut c = config(&desk.fx);
    c.min_sol_lamports = balance + 1;
    let metrics = Metrics::new(60);
    let mut k = Keeper::new(desk.env.chain(), c, cranker.owner.insecure_clone(), metrics.clone());
    let log = Captured::default();
    let guard = log.install(LogFormat::Text, "bulwark_keeper=info");
    k.run_cycle().await.unwrap();
    k.run_cycle().await.unwrap();
    drop(guard);
    // Read at each scan (the cycles' cranks paid fees from it).
    let gauge = metrics.sol_balance_lamports.get();
    assert!(gauge > 0 && gauge as u64 <= balance, "{gauge} of {balance}");
    assert!(metrics.render().contains(&format!("bulwark_keeper_sol_balance_lamports {gauge}")));
    assert_eq!(log.text().matches("SOL balance low").count(), 1, "{}", log.text());

    // Funded above the floor again: one line says so, and the warning is re-armed.
    k.config.min_sol_lamports = 1;
    let log = Captured::default();
    let guard = log.install(LogFormat::Text, "bulwark_keeper=info");
    k.run_cycle().await.unwrap();
    k.run_cycle().await.unwrap();
    drop(guard);
    assert_eq!(log.text().matches("back above --min-sol").count(), 1, "{}", log.text());
    assert_eq!(KeeperConfig::new("", Default::default(), PathBuf::new()).min_sol_lamports, 50_000_000);
}

#[tokio::test]
async fn adl_and_funding_lines_name_the_target_the_market_and_what_was_filled() {
    let mut desk = Desk::new(simple_market_params()).await;
    let cranker = desk.user(0).await;
    let (alice, bob, carol) = desk.alice_bankrupt().await;
    let mut k = Keeper::new(desk.env.chain(), config(&desk.fx), cranker.owner.insecure_clone(), Metrics::new(60));
    let log = Captured::default();
    let guard = log.install(LogFormat::Text, "bulwark_keeper=info");
    assert_eq!(k.run_cycle().await.unwrap().landed, 2);
    desk.env.warp(1, 1).await;
    desk.refresh_price().await;
    drop(guard);
    let debug = Captured::default();
    let guard = debug.install(LogFormat::Text, "bulwark_keeper=debug");
    assert_eq!(k.run_cycle().await.unwrap().landed, 1);
    drop(guard);
    let text = log.text() + &debug.text();
    print!("{text}");
    let line = |action: &str| {
        text.lines()
            .find(|l| l.contains("crank landed") && l.contains(&format!("action={action} ")))
            .unwrap_or_else(|| panic!("no landed {action} in\n{text}"))
            .to_string()
    };
    let alice_fields = [
        format!("account={}", alice.margin_account),
        format!("owner={}", alice.owner.pubkey()),
        "market=BTC-PERP market_index=0".into(),
    ];
    let begin = line("begin_adl");
    for field in alice_fields.iter().cloned().chain(
        ["lots=100", "price=85", "nominees=2", "nominated=2", "uncovered_atoms=246024000", "window_end_slot="]
            .map(String::from),
    ) {
        assert!(begin.contains(&field), "missing {field:?} in {begin}");
    }
    let execute = line("execute_adl");
    for field in alice_fields.iter().cloned().chain(
        ["queued=2", "fills=2", "lots=-100", "haircut_atoms=246024000", "round_closed=true", "signature="]
            .map(String::from),
    ) {
        assert!(execute.contains(&field), "missing {field:?} in {execute}");
    }
    for winner in [&bob, &carol] {
        let counterparty = format!("counterparty={}", winner.margin_account);
        assert!(text.lines().any(|l| l.contains("ADL fill") && l.contains(&counterparty)), "{counterparty}");
    }
    let funding = line("update_funding");
    assert!(funding.contains("market=BTC-PERP market_index=0") && funding.contains("price=85"), "{funding}");
    assert!(!funding.contains("account="), "funding is about a market: {funding}");
}
