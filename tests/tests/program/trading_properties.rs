//! Random sequences of deposits, withdrawals, orders, cancels, funding and price moves across
//! three accounts; the invariants are checked after every step. Errors are allowed (a random
//! order may well be refused), panics and broken invariants are not.

use anchor_lang::prelude::*;
use bulwark::state::*;
use bulwark_tests::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use solana_signer::Signer as _;

const USD: u64 = 1_000_000;

#[derive(Clone, Debug)]
enum Op {
    Deposit { user: usize, dollars: u64 },
    Withdraw { user: usize, dollars: u64 },
    Place { user: usize, side: u8, order_type: u8, offset: i64, lots: u64, reduce_only: bool },
    CancelAll { user: usize },
    Funding,
    MovePrice { bps: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0..3usize, 1..2_000u64).prop_map(|(user, dollars)| Op::Deposit { user, dollars }),
        1 => (0..3usize, 1..2_000u64).prop_map(|(user, dollars)| Op::Withdraw { user, dollars }),
        4 => (0..3usize, 0..2u8, 0..4u8, -5..6i64, 1..40u64, prop::bool::weighted(0.15)).prop_map(
            |(user, side, order_type, offset, lots, reduce_only)| Op::Place { user, side, order_type, offset, lots, reduce_only }
        ),
        1 => (0..3usize).prop_map(|user| Op::CancelAll { user }),
        1 => Just(Op::Funding),
        2 => (-400..400i64).prop_map(|bps| Op::MovePrice { bps }),
    ]
}

/// Returns (operations that succeeded, fills).
async fn run_sequence(ops: Vec<Op>) -> (u32, u32) {
    let (mut succeeded, mut fills) = (0u32, 0u32);
    let mut env = TestEnv::new().await;
    let mut fx = env.setup_clearinghouse(ClearinghouseOptions { timelock_seconds: 0, ..Default::default() }).await;
    let market = env.setup_market(&mut fx, simple_market_params(), 100).await;
    let mut users = Vec::new();
    for _ in 0..3 {
        let user = env.create_user(&mut fx, 100_000 * USD).await;
        env.deposit(&fx, &user, 1_000 * USD).await.ok();
        users.push(user);
    }
    let mut price = 100i64 * USD as i64;
    // A market maker's quotes, so random takers have something to hit.
    env.place(&fx, &users[2], &market, order(SIDE_BID, ORDER_TYPE_LIMIT, 99, 20), &[]).await.ok();
    env.place(&fx, &users[2], &market, order(SIDE_ASK, ORDER_TYPE_LIMIT, 101, 20), &[]).await.ok();
    env.check_invariants(&fx).await;

    for op in ops {
        match op {
            Op::Deposit { user, dollars } => {
                succeeded += env.deposit(&fx, &users[user], dollars * USD).await.result.is_ok() as u32;
            }
            Op::Withdraw { user, dollars } => {
                let owner = users[user].owner.insecure_clone();
                let mut ix = withdraw_ix(
                    &owner.pubkey(),
                    &fx.key,
                    &users[user].margin_account,
                    &fx.collateral_vault,
                    &users[user].token_account,
                    dollars * USD,
                );
                ix.accounts.push(AccountMeta::new_readonly(market.key, false));
                ix.accounts.push(AccountMeta::new_readonly(market.oracle, false));
                succeeded += env.send(&[ix], &[&owner]).await.result.is_ok() as u32;
            }
            Op::Place { user, side, order_type, offset, lots, reduce_only } => {
                let ticks = (price / USD as i64 + offset).max(1) as u64;
                let book = env.book(&market).await;
                let makers = makers_for(&book, side, &users[user].margin_account);
                let args = PlaceOrderArgs { reduce_only, ..order(side, order_type, ticks, lots) };
                let out = env.place(&fx, &users[user], &market, args, &makers).await;
                if std::env::var("BULWARK_PROPTEST_DEBUG").is_ok() {
                    println!("place {:?} -> {:?}", args, out.custom_error());
                }
                succeeded += out.result.is_ok() as u32;
                fills += out.events::<bulwark::events::FillV1>().len() as u32;
            }
            Op::CancelAll { user } => {
                let owner = users[user].owner.insecure_clone();
                let ix = cancel_order_ix(&owner.pubkey(), &users[user].margin_account, &market, None);
                succeeded += env.send(&[ix], &[&owner]).await.result.is_ok() as u32;
            }
            Op::Funding => {
                env.warp(3_600, 10).await;
                env.publish(&market.feed, price, 0, true, 0).await;
                succeeded += env.send(&[update_funding_ix(&fx.key, &market)], &[]).await.result.is_ok() as u32;
            }
            Op::MovePrice { bps } => {
                price = (price + price * bps / 10_000).max(USD as i64);
                env.warp(1, 1).await;
                env.publish(&market.feed, price, 0, true, 0).await;
            }
        }
        env.check_invariants(&fx).await;
    }
    (succeeded, fills)
}

#[test]
fn random_trading_sequences_keep_the_invariants() {
    let cases: u32 = std::env::var("BULWARK_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        rng_seed: bulwark_tests::proptest_seed(),
        ..Config::default()
    });
    let started = std::time::Instant::now();
    let totals = std::cell::Cell::new((0u32, 0u32, 0u32));
    runner
        .run(&proptest::collection::vec(op(), 4..20), |ops| {
            let n = ops.len() as u32;
            let (ok, fills) = runtime.block_on(run_sequence(ops));
            let (a, b, c) = totals.get();
            totals.set((a + n, b + ok, c + fills));
            Ok(())
        })
        .unwrap();
    let (ops, ok, fills) = totals.get();
    println!("{cases} random sequences, {ops} operations ({ok} accepted, {fills} fills) in {:.1?}", started.elapsed());
    // The sequences must exercise the engine, not just bounce off validation.
    assert!(fills as u64 * 4 >= cases as u64, "too few fills: {fills}");
}
