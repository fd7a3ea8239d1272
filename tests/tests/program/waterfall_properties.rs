//! Random trades, price moves, funding, stakes, keeper cranks (takeover, book liquidation, ADL with
//! off-chain ranking, status updates) and an attacker's moves over four traders and the
//! attacker's hedged pair. After every step the accounting invariants hold, the economic ones
//! held around every transaction, and an honest order is still accepted; in every ADL the
//! haircuts sum to the uncovered shortfall (exactly, once the target is flat; never more
//! before), and no account without a position or with a loss pays.

use std::collections::BTreeMap;

use anchor_lang::prelude::*;
use bulwark::events::{
    AdlFillV1, AdlNomineeDeferredV1, AdlRoundClosedV1, AdlRoundOpenedV1, InsurancePayoutV1, LiquidationV1,
};
use bulwark::math::adl::shortfall;
use bulwark::math::liquidation::is_liquidatable;
use bulwark::state::*;
use bulwark_tests::economic::{attack, Attack, Attacker, EconomicState, EconomicTally, EconomicWatch};
use bulwark_tests::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use solana_signer::Signer as _;

const TRADERS: usize = 4;

#[derive(Clone, Debug)]
enum Op {
    /// Sized at `pct`% of what the poorer side's free collateral allows (10% initial margin).
    Trade {
        maker: usize,
        taker: usize,
        maker_side: u8,
        offset: i64,
        pct: u64,
    },
    MovePrice {
        bps: i64,
    },
    Stake {
        dollars: u64,
    },
    /// The keeper's pass over every account: `how` picks takeover, book or ADL first; ADL is
    /// an ADL round on every other step (`max_lots` then seeds its random nominations and price
    /// moves), the one-shot otherwise.
    Crank {
        how: u8,
        max_lots: u64,
    },
    WarpSlots {
        slots: u64,
    },
    /// An hour passes and funding is cranked (so settlements move balances inside cranks).
    Funding,
    Attack(Attack),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..TRADERS, 0..TRADERS, 0..2u8, -3..4i64, 5..95u64)
            .prop_map(|(maker, taker, maker_side, offset, pct)| Op::Trade { maker, taker, maker_side, offset, pct }),
        3 => (-2_500..2_500i64).prop_map(|bps| Op::MovePrice { bps }),
        2 => (1..1_000u64).prop_map(|dollars| Op::Stake { dollars }),
        4 => (0..3u8, prop_oneof![Just(0u64), 1..40u64]).prop_map(|(how, max_lots)| Op::Crank { how, max_lots }),
        1 => (1..150u64).prop_map(|slots| Op::WarpSlots { slots }),
        1 => Just(Op::Funding),
        2 => attack().prop_map(Op::Attack),
    ]
}

#[derive(Default, Clone, Copy)]
struct Tally {
    ops: u32,
    liquidations: u32,
    payouts: u32,
    adl_calls: u32,
    adl_fills: u32,
    adl_complete: u32,
    rounds: u32,
    rounds_closed_flat: u32,
    round_restarts: u32,
    deferred: u32,
    bad_debt_atoms: u64,
}

struct World {
    desk: Desk,
    traders: Vec<User>,
    liquidator: User,
    staker: User,
    attacker: Attacker,
    watch: EconomicWatch,
}

impl World {
    fn everyone(&self) -> Vec<&User> {
        self.traders.iter().chain([&self.liquidator, &self.attacker.long, &self.attacker.short]).collect()
    }

    /// The accounts the keeper watches: the traders and the attacker's pair.
    fn targets(&self) -> Vec<User> {
        self.traders.iter().chain([&self.attacker.long, &self.attacker.short]).map(clone_user).collect()
    }

    async fn before(&mut self) -> EconomicState {
        let price = self.desk.price;
        self.watch.before(&mut self.desk.env, &self.desk.fx, &self.desk.market, price).await
    }

    async fn after(&mut self, before: &EconomicState, out: &TxOutcome) {
        self.watch.after(&mut self.desk.env, &self.desk.fx, &self.desk.market, before, out).await;
    }

