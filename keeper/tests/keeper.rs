//! The keeper on the embedded bank: liquidation within one cycle, ADL to flat with the exact
//! haircut, racing keepers, a restart mid-ADL, faults at the `Chain` boundary, funding and
//! pruning, and the `/metrics` it serves. Invariants are checked after the keeper acts.

use std::cell::RefCell;
use std::path::PathBuf;
use std::time::Duration;

use anchor_lang::prelude::Pubkey;
use bulwark::state::*;
use bulwark_keeper::plan::{plan, Action};
use bulwark_keeper::{Keeper, KeeperConfig, Metrics, Outcome};
use bulwark_sdk::accounts::AccountFilter;
use bulwark_sdk::chain::embedded::EmbeddedChain;
use bulwark_sdk::chain::{Chain, ChainError, ChainResult, Hash, RawAccount, Signature, Transaction, TxStatus};
use bulwark_tests::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn config(fx: &ClearinghouseFixture) -> KeeperConfig {
    let mut c = KeeperConfig::new("embedded", fx.key, PathBuf::new());
    c.retry_backoff = Duration::from_millis(1);
    c.confirm_timeout = Duration::from_secs(5);
    c
}

fn keeper<C: Chain>(chain: C, config: KeeperConfig, authority: &User) -> Keeper<C> {
    Keeper::new(chain, config, authority.owner.insecure_clone(), Metrics::new(60))
}

/// Alice buys 100 lots at $100 with $1,100 deposited, then the price falls to $93.5: equity
/// $440 under the $467.5 maintenance requirement (numbers as in the liquidation scenarios).
async fn alice_underwater(desk: &mut Desk) -> User {
    let mm = desk.user(100_000 * USD).await;
    let alice = desk.user(1_100 * USD).await;
    desk.trade(&mm, &alice, SIDE_ASK, 100, 100).await;
    desk.set_price(93_500_000).await;
    let h = desk.health(&alice).await;
    assert_eq!((h.equity, h.maintenance_requirement), (440_000_000, 467_500_000));
    alice
}

/// Alice longs 100 lots from Bob (60 at $100) and Carol (40 at $101) with $1,100; insurance
/// holds $204.016. At $85 her deficit is $450.04 and the uncovered shortfall $246.024.
async fn alice_bankrupt(desk: &mut Desk) -> (User, User, User) {
    let staker = desk.user(0).await;
    desk.env.stake_insurance(&desk.fx, &staker, 200 * USD).await.ok();
    let bob = desk.user(2_000 * USD).await;
    let carol = desk.user(2_000 * USD).await;
    let alice = desk.user(1_100 * USD).await;
    desk.env.place(&desk.fx, &bob, &desk.market, order(SIDE_ASK, ORDER_TYPE_LIMIT, 100, 60), &[]).await.ok();
    desk.env.place(&desk.fx, &carol, &desk.market, order(SIDE_ASK, ORDER_TYPE_LIMIT, 101, 40), &[]).await.ok();
    let makers = [bob.margin_account, carol.margin_account];
    let args = order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 101, 100);
    desk.env.place(&desk.fx, &alice, &desk.market, args, &makers).await.ok();
    assert_eq!(desk.insurance().await, 204_016_000);
    desk.set_price(85_000_000).await;
    assert_eq!(desk.health(&alice).await.equity, -450_040_000);
    (alice, bob, carol)
}

