//! Random sequences of deposits, withdrawals, orders, cancels, funding, price moves and an
//! attacker's moves across three accounts and the attacker's hedged pair; the accounting and the
//! economic invariants are checked after every step (the economic ones around every
//! transaction), and an honest order must still be accepted after it. Errors are allowed (a
//! random order may well be refused), panics and broken invariants are not.

use anchor_lang::prelude::*;
use bulwark::state::*;
use bulwark_tests::economic::{attack, Attack, Attacker, EconomicTally, EconomicWatch};
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
    Attack(Attack),
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
        3 => attack().prop_map(Op::Attack),
    ]
}

/// Returns (operations that succeeded, fills) and the economic tally.
async fn run_sequence(ops: Vec<Op>) -> (u32, u32, EconomicTally) {
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
    let attacker = Attacker::new(&mut env, &mut fx, 1_500 * USD).await;
    let mut watch = EconomicWatch::new(&mut env, &mut fx).await;
    let mut price = 100i64 * USD as i64;
    // A market maker's quotes, so random takers have something to hit.
    env.place(&fx, &users[2], &market, order(SIDE_BID, ORDER_TYPE_LIMIT, 99, 20), &[]).await.ok();
    env.place(&fx, &users[2], &market, order(SIDE_ASK, ORDER_TYPE_LIMIT, 101, 20), &[]).await.ok();
    env.check_invariants(&fx).await;

    for (step, op) in ops.iter().enumerate() {
        match op.clone() {
            Op::Deposit { user, dollars } => {
                let u = &users[user];
                let ix = deposit_ix(
                    &u.owner.pubkey(),
                    &fx.key,
                    &u.margin_account,
                    &fx.collateral_vault,
                    &u.token_account,
                    dollars * USD,
                );
                let out = watch.send(&mut env, &fx, &market, price, &[ix], &[&u.owner]).await;
                succeeded += out.result.is_ok() as u32;
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
                succeeded += watch.send(&mut env, &fx, &market, price, &[ix], &[&owner]).await.result.is_ok() as u32;
            }
            Op::Place { user, side, order_type, offset, lots, reduce_only } => {
                let ticks = (price / USD as i64 + offset).max(1) as u64;
                let book = env.book(&market).await;
                let makers = makers_for(&book, side, &users[user].margin_account);
                let args = PlaceOrderArgs { reduce_only, ..order(side, order_type, ticks, lots) };
                let out = watch.place(&mut env, &fx, &market, price, &users[user], args, &makers).await;
                if std::env::var("BULWARK_PROPTEST_DEBUG").is_ok() {
                    println!("place {:?} -> {:?}", args, out.custom_error());
                }
                succeeded += out.result.is_ok() as u32;
                fills += out.events::<bulwark::events::FillV1>().len() as u32;
            }
            Op::CancelAll { user } => {
                let owner = users[user].owner.insecure_clone();
                let ix = cancel_order_ix(&owner.pubkey(), &users[user].margin_account, &market, None);
                succeeded += watch.send(&mut env, &fx, &market, price, &[ix], &[&owner]).await.result.is_ok() as u32;
            }
            Op::Funding => {
                env.warp(3_600, 10).await;
                env.publish(&market.feed, price, 0, true, 0).await;
                let ix = update_funding_ix(&fx.key, &market);
                let out = watch.send(&mut env, &fx, &market, price, &[ix], &[]).await;
                watch.require_ok(&out, "a due funding update");
                succeeded += out.result.is_ok() as u32;
            }
            Op::MovePrice { bps } => {
                price = (price + price * bps / 10_000).max(USD as i64);
                env.warp(1, 1).await;
                env.publish(&market.feed, price, 0, true, 0).await;
            }
            Op::Attack(attack) => {
                let victims: Vec<&User> = users.iter().collect();
                watch.attack(&mut env, &fx, &market, price, &attacker, &victims, &attack).await;
            }
        }
        env.check_invariants(&fx).await;
        watch.probe(&mut env, &fx, &market, price).await;
        watch.assert_clean(&&ops[..=step]);
    }
    (succeeded, fills, watch.tally)
}

#[test]
fn random_trading_sequences_keep_the_invariants() {
    random_trading_sequences(1_000);
}

/// The long run: 10,000 sequences (`cargo test ... -- --ignored`).
#[test]
#[ignore]
fn random_trading_sequences_keep_the_invariants_long() {
    random_trading_sequences(10_000);
}

/// `cases` sequences, unless `BULWARK_PROPTEST_CASES` says otherwise.
fn random_trading_sequences(default_cases: u32) {
    let cases: u32 = std::env::var("BULWARK_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default_cases);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        rng_seed: bulwark_tests::proptest_seed(),
        ..Config::default()
    });
    let started = std::time::Instant::now();
    let totals = std::cell::Cell::new((0u32, 0u32, 0u32));
    let economics = std::cell::RefCell::new(EconomicTally::default());
    runner
        .run(&proptest::collection::vec(op(), 4..20), |ops| {
            let n = ops.len() as u32;
            let (ok, fills, tally) = runtime.block_on(run_sequence(ops));
            let (a, b, c) = totals.get();
            totals.set((a + n, b + ok, c + fills));
            economics.borrow_mut().add(&tally);
            Ok(())
        })
        .unwrap();
    let (ops, ok, fills) = totals.get();
    println!("{cases} random sequences, {ops} operations ({ok} accepted, {fills} fills) in {:.1?}", started.elapsed());
    print!("{}", economics.borrow().report());
    // The sequences must exercise the engine, not just bounce off validation.
    assert!(fills as u64 * 4 >= cases as u64, "too few fills: {fills}");
}
