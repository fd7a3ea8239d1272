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
    // Sized for the band's worst price (89 lots), the crank sells all 50 lots bid at $93. The
    // fee is 2.5% of $4,650 = $116.25; the cranker's 20% ($23.25) is capped at $10.
    assert_eq!(desk.position(&alice).await.base_lots, 50);
    assert_eq!(desk.balance(&cranker).await, 10 * USD);
    assert_eq!(k.metrics.liquidations.get(), 1);
    // 1,090 − 350 realised − 4.65 taker fee − 116.25 fee = 619.10; with 50 lots left at $93.5,
    // equity 294.10 ≥ 1.1 × 233.75: back above the buffer in this one cycle, and unflagged.
    assert_eq!(desk.balance(&alice).await, 619_100_000);
    let m = desk.margin(&alice).await;
    assert_eq!((m.status_flags & ACCOUNT_FLAG_BEING_LIQUIDATED, m.liquidatable_since_slot), (0, 0));
    let h = desk.health(&alice).await;
    assert_eq!((h.equity, h.maintenance_requirement), (294_100_000, 233_750_000));
    assert!(bulwark::math::liquidation::meets_buffer(&h, 1_000).unwrap());
    desk.check().await;

    // The keeper leaves it alone from now on.
    assert_eq!(k.run_cycle().await.unwrap().planned, 0);
    assert_eq!(desk.env.market(&desk.market).await.liquidation_count, 1);
    assert_eq!(k.metrics.liquidations.get(), 1);
    desk.check().await;
}