#[tokio::test]
async fn keeper_liquidates_against_the_book_within_one_cycle() {
    let mut desk = Desk::new(simple_market_params()).await;
    let bidder = desk.user(10_000 * USD).await;
    let cranker = desk.user(0).await;
    let alice = alice_underwater(&mut desk).await;
    desk.env.place(&desk.fx, &bidder, &desk.market, order(SIDE_BID, ORDER_TYPE_LIMIT, 93, 50), &[]).await.ok();

    let mut k = keeper(desk.env.chain(), config(&desk.fx), &cranker);
    let report = k.run_cycle().await.unwrap();
    assert_eq!((report.landed, report.failed, report.lost_races), (1, 0, 0));
    // 27 lots sold into the $93 bid; the cranker's reward is capped at $10.
    assert_eq!(desk.position(&alice).await.base_lots, 73);
    assert_eq!(desk.balance(&cranker).await, 10 * USD);
    assert_eq!(k.metrics.liquidations.get(), 1);
    desk.check().await;

    // Still flagged (it filled under the oracle): the next cycle closes 6 more, and the keeper
    // goes on until the account is back above the buffer, then leaves it alone.
    assert_eq!(k.run_cycle().await.unwrap().landed, 1);
    assert_eq!(desk.position(&alice).await.base_lots, 67);
    let mut cycles = 2;
    while k.run_cycle().await.unwrap().planned > 0 {
        cycles += 1;
        assert!(cycles < 10, "the keeper should finish");
    }
    let m = desk.margin(&alice).await;
    assert_eq!(m.status_flags & ACCOUNT_FLAG_BEING_LIQUIDATED, 0);
    let h = desk.health(&alice).await;
    assert!(bulwark::math::liquidation::meets_buffer(&h, 1_000).unwrap());
    let count = desk.env.market(&desk.market).await.liquidation_count;
    assert_eq!(k.metrics.liquidations.get(), count);
    assert_eq!(count, cycles, "one liquidation per cycle that had work");
    desk.check().await;
}

#[tokio::test]
async fn keeper_takes_over_when_configured_and_flags_what_it_cannot_close() {
    let mut desk = Desk::new(simple_market_params()).await;
    let liquidator = desk.user(1_000 * USD).await;
    let alice = alice_underwater(&mut desk).await;

    // Only a bid outside the 5% band (a sale may fill no lower than 89 ticks) and no takeover:
    // the keeper can only record the account, starting the ADL clock.
    let far_bidder = desk.user(10_000 * USD).await;
    desk.env.place(&desk.fx, &far_bidder, &desk.market, order(SIDE_BID, ORDER_TYPE_LIMIT, 88, 50), &[]).await.ok();
    let mut book_only = keeper(desk.env.chain(), config(&desk.fx), &liquidator);
    let snapshot = book_only.scan().await.unwrap();
    let actions = plan(
        &snapshot,
        &bulwark_keeper::plan::PlanOptions {
            keeper_account: liquidator.margin_account,
            takeover: false,
            adl_max_lots: 0,
        },
    );
    assert_eq!(actions, vec![Action::FlagLiquidatable { target: alice.margin_account }]);
    book_only.run_cycle().await.unwrap();
    assert!(desk.margin(&alice).await.liquidatable_since_slot > 0);

    let mut c = config(&desk.fx);
    c.takeover = true;
    let mut k = keeper(desk.env.chain(), c, &liquidator);
    assert_eq!(k.run_cycle().await.unwrap().landed, 1);
    // 27 lots at the $93.5 oracle; half the $63.1125 fee to the liquidator.
    assert_eq!(desk.position(&alice).await.base_lots, 73);
    let p = desk.position(&liquidator).await;
    assert_eq!((p.base_lots, p.quote_entry), (27, -2_524_500_000));
    assert_eq!(desk.balance(&liquidator).await, 1_000 * USD + 31_556_250);
    desk.check().await;
}