    async fn place(&mut self, user: &User, args: PlaceOrderArgs, makers: &[Pubkey]) -> TxOutcome {
        let desk = &mut self.desk;
        self.watch.place(&mut desk.env, &desk.fx, &desk.market, desk.price, user, args, makers).await
    }

    /// Per account: equity (funding settled or not, it is the same) and the position.
    async fn snapshot(&mut self) -> BTreeMap<Pubkey, (i128, i64, i64)> {
        let mut out = BTreeMap::new();
        let users: Vec<User> = self.everyone().into_iter().map(clone_user).collect();
        for user in &users {
            let equity = self.desk.health(user).await.equity;
            let p = self.desk.position(user).await;
            out.insert(user.margin_account, (equity, p.base_lots, p.quote_entry));
        }
        out
    }

    /// ADL counterparties for `target`, ranked and selected by the SDK (the program's math).
    async fn ranked_counterparties(&mut self, target: &User, target_lots: i64) -> Vec<Pubkey> {
        let market = self.desk.env.market(&self.desk.market).await;
        let prices = [bulwark_sdk::health::market_price(&market, self.desk.price)];
        let keys: Vec<Pubkey> = self.everyone().iter().map(|u| u.margin_account).collect();
        let mut accounts = Vec::new();
        for key in &keys {
            accounts.push(self.desk.env.margin(*key).await);
        }
        let ranked = bulwark_sdk::adl::rank_counterparties(
            &target.margin_account,
            target_lots,
            market.index,
            keys.iter().zip(accounts.iter()),
            &prices,
        );
        bulwark_sdk::adl::select(&ranked, target_lots.unsigned_abs())
    }

    async fn adl(&mut self, target: &User, max_lots: u64, tally: &mut Tally) {
        let target = clone_user(target);
        let p = self.desk.position(&target).await;
        if p.base_lots == 0 {
            return;
        }
        let counterparties = self.ranked_counterparties(&target, p.base_lots).await;
        let before = self.snapshot().await;
        let equity = self.desk.health(&target).await.equity;
        let expected = shortfall(equity, self.desk.insurance().await);
        let economic = self.before().await;
        let out = self.desk.adl(&target, &counterparties, max_lots).await;
        self.after(&economic, &out).await;
        if std::env::var("BULWARK_PROPTEST_DEBUG").is_ok() {
            println!("adl on {} with {}: {:?}", target.margin_account, counterparties.len(), out.custom_error());
        }
        if out.result.is_err() {
            return;
        }
        tally.adl_calls += 1;
        let fills = out.events::<AdlFillV1>();
        tally.adl_fills += fills.len() as u32;
        let total: u128 = fills.iter().map(|f| f.haircut as u128).sum();
        for f in &fills {
            assert_eq!(f.uncovered as u128, expected.uncovered, "ADL sized its shortfall differently");
            // Every payer held the opposite side, in profit, before.
            let (_, base, quote) = before[&f.counterparty];
            assert!(base != 0 && (base > 0) != (p.base_lots > 0), "payer not opposite");
            assert!(base as i128 * self.desk.price as i128 + quote as i128 > 0, "payer not in profit");
        }
        assert!(total <= expected.uncovered, "haircut {total} over the shortfall {}", expected.uncovered);
        if self.desk.position(&target).await.base_lots == 0 {
            assert_eq!(total, expected.uncovered, "complete ADL must cut exactly the shortfall");
            tally.adl_complete += 1;
        }
        // Nobody but the target and the payers moved.
        let after = self.snapshot().await;
        for (key, state) in &before {
            let paid = fills.iter().any(|f| f.counterparty == *key);
            if *key != target.margin_account && !paid {
                assert_eq!(after[key], *state, "bystander {key} changed in an ADL");
            }
        }
    }
}

/// A small deterministic stream of choices from a seed (nominations, price moves in a round).
struct Choices(u64);

impl Choices {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n.max(1)
    }
}