#[tokio::test]
async fn keeper_takes_over_when_configured_and_flags_what_it_cannot_close() {
    let mut desk = Desk::new(simple_market_params()).await;
    let liquidator = desk.user(1_000 * USD).await;
    let alice = alice_underwater(&mut desk).await;

    // Only a bid outside the 2% band (a sale may fill no lower than 92 ticks) and no takeover:
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
            defend_owner: None,
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
    let (alice, bob, carol) = desk.alice_bankrupt().await;

    let mut k = keeper(desk.env.chain(), config(&desk.fx), &cranker);
    // The round opens with the keeper's nominations in one transaction, and a funding sample
    // lands (the last one is 3,000 s old, past the 900 s interval).
    let report = k.run_cycle().await.unwrap();
    assert_eq!((report.landed, report.failed), (2, 0));
    let round = desk.round(&alice).await.expect("a round is open");
    let queued: Vec<Pubkey> = round.queue().iter().map(|n| n.margin_account).collect();
    assert_eq!(queued, vec![bob.margin_account, carol.margin_account], "Bob ranks first");
    assert_eq!(desk.position(&alice).await.base_lots, 100);
    // This clearinghouse takes nominations in the opening slot only; the next slot executes.
    desk.env.warp(1, 1).await;
    desk.refresh_price().await;
    let report = k.run_cycle().await.unwrap();
    assert_eq!((report.landed, report.failed), (1, 0));
    assert!(desk.round(&alice).await.is_none(), "the round closed with the target flat");
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
        "bulwark_keeper_cranks_landed_total{action=\"begin_adl\"} 1",
        "bulwark_keeper_cranks_landed_total{action=\"execute_adl\"} 1",
        "bulwark_keeper_cranks_landed_total{action=\"update_funding\"} 1",
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
    let (alice, _bob, _carol) = desk.alice_bankrupt().await;

    // The first keeper opens the round and nominates, then "crashes".
    let mut first = keeper(desk.env.chain(), config(&desk.fx), &cranker);
    first.run_cycle().await.unwrap();
    assert_eq!(desk.round(&alice).await.map(|r| r.nominee_count), Some(2));
    assert_eq!(desk.position(&alice).await.base_lots, 100);
    drop(first);
    desk.check().await;

    // A new process, with nothing in memory, finds the round on chain and executes it.
    desk.env.warp(1, 1).await;
    desk.refresh_price().await;
    let mut second = keeper(desk.env.chain(), config(&desk.fx), &cranker);
    second.run_cycle().await.unwrap();
    let m = desk.margin(&alice).await;
    assert!(m.open_positions().next().is_none());
    assert_eq!(m.collateral_balance, 0);
    let market = desk.env.market(&desk.market).await;
    assert_eq!(market.adl_haircut_total, 246_024_000, "Σ haircut == U");
    assert_eq!(second.metrics.adl_haircut_atoms.get(), 246_024_000);
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
        defend_owner: None,
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

/// Alice: long 20 lots at $100 with $210 deposited ($2 taker fee); at $94 her equity is $88
/// under the $94 maintenance requirement.
async fn alice_small_and_underwater(desk: &mut Desk) -> User {
    let mm = desk.user(100_000 * USD).await;
    let alice = desk.user(210 * USD).await;
    desk.trade(&mm, &alice, SIDE_ASK, 100, 20).await;
    desk.set_price(94_000_000).await;
    let h = desk.health(&alice).await;
    assert_eq!((h.equity, h.maintenance_requirement), (88_000_000, 94_000_000));
    alice
}

#[tokio::test]
async fn interleaved_one_lot_bids_of_two_makers_do_not_throttle_a_liquidation() {
    let mut desk = Desk::new(simple_market_params()).await;
    let cranker = desk.user(0).await;
    let alice = alice_small_and_underwater(&mut desk).await;
    // Bob and Carol alternate 1-lot bids at $93, best first: Bob, Carol, Bob, Carol, ...
    let (bob, carol) = (desk.user(1_000 * USD).await, desk.user(1_000 * USD).await);
    for i in 0..10 {
        let maker = if i % 2 == 0 { &bob } else { &carol };
        desk.env.place(&desk.fx, maker, &desk.market, order(SIDE_BID, ORDER_TYPE_LIMIT, 93, 1), &[]).await.ok();
    }
    let k = keeper(desk.env.chain(), config(&desk.fx), &cranker);

    // One run of makers (Bob alone) is what a crank passing the first run gives the program:
    // it fills Bob's first lot, then meets Carol's order and stops. One lot a crank.
    let snapshot = k.scan().await.unwrap();
    let one_run =
        Action::BookLiquidation { target: alice.margin_account, market_index: 0, makers: vec![bob.margin_account] };
    assert_eq!(k.execute(&snapshot, &one_run).await, Outcome::Landed);
    assert_eq!(desk.position(&alice).await.base_lots, 19);
    desk.check().await;

    // The keeper passes a maker entry per order for the eight orders the program touches.
    let mut k = k;
    let snapshot = k.scan().await.unwrap();
    let alternating: Vec<Pubkey> =
        (0..8).map(|i| if i % 2 == 0 { carol.margin_account } else { bob.margin_account }).collect();
    let options = bulwark_keeper::plan::PlanOptions {
        keeper_account: cranker.margin_account,
        takeover: false,
        defend_owner: None,
    };
    assert_eq!(
        plan(&snapshot, &options),
        vec![Action::BookLiquidation { target: alice.margin_account, market_index: 0, makers: alternating }]
    );
    // After the first lot Alice has $208 − 7 realised − 0.093 taker fee − 2.325 fee = $198.582
    // and 19 lots at $94: equity 84.582 against 89.30 maintenance. Sized for the band's worst
    // price (cost 4.6%), the close is ⌈10,000·19·(11,000·89.30 − 10,000·84.582) /
    // (1,786·(11,000·500 − 10,000·460))⌉ = ⌈16.13⌉ = 17 lots: all eight orders the crank
    // touches fill, against Carol, Bob, Carol, Bob, Carol, Bob, Carol, Bob.
    let report = k.run_cycle().await.unwrap();
    assert_eq!((report.landed, report.failed), (1, 0));
    assert_eq!(desk.position(&alice).await.base_lots, 11);
    assert_eq!((desk.position(&bob).await.base_lots, desk.position(&carol).await.base_lots), (5, 4));
    assert_eq!(desk.env.book(&desk.market).await.bid_count, 1);
    assert_eq!(desk.env.market(&desk.market).await.liquidation_count, 2);
    // 198.582 − 56 realised − 0.744 taker fee − 18.60 fee = 123.238; 11 lots at $94: equity
    // 57.238 ≥ 1.1 × 51.70, back above the buffer. The cranker: 20% of $2.325 and of $18.60.
    assert_eq!(desk.balance(&alice).await, 123_238_000);
    assert_eq!(desk.margin(&alice).await.status_flags & ACCOUNT_FLAG_BEING_LIQUIDATED, 0);
    assert_eq!(desk.balance(&cranker).await, 465_000 + 3_720_000);
    desk.check().await;
}

#[tokio::test]
async fn a_takeover_the_keeper_cannot_margin_falls_back_to_the_book() {
    let mut desk = Desk::new(simple_market_params()).await;
    // $100 cannot carry 27 lots at $93.5 (10% initial margin: $252.45).
    let liquidator = desk.user(100 * USD).await;
    let alice = alice_underwater(&mut desk).await;
    let bidder = desk.user(10_000 * USD).await;
    desk.env.place(&desk.fx, &bidder, &desk.market, order(SIDE_BID, ORDER_TYPE_LIMIT, 93, 30), &[]).await.ok();

    let mut c = config(&desk.fx);
    c.takeover = true;
    let mut k = keeper(desk.env.chain(), c, &liquidator);
    // The takeover is refused for the keeper's margin; the same cycle closes against the bid.
    let report = k.run_cycle().await.unwrap();
    assert_eq!((report.landed, report.failed, report.fallbacks), (1, 1, 1));
    let code = u32::from(bulwark::error::BulwarkError::LiquidatorInsufficientMargin);
    assert_eq!(k.metrics.failures(&format!("program_error_{code}")), 1);
    // Sized at 89 lots, the close sells the 30 lots bid at $93; the keeper took no position and
    // earned the $10 reward (20% of the $69.75 fee, capped).
    assert_eq!(desk.position(&alice).await.base_lots, 70);
    assert_eq!(desk.position(&bidder).await.base_lots, 30);
    assert_eq!(desk.position(&liquidator).await.base_lots, 0);
    assert_eq!(desk.balance(&liquidator).await, 110 * USD);
    // 1,090 − 210 realised − 2.79 taker fee − 69.75 fee = 807.46; 70 lots at $93.5: equity
    // 352.46 under 1.1 × 327.25 = 359.975, so the liquidation goes on.
    assert_eq!(desk.balance(&alice).await, 807_460_000);
    assert_ne!(desk.margin(&alice).await.status_flags & ACCOUNT_FLAG_BEING_LIQUIDATED, 0);
    desk.check().await;

    // The refusal is remembered: with a new bid, the next cycle goes straight to the book.
    desk.env.place(&desk.fx, &bidder, &desk.market, order(SIDE_BID, ORDER_TYPE_LIMIT, 93, 20), &[]).await.ok();
    let report = k.run_cycle().await.unwrap();
    assert_eq!((report.landed, report.failed, report.fallbacks), (1, 0, 0));
    // ⌈10,000·70·(11,000·327.25 − 10,000·352.46) / (6,545·(11,000·500 − 10,000·460))⌉ =
    // ⌈8.93⌉ = 9 more lots; the reward is 20% of the $20.925 fee.
    assert_eq!(desk.position(&alice).await.base_lots, 61);
    assert_eq!(desk.balance(&liquidator).await, 114_185_000);
    // 807.46 − 63 realised − 0.837 taker fee − 20.925 fee = 722.698; 61 lots at $93.5: equity
    // 326.198 ≥ 1.1 × 285.175 = 313.6925, back above the buffer.
    assert_eq!(desk.balance(&alice).await, 722_698_000);
    assert_eq!(desk.margin(&alice).await.status_flags & ACCOUNT_FLAG_BEING_LIQUIDATED, 0);
    desk.check().await;
}

#[tokio::test]
async fn a_cranker_naming_only_a_capped_winner_cannot_strand_the_shortfall() {
    // Rounds take nominations for three slots here.
    let waterfall = WaterfallParams { adl_nomination_slots: 3, ..default_waterfall() };
    let options = ClearinghouseOptions { timelock_seconds: 0, waterfall, ..Default::default() };
    let mut desk = Desk::with_options(simple_market_params(), options).await;
    let attacker = desk.user(0).await;
    let cranker = desk.user(0).await;
    // Alice longs 100 from Quinn at $100. Pat shorts 100 to Bob at $86.
    let quinn = desk.user(2_000 * USD).await;
    let alice = desk.user(1_100 * USD).await;
    desk.trade(&quinn, &alice, SIDE_ASK, 100, 100).await;
    desk.set_price(86_000_000).await;
    let (pat, bob) = (desk.user(1_000 * USD).await, desk.user(5_000 * USD).await);
    desk.trade(&pat, &bob, SIDE_ASK, 86, 100).await;
    // At $78 Pat takes out all its cash: its $800 profit covers the $780 initial margin.
    desk.set_price(78_000_000).await;
    let pat_cash = desk.balance(&pat).await;
    assert_eq!(pat_cash, 1_001_720_000);
    let withdraw = bulwark_sdk::ix::with_remaining(
        bulwark_sdk::ix::withdraw_ix(
            &solana_signer::Signer::pubkey(&pat.owner),
            &desk.fx.key,
            &pat.margin_account,
            &desk.fx.collateral_vault,
            &pat.token_account,
            pat_cash,
        ),
        &desk.market.keys.price_pair(),
    );
    let owner = pat.owner.insecure_clone();
    desk.env.send(&[withdraw], &[&owner]).await.ok();
    // Alice: −$1,110; insurance holds $7.44 of fees, so $1,102.56 is left to ADL. Pat (equity
    // $800 at 9.75x) is first in line but can give $800 at most; Quinn ($4,202) can give it all.
    assert_eq!(desk.health(&alice).await.equity, -1_110_000_000);
    assert_eq!(desk.insurance().await, 7_440_000);
    assert_eq!(desk.health(&pat).await.equity, 800_000_000);

    let honest = keeper(desk.env.chain(), config(&desk.fx), &cranker);
    let snapshot = honest.scan().await.unwrap();
    let prices = snapshot.prices();
    let accounts = snapshot.accounts.iter().map(|(key, a)| (key, a));
    let ranked = bulwark_sdk::adl::rank_counterparties(&alice.margin_account, 100, 0, accounts, &prices);
    let order_of: Vec<(Pubkey, u128)> = ranked.iter().map(|c| (c.margin_account, c.score)).collect();
    assert_eq!(order_of, vec![(pat.margin_account, 906_974), (quinn.margin_account, 408_376)]);

    // A cranker opens the round naming Pat alone: capped at $800, Pat would close all 100 lots
    // and leave $302.56 with no lots to carry it.
    let by_attacker =
        Action::AdlBegin { target: alice.margin_account, market_index: 0, nominees: vec![pat.margin_account] };
    let attacker_keeper = keeper(desk.env.chain(), config(&desk.fx), &attacker);
    assert_eq!(attacker_keeper.execute(&snapshot, &by_attacker).await, Outcome::Landed);
    // Within the window the honest keeper nominates Quinn: Pat's profit does not cover its
    // share, so the keeper does not count Pat's lots as covered.
    let mut honest = honest;
    let snapshot = honest.scan().await.unwrap();
    let options = bulwark_keeper::plan::PlanOptions {
        keeper_account: cranker.margin_account,
        takeover: false,
        defend_owner: None,
    };
    let nominate =
        Action::AdlNominate { target: alice.margin_account, market_index: 0, nominees: vec![quinn.margin_account] };
    assert_eq!(plan(&snapshot, &options), vec![nominate, Action::Funding { market_index: 0 }]);
    let report = honest.run_cycle().await.unwrap();
    assert_eq!((report.landed, report.failed), (2, 0));

    // After the window: Pat, capped on the last lots with Quinn queued, is deferred; Quinn takes
    // all 100 lots and the whole $1,102.56. Nothing is written off.
    desk.env.warp(1, 4).await;
    desk.refresh_price().await;
    let report = honest.run_cycle().await.unwrap();
    assert_eq!((report.landed, report.failed), (1, 0));
    let m = desk.margin(&alice).await;
    assert!(m.open_positions().next().is_none());
    assert_eq!(m.collateral_balance, 0);
    let market = desk.env.market(&desk.market).await;
    assert_eq!((market.adl_fill_count, market.adl_haircut_total, market.bad_debt_total), (1, 1_102_560_000, 0));
    // Quinn: $2,002 + $2,200 profit − $1,102.56 haircut. Pat is untouched.
    assert_eq!(desk.position(&quinn).await.base_lots, 0);
    assert_eq!(desk.balance(&quinn).await, 3_099_440_000);
    assert_eq!((desk.position(&pat).await.base_lots, desk.balance(&pat).await), (-100, 0));
    assert_eq!(desk.insurance().await, 0);
    desk.check().await;
}

#[tokio::test]
async fn an_account_past_its_adl_grace_is_liquidated_first_while_the_book_can_take_it() {
    let mut desk = Desk::new(simple_market_params()).await;
    let cranker = desk.user(0).await;
    let alice = alice_underwater(&mut desk).await;
    // Nobody can close Alice: her grace clock starts.
    desk.update_status(&alice).await.ok();
    let since = desk.margin(&alice).await.liquidatable_since_slot;
    assert!(since > 0);
    let options = bulwark_keeper::plan::PlanOptions {
        keeper_account: cranker.margin_account,
        takeover: false,
        defend_owner: None,
    };
    let mut k = keeper(desk.env.chain(), config(&desk.fx), &cranker);
    // 60 slots on, the sighting is past half the 100-slot grace: the keeper records her again
    // so the clock keeps running (the program restarts it when sightings are more than the
    // grace apart). A funding sample is due too (the last is 3,000 s old).
    desk.env.warp(1, 60).await;
    desk.refresh_price().await;
    let snapshot = k.scan().await.unwrap();
    assert_eq!(
        plan(&snapshot, &options),
        vec![Action::FlagLiquidatable { target: alice.margin_account }, Action::Funding { market_index: 0 }]
    );
    assert_eq!(k.run_cycle().await.unwrap().landed, 2);
    let m = desk.margin(&alice).await;
    let now = desk.env.clock().await.slot;
    assert_eq!((m.liquidatable_since_slot, m.liquidatable_seen_slot), (since, now));
    // 60 more: 120 slots since the clock started, the last sighting 60 ago, and the grace has
    // run out. With no bid in the band, ADL is the last resort: against the market maker's short.
    desk.env.warp(1, 60).await;
    desk.refresh_price().await;
    let snapshot = k.scan().await.unwrap();
    let actions = plan(&snapshot, &options);
    assert!(
        matches!(&actions[..], [Action::AdlBegin { target, market_index: 0, nominees }]
            if *target == alice.margin_account && nominees.len() == 1),
        "{actions:?}"
    );
    // A bid within the band: the keeper liquidates instead of deleveraging.
    let bidder = desk.user(10_000 * USD).await;
    desk.env.place(&desk.fx, &bidder, &desk.market, order(SIDE_BID, ORDER_TYPE_LIMIT, 93, 50), &[]).await.ok();
    let snapshot = k.scan().await.unwrap();
    let close =
        Action::BookLiquidation { target: alice.margin_account, market_index: 0, makers: vec![bidder.margin_account] };
    assert_eq!(plan(&snapshot, &options), vec![close]);
    let report = k.run_cycle().await.unwrap();
    assert_eq!((report.landed, report.failed), (1, 0));
    // Sized at 89 lots, it sells all 50 bid at $93 and Alice is back above the buffer (as in
    // `keeper_liquidates_against_the_book_within_one_cycle`): the clock clears, nobody is ADL'd.
    assert_eq!(desk.position(&alice).await.base_lots, 50);
    assert_eq!(desk.position(&bidder).await.base_lots, 50);
    assert_eq!(desk.margin(&alice).await.liquidatable_since_slot, 0);
    assert_eq!(desk.env.market(&desk.market).await.adl_fill_count, 0);
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
    // The takeover, then a funding sample (the last is 3,000 s old), which meets no fault left.
    let report = k.run_cycle().await.unwrap();
    assert_eq!((report.landed, report.failed, report.unknown), (2, 0, 0));

    // Exactly one liquidation reached the bank, however many times it was (re)sent, and the
    // funding sample once.
    assert_eq!(k.chain.faults.borrow().delivered, 2);
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

#[tokio::test]
async fn a_defending_keeper_nominates_the_winners_ranked_above_its_own_account() {
    let waterfall = WaterfallParams { adl_nomination_slots: 3, ..default_waterfall() };
    let options = ClearinghouseOptions { timelock_seconds: 0, waterfall, ..Default::default() };
    let params = MarketParams { taker_fee_bps: 0, maker_fee_bps: 0, ..simple_market_params() };
    let mut desk = Desk::with_options(params, options).await;
    let attacker = desk.user(0).await;
    // Alice buys 100 lots at $100 from Bob (deep pockets, 0.09x); Carol sells 50 to Dave at $95.
    let bob = desk.user(100_000 * USD).await;
    let dave = desk.user(10_000 * USD).await;
    let carol = desk.user(600 * USD).await;
    let alice = desk.user(1_000 * USD).await;
    desk.trade(&bob, &alice, SIDE_ASK, 100, 100).await;
    desk.set_price(95_000_000).await;
    desk.trade(&carol, &dave, SIDE_ASK, 95, 50).await;
    // $88.50: Alice is $150 short with no insurance. Carol (up $6.50 a lot at 4.8x) ranks above
    // Bob (up $11.50 a lot at 0.09x); Bob alone could close all 100 lots.
    desk.set_price(88_500_000).await;
    assert_eq!(desk.health(&alice).await.equity, -150 * USD as i128);

    // A cranker opens the round naming Bob alone.
    let opener = keeper(desk.env.chain(), config(&desk.fx), &attacker);
    let snapshot = opener.scan().await.unwrap();
    let begin = Action::AdlBegin { target: alice.margin_account, market_index: 0, nominees: vec![bob.margin_account] };
    assert_eq!(opener.execute(&snapshot, &begin).await, Outcome::Landed);

    // A keeper that is not defending anyone sees Bob cover every lot: nothing to nominate.
    let snapshot = opener.scan().await.unwrap();
    let plain = bulwark_keeper::plan::PlanOptions {
        keeper_account: attacker.margin_account,
        takeover: false,
        defend_owner: None,
    };
    assert!(plan(&snapshot, &plain).iter().all(|a| !matches!(a, Action::AdlNominate { .. })));
    // Bob's own keeper, defending, nominates Carol, who ranks above him.
    let mut c = config(&desk.fx);
    c.defend = true;
    let mut defender = keeper(desk.env.chain(), c, &bob);
    assert_eq!(defender.margin_account, bob.margin_account);
    let report = defender.run_cycle().await.unwrap();
    assert_eq!(report.failed, 0);
    let queue: Vec<Pubkey> = desk.round(&alice).await.unwrap().queue().iter().map(|n| n.margin_account).collect();
    assert_eq!(queue, vec![carol.margin_account, bob.margin_account]);

    // After the window Carol pays first: ⌊150 × 50/100⌋ = $75 for her 50 lots, Bob $75 for 50.
    desk.env.warp(1, 4).await;
    desk.refresh_price().await;
    defender.run_cycle().await.unwrap();
    assert_eq!(desk.position(&alice).await.base_lots, 0);
    assert_eq!((desk.position(&carol).await.base_lots, desk.position(&bob).await.base_lots), (0, -50));
    let market = desk.env.market(&desk.market).await;
    assert_eq!((market.adl_fill_count, market.adl_haircut_total, market.bad_debt_total), (2, 150 * USD, 0));
    desk.check().await;
}