#[tokio::test]
async fn keeper_deleverages_to_flat_with_exactly_the_uncovered_shortfall() {
    let mut desk = Desk::new(simple_market_params()).await;
    let cranker = desk.user(0).await;
    let (alice, bob, carol) = alice_bankrupt(&mut desk).await;

    let mut k = keeper(desk.env.chain(), config(&desk.fx), &cranker);
    let report = k.run_cycle().await.unwrap();
    assert_eq!((report.landed, report.failed), (1, 0));
    let m = desk.margin(&alice).await;
    assert!(m.open_positions().next().is_none());
    assert_eq!(m.collateral_balance, 0);
    // Bob (higher score) 60 lots, Carol 40: haircuts 147.6144 + 98.4096 = U = $246.024.
    assert_eq!(desk.balance(&bob).await, 2_753_585_600);
    assert_eq!(desk.balance(&carol).await, 2_542_398_400);
    let market = desk.env.market(&desk.market).await;
    assert_eq!((market.adl_fill_count, market.adl_haircut_total), (2, 246_024_000));
    assert_eq!(desk.insurance().await, 0);
    assert_eq!(k.metrics.adl_fills.get(), 2);
    assert_eq!(k.metrics.adl_haircut_atoms.get(), 246_024_000);
    assert_eq!(k.metrics.insurance_paid_atoms.get(), 204_016_000);
    desk.check().await;

    // Scrape /metrics and /health as Prometheus would.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bulwark_keeper::metrics::serve(listener, k.metrics.clone(), async {
        let _ = stopped.await;
    }));
    let body = http_get(addr, "/metrics").await;
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    for line in [
        "bulwark_keeper_liquidations_total 0",
        "bulwark_keeper_adl_fills_total 2",
        "bulwark_keeper_adl_haircut_atoms_total 246024000",
        "bulwark_keeper_insurance_paid_atoms_total 204016000",
        "bulwark_keeper_cranks_landed_total{action=\"auto_deleverage\"} 1",
        "bulwark_keeper_scan_duration_seconds_count ",
    ] {
        assert!(body.contains(line), "missing {line:?} in\n{body}");
    }
    assert!(http_get(addr, "/health").await.starts_with("HTTP/1.1 200"));
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_keeper_restarted_mid_adl_finishes_the_job_to_the_atom() {
    let mut desk = Desk::new(simple_market_params()).await;
    let cranker = desk.user(0).await;
    let (alice, _bob, _carol) = alice_bankrupt(&mut desk).await;

    // The first keeper cranks one 30-lot batch, then "crashes".
    let mut c = config(&desk.fx);
    c.adl_max_lots_per_crank = 30;
    c.adl_cranks_per_scan = 1;
    let mut first = keeper(desk.env.chain(), c.clone(), &cranker);
    first.run_cycle().await.unwrap();
    assert_eq!(desk.position(&alice).await.base_lots, 70);
    let after_first = desk.env.market(&desk.market).await.adl_haircut_total;
    assert!(after_first > 0 && after_first < 246_024_000);
    drop(first);
    desk.check().await;

    // A new process, with nothing in memory, picks the target up from chain state.
    c.adl_cranks_per_scan = 8;
    let mut second = keeper(desk.env.chain(), c, &cranker);
    second.run_cycle().await.unwrap();
    let m = desk.margin(&alice).await;
    assert!(m.open_positions().next().is_none());
    assert_eq!(m.collateral_balance, 0);
    let market = desk.env.market(&desk.market).await;
    assert_eq!(market.adl_haircut_total, 246_024_000, "Σ haircut over both keepers == U");
    assert_eq!(second.metrics.adl_haircut_atoms.get(), 246_024_000 - after_first);
    assert_eq!(market.open_interest_long_lots, 0);
    desk.check().await;
}