impl World {
    /// An ADL round on `target`, driven to its end (or a bound): random nominations (random
    /// subsets of the eligible winners, in random order, over several calls), sometimes a price
    /// move between nominating and executing (within or beyond the band), executions of the
    /// queue's head. Checks: every fill follows the queue order read before it; each payer was
    /// in profit at the round's price and paid at most that profit on the lots it closed (the
    /// economic watch, W3); when the round closes with the target flat, Σ haircut + bad debt
    /// written off == the shortfall it had to hand out.
    async fn adl_round(&mut self, target: &User, seed: u64, tally: &mut Tally) {
        let target = clone_user(target);
        if self.desk.position(&target).await.base_lots == 0 {
            return;
        }
        let mut choices = Choices(seed ^ target.margin_account.to_bytes()[0] as u64);
        let before = self.before().await;
        let out = self.desk.begin_adl(&target).await;
        self.after(&before, &out).await;
        if out.result.is_err() {
            return; // not eligible, or a round is open (a failed begin changes nothing)
        }
        tally.rounds += 1;
        let (mut haircut_before_start, mut haircut_since_start, mut uncovered_at_start) = (0u64, 0u64, 0u64);
        for opened in out.events::<AdlRoundOpenedV1>() {
            uncovered_at_start = opened.uncovered;
        }
        let bad_debt_before = self.desk.env.clearinghouse(&self.desk.fx).await.bad_debt_total;
        for _ in 0..8 {
            // Nominate: up to three calls, each a random subset of the ranked winners.
            let Some(round) = self.desk.round(&target).await else { break };
            if self.desk.env.clock().await.slot <= round.window_end_slot {
                let lots = self.desk.position(&target).await.base_lots;
                let mut ranked = self.ranked_all(&target, lots).await;
                for _ in 0..1 + choices.next(3) {
                    if ranked.is_empty() {
                        break;
                    }
                    let take = 1 + choices.next(ranked.len().min(3) as u64) as usize;
                    let mut call = Vec::new();
                    for _ in 0..take {
                        let i = choices.next(ranked.len() as u64) as usize;
                        call.push(ranked.remove(i));
                    }
                    let before = self.before().await;
                    let out = self.desk.nominate(&target, &[], &call).await;
                    self.after(&before, &out).await;
                }
            }
            // Sometimes the price moves first: within the 4% band, or past it (a restart).
            match choices.next(6) {
                0 => {
                    let bps = [-250i64, 250, -600, 600][choices.next(4) as usize];
                    let price = (self.desk.price + self.desk.price * bps / 10_000).max(5 * USD as i64);
                    self.desk.set_price(price).await;
                }
                _ => {
                    self.desk.env.warp(1, 1).await;
                    self.desk.refresh_price().await;
                }
            }
            let Some(round) = self.desk.round(&target).await else { break };
            // The queue is the global order of everyone nominated: not deferred first, then by
            // score, ties by key.
            assert!(
                round.queue().windows(2).all(|w| AdlRound::ranks_before(&w[0], &w[1])),
                "queue out of order: {:?}",
                round.queue()
            );
            let queue: Vec<Pubkey> = round.queue().iter().map(|n| n.margin_account).collect();
            let head: Vec<Pubkey> = queue.iter().take(1 + choices.next(6) as usize).copied().collect();
            let positions = self.snapshot().await;
            let before = self.before().await;
            let out = self.desk.execute_adl(&target, &[], &head).await;
            self.after(&before, &out).await;
            if out.result.is_err() {
                continue;
            }
            tally.deferred += out.events::<AdlNomineeDeferredV1>().len() as u32;
            for restarted in out.events::<AdlRoundOpenedV1>() {
                tally.round_restarts += 1;
                haircut_before_start += haircut_since_start;
                haircut_since_start = 0;
                uncovered_at_start = restarted.uncovered;
            }
            let fills = out.events::<AdlFillV1>();
            tally.adl_fills += fills.len() as u32;
            // Fills follow the queue: each payer comes later in the head than the one before.
            let places: Vec<usize> = fills
                .iter()
                .map(|f| head.iter().position(|k| *k == f.counterparty).expect("a payer from the head"))
                .collect();
            assert!(places.windows(2).all(|w| w[0] < w[1]), "fills out of queue order: {places:?}");
            for f in &fills {
                let (_, base, _) = positions[&f.counterparty];
                assert!(base != 0 && (base > 0) != (round.target_lots > 0), "payer not opposite");
                haircut_since_start += f.haircut;
            }
            if let Some(closed) = out.events::<AdlRoundClosedV1>().first() {
                if closed.reason == 0 {
                    tally.rounds_closed_flat += 1;
                    let bad_debt = self.desk.env.clearinghouse(&self.desk.fx).await.bad_debt_total - bad_debt_before;
                    tally.bad_debt_atoms += bad_debt;
                    assert_eq!(
                        haircut_before_start + haircut_since_start + bad_debt,
                        haircut_before_start + uncovered_at_start,
                        "Σ haircut + bad debt != the round's shortfall"
                    );
                    assert_eq!(closed.haircut_total, haircut_before_start + haircut_since_start);
                }
                break;
            }
        }
    }