#[tokio::test]
async fn racing_keepers_never_double_crank() {
    let mut desk = Desk::new(simple_market_params()).await;
    let one = desk.user(1_000 * USD).await;
    let two = desk.user(1_000 * USD).await;
    let alice = alice_underwater(&mut desk).await;
    // Make funding due as well: both keepers will want both cranks.
    desk.env.warp(700, 5).await;
    desk.refresh_price().await;

    let mut c = config(&desk.fx);
    c.takeover = true;
    let a = keeper(desk.env.chain(), c.clone(), &one);
    let b = keeper(desk.env.chain(), c, &two);
    // Both decide from the same state, then both send.
    let (sa, sb) = (a.scan().await.unwrap(), b.scan().await.unwrap());
    let options = |k: &Keeper<EmbeddedChain>| bulwark_keeper::plan::PlanOptions {
        keeper_account: k.margin_account,
        takeover: true,
        adl_max_lots: 0,
    };
    let (pa, pb) = (plan(&sa, &options(&a)), plan(&sb, &options(&b)));
    assert_eq!(pa.len(), 2, "{pa:?}");
    assert_eq!(pb.len(), 2, "{pb:?}");
    for action in &pa {
        assert_eq!(a.execute(&sa, action).await, Outcome::Landed);
    }
    for action in &pb {
        assert_eq!(b.execute(&sb, action).await, Outcome::LostRace);
    }
    assert_eq!(b.metrics.lost("AccountNotLiquidatable"), 1);
    assert_eq!(b.metrics.lost("FundingNotDue"), 1);
    assert_eq!(a.metrics.total_failures() + b.metrics.total_failures(), 0);
    assert_eq!(desk.env.market(&desk.market).await.liquidation_count, 1);
    assert_eq!(desk.position(&alice).await.base_lots, 73);
    assert_eq!(desk.position(&two).await.base_lots, 0);
    desk.check().await;
}

/// Faults to inject at the `Chain` boundary, consumed in order.
#[derive(Default)]
struct Faults {
    /// Reads that fail with a transport error.
    failed_reads: u32,
    /// Sends the network loses: reported accepted, never delivered.
    dropped_sends: u32,
    /// Sends that fail with a transport error, undelivered.
    failed_sends: u32,
    /// Sends delivered (they land) whose answer is lost: reported as a timeout.
    lost_answers: u32,
    /// Status polls that fail with a transport error.
    failed_status: u32,
    /// Sends that reached the bank.
    delivered: u32,
}

struct FaultyChain {
    inner: EmbeddedChain,
    faults: RefCell<Faults>,
}

fn take(counter: &mut u32) -> bool {
    let hit = *counter > 0;
    *counter = counter.saturating_sub(1);
    hit
}

impl Chain for FaultyChain {
    async fn program_accounts(&self, filter: &AccountFilter) -> ChainResult<Vec<(Pubkey, Vec<u8>)>> {
        if take(&mut self.faults.borrow_mut().failed_reads) {
            return Err(ChainError::Transport("injected: connection reset".into()));
        }
        self.inner.program_accounts(filter).await
    }
    async fn accounts(&self, keys: &[Pubkey]) -> ChainResult<Vec<Option<RawAccount>>> {
        self.inner.accounts(keys).await
    }
    async fn latest_blockhash(&self) -> ChainResult<Hash> {
        self.inner.latest_blockhash().await
    }
    async fn is_blockhash_valid(&self, blockhash: &Hash) -> ChainResult<bool> {
        self.inner.is_blockhash_valid(blockhash).await
    }
    async fn send_transaction(&self, tx: &Transaction) -> ChainResult<Signature> {
        {
            let mut f = self.faults.borrow_mut();
            if take(&mut f.dropped_sends) {
                return Ok(tx.signatures[0]);
            }
            if take(&mut f.failed_sends) {
                return Err(ChainError::Transport("injected: send failed".into()));
            }
        }
        let result = self.inner.send_transaction(tx).await;
        let mut f = self.faults.borrow_mut();
        if result.is_ok() {
            f.delivered += 1;
        }
        if take(&mut f.lost_answers) {
            return Err(ChainError::Timeout("injected: answer lost".into()));
        }
        result
    }
    async fn transaction_status(&self, signature: &Signature) -> ChainResult<Option<TxStatus>> {
        if take(&mut self.faults.borrow_mut().failed_status) {
            return Err(ChainError::Transport("injected: status unavailable".into()));
        }
        self.inner.transaction_status(signature).await
    }
}