    /// Every eligible winner against `target`, best first (the SDK's ranking).
    async fn ranked_all(&mut self, target: &User, target_lots: i64) -> Vec<Pubkey> {
        let market = self.desk.env.market(&self.desk.market).await;
        let prices = [bulwark_sdk::health::market_price(&market, self.desk.price)];
        let keys: Vec<Pubkey> = self.everyone().iter().map(|u| u.margin_account).collect();
        let mut accounts = Vec::new();
        for key in &keys {
            accounts.push(self.desk.env.margin(*key).await);
        }
        bulwark_sdk::adl::rank_counterparties(
            &target.margin_account,
            target_lots,
            market.index,
            keys.iter().zip(accounts.iter()),
            &prices,
        )
        .into_iter()
        .map(|c| c.margin_account)
        .collect()
    }
}

fn clone_user(u: &User) -> User {
    User { owner: u.owner.insecure_clone(), margin_account: u.margin_account, token_account: u.token_account }
}

async fn run_sequence(deposits: Vec<u64>, ops: Vec<Op>) -> (Tally, EconomicTally) {
    let mut tally = Tally::default();
    let mut desk = Desk::new(simple_market_params()).await;
    let mut traders = Vec::new();
    for dollars in deposits {
        traders.push(desk.user(dollars * USD).await);
    }
    let liquidator = desk.user(1_000_000 * USD).await;
    let staker = desk.user(0).await;
    let attacker = Attacker::new(&mut desk.env, &mut desk.fx, 1_500 * USD).await;
    let watch = EconomicWatch::new(&mut desk.env, &mut desk.fx).await;
    let mut w = World { desk, traders, liquidator, staker, attacker, watch };

    for (step, op) in ops.iter().enumerate() {
        tally.ops += 1;
        match op.clone() {
            Op::Trade { maker, taker, maker_side, offset, pct } => {
                if maker == taker {
                    continue;
                }
                let ticks = (w.desk.price / USD as i64 + offset).max(1) as u64;
                let (m, t) = (clone_user(&w.traders[maker]), clone_user(&w.traders[taker]));
                let free = w.desk.health(&m).await.free_collateral().min(w.desk.health(&t).await.free_collateral());
                let lots = (free * 10 * pct as i128 / 100 / w.desk.price as i128).max(1) as u64;
                let resting = order(maker_side, ORDER_TYPE_LIMIT, ticks, lots);
                if w.place(&m, resting, &[]).await.result.is_ok() {
                    let taker_side = if maker_side == SIDE_ASK { SIDE_BID } else { SIDE_ASK };
                    let book = w.desk.env.book(&w.desk.market).await;
                    let makers = makers_for(&book, taker_side, &t.margin_account);
                    let args = order(taker_side, ORDER_TYPE_IMMEDIATE_OR_CANCEL, ticks, lots);
                    let out = w.place(&t, args, &makers).await;
                    if std::env::var("BULWARK_PROPTEST_DEBUG").is_ok() {
                        println!(
                            "trade {lots}@{ticks} -> {:?} fills {}",
                            out.custom_error(),
                            out.events::<bulwark::events::FillV1>().len()
                        );
                    }
                }
            }
            Op::MovePrice { bps } => {
                let price = (w.desk.price + w.desk.price * bps / 10_000).max(5 * USD as i64);
                w.desk.set_price(price).await;
                // The deep-pocketed liquidator re-quotes 2% either side, so the book path has
                // something to fill against when the band allows.
                let mm = clone_user(&w.liquidator);
                let owner = mm.owner.insecure_clone();
                let cancel = cancel_order_ix(&owner.pubkey(), &mm.margin_account, &w.desk.market, None);
                let desk = &mut w.desk;
                w.watch.send(&mut desk.env, &desk.fx, &desk.market, price, &[cancel], &[&owner]).await;
                let ticks = (price / USD as i64) as u64;
                for (side, at) in [(SIDE_BID, ticks * 98 / 100), (SIDE_ASK, ticks * 102 / 100 + 1)] {
                    w.place(&mm, order(side, ORDER_TYPE_POST_ONLY, at.max(1), 100), &[]).await;
                }
            }
            Op::Stake { dollars } => {
                let staker = clone_user(&w.staker);
                let before = w.before().await;
                let out = w.desk.env.stake_insurance(&w.desk.fx, &staker, dollars * USD).await;
                w.after(&before, &out).await;
            }
            Op::Funding => {
                w.desk.env.warp(3_600, 10).await;
                w.desk.refresh_price().await;
                let ix = update_funding_ix(&w.desk.fx.key, &w.desk.market);
                let desk = &mut w.desk;
                let out = w.watch.send(&mut desk.env, &desk.fx, &desk.market, desk.price, &[ix], &[]).await;
                w.watch.require_ok(&out, "a due funding update");
            }
            Op::WarpSlots { slots } => {
                w.desk.env.warp(1, slots).await;
                w.desk.refresh_price().await;
            }
            Op::Crank { how, max_lots } => {
                let buffer = w.desk.env.clearinghouse(&w.desk.fx).await.waterfall.liquidation_buffer_bps;
                for (i, target) in w.targets().into_iter().enumerate() {
                    if w.desk.position(&target).await.base_lots == 0 {
                        continue;
                    }
                    let h = w.desk.health(&target).await;
                    if std::env::var("BULWARK_PROPTEST_DEBUG").is_ok() {
                        println!("health {i}: {:?} at {}", h, w.desk.price);
                    }
                    let flagged = w.desk.margin(&target).await.status_flags & ACCOUNT_FLAG_BEING_LIQUIDATED != 0;
                    if !is_liquidatable(&h, flagged, buffer).unwrap() {
                        continue;
                    }
                    let liquidator = clone_user(&w.liquidator);
                    let before = w.before().await;
                    let out = match how {
                        0 => Some(w.desk.takeover(&liquidator, &target, max_lots).await),
                        1 => {
                            let book = w.desk.env.book(&w.desk.market).await;
                            let side = if w.desk.position(&target).await.base_lots > 0 { SIDE_ASK } else { SIDE_BID };
                            let makers: Vec<User> = makers_for(&book, side, &target.margin_account)
                                .into_iter()
                                .map(|k| clone_user(w.everyone().into_iter().find(|u| u.margin_account == k).unwrap()))
                                .collect();
                            let refs: Vec<&User> = makers.iter().collect();
                            Some(w.desk.book_liquidate(&liquidator, &target, &refs).await)
                        }
                        _ => None,
                    };
                    if let Some(out) = &out {
                        w.after(&before, out).await;
                    }
                    if std::env::var("BULWARK_PROPTEST_DEBUG").is_ok() {
                        println!("crank {how} on {i}: {:?}", out.as_ref().map(|o| o.custom_error()));
                    }
                    match out {
                        Some(out) if out.result.is_ok() => {
                            tally.liquidations += out.events::<LiquidationV1>().len() as u32;
                            tally.payouts += out.events::<InsurancePayoutV1>().len() as u32;
                        }
                        _ => {
                            // Nobody took it (or ADL was asked for): start the grace clock, try ADL.
                            let before = w.before().await;
                            let out = w.desk.update_status(&target).await;
                            w.after(&before, &out).await;
                            if step % 2 == 0 {
                                w.adl_round(&target, max_lots.wrapping_add(step as u64), &mut tally).await;
                            } else {
                                w.adl(&target, max_lots, &mut tally).await;
                            }
                        }
                    }
                }
            }
            Op::Attack(attack) => {
                let victims: Vec<User> = w.traders.iter().map(clone_user).collect();
                let victims: Vec<&User> = victims.iter().collect();
                let desk = &mut w.desk;
                w.watch.attack(&mut desk.env, &desk.fx, &desk.market, desk.price, &w.attacker, &victims, &attack).await;
            }
        }
        w.desk.check().await;
        let desk = &mut w.desk;
        w.watch.probe(&mut desk.env, &desk.fx, &desk.market, desk.price).await;
        w.watch.assert_clean(&&ops[..=step]);
    }
    (tally, w.watch.tally)
}