#[tokio::test]
async fn faults_at_the_chain_boundary_are_retried_without_duplicates() {
    let mut desk = Desk::new(simple_market_params()).await;
    let liquidator = desk.user(1_000 * USD).await;
    let alice = alice_underwater(&mut desk).await;

    let mut c = config(&desk.fx);
    c.takeover = true;
    c.confirm_timeout = Duration::from_millis(300);
    let faults = Faults {
        failed_reads: 1,
        dropped_sends: 2,
        failed_sends: 3,
        lost_answers: 1,
        failed_status: 2,
        ..Default::default()
    };
    let chain = FaultyChain { inner: desk.env.chain(), faults: RefCell::new(faults) };
    let mut k = keeper(chain, c, &liquidator);
    let report = k.run_cycle().await.unwrap();
    assert_eq!((report.landed, report.failed, report.unknown), (1, 0, 0));

    // Exactly one liquidation reached the bank, however many times it was (re)sent.
    assert_eq!(k.chain.faults.borrow().delivered, 1);
    assert_eq!(desk.env.market(&desk.market).await.liquidation_count, 1);
    assert_eq!(desk.position(&alice).await.base_lots, 73);
    assert_eq!(desk.position(&liquidator).await.base_lots, 27);
    // The keeper saw the faults, retried, and counted the landing as its own.
    assert_eq!(k.metrics.liquidations.get(), 1);
    assert!(k.metrics.retries.get() >= 2, "scan retry and crank retry");
    assert!(k.metrics.failures("timeout") >= 1);
    assert_eq!(k.metrics.scan_failures.get(), 1);
    let body = k.metrics.render();
    assert!(body.contains("bulwark_keeper_tx_failures_total{reason=\"timeout\"}"), "{body}");
    desk.check().await;

    // Reads failing past every retry end the cycle with an error, not a panic.
    let faults = Faults { failed_reads: 10, ..Default::default() };
    let chain = FaultyChain { inner: desk.env.chain(), faults: RefCell::new(faults) };
    let mut k = keeper(chain, config(&desk.fx), &liquidator);
    assert!(matches!(k.run_cycle().await, Err(ChainError::Transport(_))));
    assert_eq!(k.metrics.scan_failures.get(), 4);
}

#[tokio::test]
async fn keeper_settles_funding_and_prunes_expired_orders() {
    let mut desk = Desk::new(simple_market_params()).await;
    let maker = desk.user(10_000 * USD).await;
    let now = desk.env.clock().await.unix_timestamp;
    let mut args = order(SIDE_BID, ORDER_TYPE_LIMIT, 95, 5);
    args.expiry_unix = now + 600;
    desk.env.place(&desk.fx, &maker, &desk.market, args, &[]).await.ok();

    // A keeper starting from a bare keypair opens its own margin account.
    let authority = desk.env.funded_keypair().await;
    let authority_key = solana_signer::Signer::pubkey(&authority);
    let mut k = Keeper::new(desk.env.chain(), config(&desk.fx), authority, Metrics::new(60));
    assert!(desk.env.account_data(k.margin_account).await.is_none());
    k.ensure_margin_account().await.unwrap();
    k.ensure_margin_account().await.unwrap();
    let own = desk.env.margin(k.margin_account).await;
    assert_eq!((own.owner, own.collateral_balance), (authority_key, 0));
    desk.fx.margin_accounts.push(k.margin_account);
    // Nothing due yet.
    assert_eq!(k.run_cycle().await.unwrap().planned, 0);

    desk.env.warp(3_700, 5).await;
    desk.refresh_price().await;
    let before = desk.env.market(&desk.market).await.last_funding_unix;
    let report = k.run_cycle().await.unwrap();
    assert_eq!((report.planned, report.landed), (2, 2));
    let market = desk.env.market(&desk.market).await;
    assert_eq!(market.last_funding_unix, before + 3_600);
    assert_eq!(desk.env.book(&desk.market).await.bid_count, 0);
    assert_eq!(desk.position(&maker).await.open_bid_lots, 0);
    assert_eq!(k.run_cycle().await.unwrap().planned, 0);
    desk.check().await;

    // Shutdown: the loop finishes its cycle and returns once told to stop.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let scans_before = k.metrics.scans.get();
    tokio::join!(k.run(stopped), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        stop.send(true).unwrap();
    });
    assert!(k.metrics.scans.get() > scans_before);
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}