#[test]
fn random_waterfalls_keep_the_invariants_and_cut_exactly_the_shortfall() {
    random_waterfalls(300);
}

/// The long run: 10,000 sequences (`cargo test ... -- --ignored`).
#[test]
#[ignore]
fn random_waterfalls_keep_the_invariants_and_cut_exactly_the_shortfall_long() {
    random_waterfalls(10_000);
}

/// `cases` sequences, unless `BULWARK_PROPTEST_CASES` says otherwise.
fn random_waterfalls(default_cases: u32) {
    let cases: u32 = std::env::var("BULWARK_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default_cases);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        rng_seed: bulwark_tests::proptest_seed(),
        ..Config::default()
    });
    let started = std::time::Instant::now();
    let totals = std::cell::Cell::new(Tally::default());
    let economics = std::cell::RefCell::new(EconomicTally::default());
    let strategy = (proptest::collection::vec(100..3_000u64, TRADERS), proptest::collection::vec(op(), 6..28));
    runner
        .run(&strategy, |(deposits, ops)| {
            let (t, economic) = runtime.block_on(run_sequence(deposits, ops));
            economics.borrow_mut().add(&economic);
            let mut all = totals.get();
            all.ops += t.ops;
            all.liquidations += t.liquidations;
            all.payouts += t.payouts;
            all.adl_calls += t.adl_calls;
            all.adl_fills += t.adl_fills;
            all.adl_complete += t.adl_complete;
            all.rounds += t.rounds;
            all.rounds_closed_flat += t.rounds_closed_flat;
            all.round_restarts += t.round_restarts;
            all.deferred += t.deferred;
            all.bad_debt_atoms += t.bad_debt_atoms;
            totals.set(all);
            Ok(())
        })
        .unwrap();
    let t = totals.get();
    println!(
        "{cases} random waterfalls, {} operations: {} liquidations, {} insurance payouts, {} ADL calls \
         ({} fills, {} complete closes) in {:.1?}",
        t.ops,
        t.liquidations,
        t.payouts,
        t.adl_calls,
        t.adl_fills,
        t.adl_complete,
        started.elapsed()
    );
    println!(
        "ADL rounds: {} opened, {} closed flat, {} restarts, {} deferred winners, {} atoms written off",
        t.rounds, t.rounds_closed_flat, t.round_restarts, t.deferred, t.bad_debt_atoms
    );
    print!("{}", economics.borrow().report());
    // The sequences must reach the waterfall, not just trade.
    assert!(t.liquidations * 10 >= cases, "too few liquidations: {}", t.liquidations);
    assert!(t.adl_calls * 20 >= cases, "too few ADLs: {}", t.adl_calls);
    assert!(t.rounds_closed_flat * 40 >= cases, "too few ADL rounds run to the end: {}", t.rounds_closed_flat);
}
