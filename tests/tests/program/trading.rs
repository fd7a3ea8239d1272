//! Order book, fills, fees, positions and margin: exact balances, invariants after every step.

use anchor_lang::prelude::*;
use bulwark::error::BulwarkError;
use bulwark::events::*;
use bulwark::state::*;
use bulwark_tests::*;
use solana_signer::Signer as _;

const USD: u64 = 1_000_000; // collateral atoms per dollar
const FUNDS: u64 = 10_000 * USD;

struct Venue {
    env: TestEnv,
    fx: ClearinghouseFixture,
    market: MarketFixture,
}

async fn venue(params: MarketParams) -> Venue {
    let mut env = TestEnv::new().await;
    let mut fx = env.setup_clearinghouse(ClearinghouseOptions { timelock_seconds: 0, ..Default::default() }).await;
    let market = env.setup_market(&mut fx, params, 100).await;
    Venue { env, fx, market }
}

impl Venue {
    async fn user(&mut self, deposit: u64) -> User {
        let user = self.env.create_user(&mut self.fx, FUNDS).await;
        if deposit > 0 {
            self.env.deposit(&self.fx, &user, deposit).await.ok();
        }
        user
    }

    async fn place(&mut self, user: &User, args: PlaceOrderArgs, makers: &[&User]) -> TxOutcome {
        let keys: Vec<Pubkey> = makers.iter().map(|u| u.margin_account).collect();
        let out = self.env.place(&self.fx, user, &self.market, args, &keys).await;
        self.env.check_invariants(&self.fx).await;
        out
    }

    async fn balance(&mut self, user: &User) -> u64 {
        self.env.margin(user.margin_account).await.collateral_balance
    }

    async fn position(&mut self, user: &User) -> PerpPosition {
        self.env.position(user, &self.market).await
    }
}

#[tokio::test]
async fn maker_taker_fill_with_fees_and_insurance_share() {
    let mut v = venue(simple_market_params()).await;
    let alice = v.user(FUNDS).await;
    let bob = v.user(FUNDS).await;

    let out = v.place(&alice, order(SIDE_ASK, ORDER_TYPE_LIMIT, 100, 10), &[]).await.ok();
    let placed = out.events::<OrderPlacedV1>();
    assert_eq!((placed[0].order_id, placed[0].base_lots, placed[0].price_ticks), (1, 10, 100));
    assert_eq!(v.position(&alice).await.open_ask_lots, 10);

    let out = v.place(&bob, order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 100, 10), &[&alice]).await.ok();
    let fills = out.events::<FillV1>();
    assert_eq!(fills.len(), 1);
    let fill = &fills[0];
    assert_eq!((fill.maker, fill.taker), (alice.margin_account, bob.margin_account));
    assert_eq!((fill.base_lots, fill.price_ticks, fill.quote), (10, 100, 1_000 * USD));
    assert_eq!((fill.taker_fee, fill.maker_fee), (1_000_000, -200_000)); // 10 bps; 2 bps rebate

    assert_eq!(v.balance(&bob).await, FUNDS - 1_000_000);
    assert_eq!(v.balance(&alice).await, FUNDS + 200_000);
    let (b, a) = (v.position(&bob).await, v.position(&alice).await);
    assert_eq!((b.base_lots, b.quote_entry), (10, -1_000_000_000));
    assert_eq!((a.base_lots, a.quote_entry, a.open_ask_lots, a.open_order_count), (-10, 1_000_000_000, 0, 0));
    // Net fee 800,000: half to the insurance vault, half to the fee pool.
    assert_eq!(v.env.token_balance(v.fx.insurance_vault).await, 400_000);
    let ch = v.env.clearinghouse(&v.fx).await;
    assert_eq!((ch.fee_pool, ch.insurance_balance), (400_000, 400_000));
    assert_eq!(v.env.market(&v.market).await.open_interest_long_lots, 10);

    // Bob closes at 104 (the band's top) into Alice's bid: +$40 realised for Bob, −$40 for Alice.
    v.place(&alice, order(SIDE_BID, ORDER_TYPE_POST_ONLY, 104, 10), &[]).await.ok();
    let out = v.place(&bob, order(SIDE_ASK, ORDER_TYPE_MARKET, 104, 10), &[&alice]).await.ok();
    assert_eq!(out.events::<FillV1>()[0].quote, 1_040 * USD);
    assert_eq!(v.balance(&bob).await, FUNDS - 1_000_000 + 40 * USD - 1_040_000);
    assert_eq!(v.balance(&alice).await, FUNDS + 200_000 - 40 * USD + 208_000);
    assert!(v.position(&bob).await.is_empty());
    assert!(v.position(&alice).await.is_empty());
    assert_eq!(v.env.market(&v.market).await.open_interest_long_lots, 0);
    assert_eq!(v.env.token_balance(v.fx.insurance_vault).await, 400_000 + 416_000);
}

#[tokio::test]
async fn partial_fills_across_makers_in_price_time_priority() {
    let mut v = venue(simple_market_params()).await;
    let (carol, dave, erin, bob) = (v.user(FUNDS).await, v.user(FUNDS).await, v.user(FUNDS).await, v.user(FUNDS).await);
    v.place(&carol, order(SIDE_ASK, ORDER_TYPE_LIMIT, 101, 5), &[]).await.ok();
    v.place(&dave, order(SIDE_ASK, ORDER_TYPE_LIMIT, 100, 5), &[]).await.ok();
    v.place(&erin, order(SIDE_ASK, ORDER_TYPE_LIMIT, 100, 5), &[]).await.ok();
    let asks: Vec<Pubkey> = v.env.book(&v.market).await.orders(SIDE_ASK).iter().map(|o| o.maker).collect();
    assert_eq!(asks, vec![dave.margin_account, erin.margin_account, carol.margin_account]);

    let out = v.place(&bob, order(SIDE_BID, ORDER_TYPE_LIMIT, 101, 12), &[&dave, &erin, &carol]).await.ok();
    let fills: Vec<(Pubkey, u64, u64)> =
        out.events::<FillV1>().iter().map(|f| (f.maker, f.base_lots, f.price_ticks)).collect();
    assert_eq!(
        fills,
        vec![(dave.margin_account, 5, 100), (erin.margin_account, 5, 100), (carol.margin_account, 2, 101)]
    );
    let book = v.env.book(&v.market).await;
    assert_eq!(book.orders(SIDE_ASK).len(), 1);
    assert_eq!((book.orders(SIDE_ASK)[0].maker, book.orders(SIDE_ASK)[0].base_lots), (carol.margin_account, 3));
    assert_eq!(book.orders(SIDE_BID).len(), 0, "fully filled: nothing rests");
    let b = v.position(&bob).await;
    assert_eq!((b.base_lots, b.quote_entry), (12, -(1_000 + 202) * USD as i64));
    assert_eq!(v.position(&carol).await.open_ask_lots, 3);
}

#[tokio::test]
async fn post_only_ioc_and_market_orders() {
    let mut v = venue(simple_market_params()).await;
    let (alice, bob) = (v.user(FUNDS).await, v.user(FUNDS).await);
    v.place(&alice, order(SIDE_ASK, ORDER_TYPE_LIMIT, 100, 4), &[]).await.ok();
    v.place(&bob, order(SIDE_BID, ORDER_TYPE_POST_ONLY, 100, 1), &[])
        .await
        .expect_err(BulwarkError::PostOnlyWouldCross);
    v.place(&bob, order(SIDE_BID, ORDER_TYPE_POST_ONLY, 99, 1), &[]).await.ok();

    // IOC for 10 against 4: the rest is cancelled, nothing new rests.
    let out = v.place(&bob, order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 100, 10), &[&alice]).await.ok();
    assert_eq!(out.events::<FillV1>()[0].base_lots, 4);
    let cancelled = out.events::<OrderCancelledV1>();
    assert_eq!((cancelled[0].base_lots, cancelled[0].reason), (6, CANCEL_REASON_IMMEDIATE_OR_CANCEL));
    assert_eq!(v.env.book(&v.market).await.orders(SIDE_BID).len(), 1, "only the post-only bid");

    // A market order never trades through its worst price.
    v.place(&alice, order(SIDE_ASK, ORDER_TYPE_LIMIT, 105, 3), &[]).await.ok();
    let out = v.place(&bob, order(SIDE_BID, ORDER_TYPE_MARKET, 104, 3), &[&alice]).await.ok();
    assert!(out.events::<FillV1>().is_empty());
    assert_eq!(v.position(&bob).await.base_lots, 4);

    v.place(&bob, order(SIDE_BID, ORDER_TYPE_LIMIT, 0, 1), &[]).await.expect_err(BulwarkError::InvalidOrder);
    v.place(&bob, order(SIDE_BID, ORDER_TYPE_LIMIT, 10, 0), &[]).await.expect_err(BulwarkError::InvalidOrder);
    v.place(&bob, order(7, ORDER_TYPE_LIMIT, 10, 1), &[]).await.expect_err(BulwarkError::InvalidOrder);
}

#[tokio::test]
async fn reduce_only_never_increases_or_flips() {
    let mut v = venue(simple_market_params()).await;
    let (alice, bob) = (v.user(FUNDS).await, v.user(FUNDS).await);
    let reduce =
        |side, lots| PlaceOrderArgs { reduce_only: true, ..order(side, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 100, lots) };

    v.place(&bob, reduce(SIDE_ASK, 1), &[]).await.expect_err(BulwarkError::ReduceOnlyWouldIncrease);
    v.place(&alice, order(SIDE_ASK, ORDER_TYPE_LIMIT, 100, 10), &[]).await.ok();
    v.place(&bob, order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 100, 10), &[&alice]).await.ok();
    v.place(&bob, reduce(SIDE_BID, 1), &[]).await.expect_err(BulwarkError::ReduceOnlyWouldIncrease);

    // Selling 15 reduce-only against 20 bid only closes the 10 held.
    v.place(&alice, order(SIDE_BID, ORDER_TYPE_LIMIT, 100, 20), &[]).await.ok();
    let out = v.place(&bob, reduce(SIDE_ASK, 15), &[&alice]).await.ok();
    assert_eq!(out.events::<FillV1>()[0].base_lots, 10);
    assert!(v.position(&bob).await.is_empty());
}

#[tokio::test]
async fn self_trade_cancels_the_resting_order() {
    let mut v = venue(simple_market_params()).await;
    let (alice, bob) = (v.user(FUNDS).await, v.user(FUNDS).await);
    v.place(&alice, order(SIDE_ASK, ORDER_TYPE_LIMIT, 100, 5), &[]).await.ok();
    v.place(&bob, order(SIDE_ASK, ORDER_TYPE_LIMIT, 101, 5), &[]).await.ok();
    let out = v.place(&alice, order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 101, 5), &[&bob]).await.ok();
    let cancelled = out.events::<OrderCancelledV1>();
    assert_eq!((cancelled[0].margin_account, cancelled[0].reason), (alice.margin_account, CANCEL_REASON_SELF_TRADE));
    // Then it matched Bob's order behind it.
    assert_eq!(out.events::<FillV1>()[0].maker, bob.margin_account);
    let a = v.position(&alice).await;
    assert_eq!((a.base_lots, a.open_ask_lots, a.open_order_count), (5, 0, 0));
}

#[tokio::test]
async fn matching_stops_at_the_first_maker_not_passed() {
    let mut v = venue(simple_market_params()).await;
    let (dave, erin, bob) = (v.user(FUNDS).await, v.user(FUNDS).await, v.user(FUNDS).await);
    v.place(&dave, order(SIDE_ASK, ORDER_TYPE_LIMIT, 100, 5), &[]).await.ok();
    v.place(&erin, order(SIDE_ASK, ORDER_TYPE_LIMIT, 101, 5), &[]).await.ok();
    let out = v.place(&bob, order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 101, 10), &[&dave]).await.ok();
    assert_eq!(out.events::<FillV1>().len(), 1);
    assert_eq!(out.events::<OrderCancelledV1>()[0].base_lots, 5);
    assert_eq!(v.position(&bob).await.base_lots, 5);
    // Passing the wrong maker first stops matching before any fill.
    let out = v.place(&bob, order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 101, 5), &[&dave]).await.ok();
    assert!(out.events::<FillV1>().is_empty());
    // Any other account where the maker should be (here the market itself) also just stops
    // matching: only an account whose key is the order's maker is ever loaded as one.
    let keys = [v.market.key];
    let o = bob.owner.insecure_clone();
    let ix = place_order_ix(
        &o.pubkey(),
        &v.fx,
        &bob.margin_account,
        &v.market,
        order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 101, 5),
        &keys,
    );
    let out = v.env.send(&[ix], &[&o]).await.ok();
    assert!(out.events::<FillV1>().is_empty());
    assert_eq!(v.position(&bob).await.base_lots, 5);
    assert_eq!(v.position(&erin).await.open_ask_lots, 5);
}

#[tokio::test]
async fn expired_orders_do_not_fill_and_can_be_pruned_by_anyone() {
    let mut v = venue(simple_market_params()).await;
    let (alice, carol, bob) = (v.user(FUNDS).await, v.user(FUNDS).await, v.user(FUNDS).await);
    let now = v.env.clock().await.unix_timestamp;
    let expiring =
        |side, price, lots| PlaceOrderArgs { expiry_unix: now + 60, ..order(side, ORDER_TYPE_LIMIT, price, lots) };
    v.place(&alice, PlaceOrderArgs { expiry_unix: now, ..order(SIDE_ASK, ORDER_TYPE_LIMIT, 100, 5) }, &[])
        .await
        .expect_err(BulwarkError::OrderExpired);
    v.place(&alice, expiring(SIDE_ASK, 100, 5), &[]).await.ok();
    v.place(&carol, expiring(SIDE_BID, 90, 5), &[]).await.ok();
    v.env.warp(60, 10).await;

    // Bob's buy meets only the expired ask: it is removed, nothing fills.
    let out = v.place(&bob, order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 100, 5), &[&alice]).await.ok();
    assert!(out.events::<FillV1>().is_empty());
    assert_eq!(out.events::<OrderCancelledV1>()[0].reason, CANCEL_REASON_EXPIRED);
    assert_eq!(v.position(&alice).await.open_ask_lots, 0);

    // Carol's expired bid: pruned by a crank, then nothing is left to prune.
    let out = v.env.send(&[prune_expired_orders_ix(&v.fx.key, &v.market, &[carol.margin_account])], &[]).await.ok();
    assert_eq!(out.events::<OrderCancelledV1>()[0].margin_account, carol.margin_account);
    assert!(v.position(&carol).await.is_empty());
    v.env
        .send(&[prune_expired_orders_ix(&v.fx.key, &v.market, &[carol.margin_account])], &[])
        .await
        .expect_err(BulwarkError::NothingToPrune);
    v.env.check_invariants(&v.fx).await;
}

#[tokio::test]
async fn cancel_one_and_all_orders() {
    let mut v = venue(simple_market_params()).await;
    let (alice, bob) = (v.user(FUNDS).await, v.user(FUNDS).await);
    for price in [101, 102, 103] {
        v.place(&alice, order(SIDE_ASK, ORDER_TYPE_LIMIT, price, 2), &[]).await.ok();
    }
    let a = alice.owner.insecure_clone();
    let m = bob.owner.insecure_clone();
    v.env
        .send(&[cancel_order_ix(&m.pubkey(), &alice.margin_account, &v.market, Some(2))], &[&m])
        .await
        .expect_err(BulwarkError::NotOwnerOrDelegate);
    v.env.send(&[cancel_order_ix(&a.pubkey(), &alice.margin_account, &v.market, Some(2))], &[&a]).await.ok();
    v.env
        .send(&[cancel_order_ix(&a.pubkey(), &alice.margin_account, &v.market, Some(2))], &[&a])
        .await
        .expect_err(BulwarkError::OrderNotFound);
    let p = v.position(&alice).await;
    assert_eq!((p.open_ask_lots, p.open_order_count), (4, 2));
    let out = v.env.send(&[cancel_order_ix(&a.pubkey(), &alice.margin_account, &v.market, None)], &[&a]).await.ok();
    assert_eq!(out.events::<OrderCancelledV1>().len(), 2);
    assert!(v.position(&alice).await.is_empty());
    assert_eq!(v.env.book(&v.market).await.orders(SIDE_ASK).len(), 0);
    v.env.check_invariants(&v.fx).await;
}

#[tokio::test]
async fn full_book_and_open_order_limits() {
    let mut v = venue(simple_market_params()).await;
    let (alice, bob, carol) = (v.user(FUNDS).await, v.user(FUNDS).await, v.user(FUNDS).await);
    for i in 0..16 {
        v.place(&alice, order(SIDE_ASK, ORDER_TYPE_LIMIT, 101 + i, 1), &[]).await.ok();
    }
    v.place(&alice, order(SIDE_ASK, ORDER_TYPE_LIMIT, 117, 1), &[]).await.expect_err(BulwarkError::TooManyOpenOrders);
    for i in 0..16 {
        v.place(&bob, order(SIDE_ASK, ORDER_TYPE_LIMIT, 104 + i, 1), &[]).await.ok();
    }
    // Full: an order no better than the worst (bob's at 119) is refused; a better one would
    // evict it (see the hardening tests).
    v.place(&carol, order(SIDE_ASK, ORDER_TYPE_LIMIT, 120, 1), &[]).await.expect_err(BulwarkError::OrderBookFull);
    // The other side still has room.
    v.place(&carol, order(SIDE_BID, ORDER_TYPE_LIMIT, 90, 1), &[]).await.ok();
}

#[tokio::test]
async fn initial_margin_is_checked_after_fills_and_for_resting_orders() {
    let mut v = venue(simple_market_params()).await;
    let alice = v.user(FUNDS).await;
    let bob = v.user(100 * USD).await; // $100: 10% of $1,000 notional, but the fee pushes it under
    v.place(&alice, order(SIDE_ASK, ORDER_TYPE_LIMIT, 100, 10), &[]).await.ok();
    v.place(&bob, order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 100, 10), &[&alice])
        .await
        .expect_err(BulwarkError::InitialMarginBreached);
    // A resting bid reserves margin the same way.
    v.place(&bob, order(SIDE_BID, ORDER_TYPE_LIMIT, 99, 11), &[]).await.expect_err(BulwarkError::InitialMarginBreached);
    // 9 lots: $90 requirement + $0.9 fee fits in $100.
    v.place(&bob, order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 100, 9), &[&alice]).await.ok();
    assert_eq!(v.balance(&bob).await, 100 * USD - 900_000);
    assert_eq!(v.position(&bob).await.base_lots, 9);
}

#[tokio::test]
async fn withdrawal_is_limited_by_an_open_position() {
    let mut v = venue(simple_market_params()).await;
    let alice = v.user(FUNDS).await;
    let bob = v.user(300 * USD).await;
    v.place(&alice, order(SIDE_ASK, ORDER_TYPE_LIMIT, 100, 10), &[]).await.ok();
    v.place(&bob, order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 100, 10), &[&alice]).await.ok();
    // Equity 300 − 1 (fee) = $299 at the oracle's 100; initial requirement $100: $199 is free.
    let market_accounts = [v.market.key, v.market.oracle];
    let o = bob.owner.insecure_clone();
    let withdraw = |amount| {
        let mut ix = withdraw_ix(
            &o.pubkey(),
            &v.fx.key,
            &bob.margin_account,
            &v.fx.collateral_vault,
            &bob.token_account,
            amount,
        );
        ix.accounts.extend(market_accounts.iter().map(|k| AccountMeta::new_readonly(*k, false)));
        ix
    };
    let (too_much, allowed) = (withdraw(199 * USD + 1), withdraw(199 * USD));
    v.env.send(&[too_much], &[&o]).await.expect_err(BulwarkError::InitialMarginBreached);
    v.env.withdraw(&v.fx, &bob, 1).await.expect_err(BulwarkError::MissingMarketAccount);
    v.env.send(&[allowed], &[&o]).await.ok();
    assert_eq!(v.balance(&bob).await, 100 * USD);
    v.env.check_invariants(&v.fx).await;
}

#[tokio::test]
async fn open_interest_cap() {
    let mut v = venue(MarketParams { max_open_interest_lots: 15, ..simple_market_params() }).await;
    let (alice, bob, carol) = (v.user(FUNDS).await, v.user(FUNDS).await, v.user(FUNDS).await);
    v.place(&alice, order(SIDE_ASK, ORDER_TYPE_LIMIT, 100, 30), &[]).await.ok();
    v.place(&bob, order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 100, 10), &[&alice]).await.ok();
    v.place(&carol, order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 100, 6), &[&alice])
        .await
        .expect_err(BulwarkError::OpenInterestCapExceeded);
    v.place(&carol, order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 100, 5), &[&alice]).await.ok();
    assert_eq!(v.env.market(&v.market).await.open_interest_long_lots, 15);
    // Reducing is always possible at the cap.
    v.place(&bob, order(SIDE_BID, ORDER_TYPE_LIMIT, 95, 4), &[]).await.ok();
    v.place(&carol, order(SIDE_ASK, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 95, 4), &[&bob]).await.ok();
    assert_eq!(v.env.market(&v.market).await.open_interest_long_lots, 15, "carol's 4 moved to bob");
}

#[tokio::test]
async fn market_status_gates_orders() {
    let mut v = venue(simple_market_params()).await;
    let (alice, bob) = (v.user(FUNDS).await, v.user(FUNDS).await);
    v.place(&alice, order(SIDE_ASK, ORDER_TYPE_LIMIT, 100, 10), &[]).await.ok();
    v.place(&bob, order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 100, 5), &[&alice]).await.ok();
    let g = v.fx.guardian.insecure_clone();
    let admin = v.fx.admin.insecure_clone();
    v.env
        .send(&[set_market_status_ix(&admin.pubkey(), &v.fx.key, &v.market.key, MARKET_STATUS_PAUSED)], &[&admin])
        .await
        .expect_err(BulwarkError::NotGuardian);

    v.env
        .send(&[set_market_status_ix(&g.pubkey(), &v.fx.key, &v.market.key, MARKET_STATUS_REDUCE_ONLY)], &[&g])
        .await
        .ok();
    v.place(&bob, order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 100, 1), &[&alice])
        .await
        .expect_err(BulwarkError::MarketReduceOnly);
    let reduce = PlaceOrderArgs { reduce_only: true, ..order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 100, 5) };
    v.place(&alice, reduce, &[]).await.ok(); // Alice is short 5: a reduce-only bid is fine (nothing to match)

    v.env.send(&[set_market_status_ix(&g.pubkey(), &v.fx.key, &v.market.key, MARKET_STATUS_PAUSED)], &[&g]).await.ok();
    v.place(&bob, PlaceOrderArgs { reduce_only: true, ..order(SIDE_ASK, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 100, 1) }, &[])
        .await
        .expect_err(BulwarkError::MarketNotTradable);
    // Cancelling still works while paused.
    let a = alice.owner.insecure_clone();
    v.env.send(&[cancel_order_ix(&a.pubkey(), &alice.margin_account, &v.market, None)], &[&a]).await.ok();
    v.env.send(&[set_market_status_ix(&g.pubkey(), &v.fx.key, &v.market.key, MARKET_STATUS_ACTIVE)], &[&g]).await.ok();
    v.place(&bob, order(SIDE_BID, ORDER_TYPE_LIMIT, 90, 1), &[]).await.ok();
}

#[tokio::test]
async fn listing_waits_for_the_timelock() {
    let mut env = TestEnv::new().await;
    let mut fx = env.setup_clearinghouse(ClearinghouseOptions { timelock_seconds: 86_400, ..Default::default() }).await;
    let oracle = env.create_feed(77, -6, 600).await;
    let admin = fx.admin.insecure_clone();
    let ix = create_market_ix(
        &admin.pubkey(),
        &fx.key,
        0,
        oracle_config(ORACLE_SOURCE_MANUAL, oracle.key),
        simple_market_params(),
    );
    env.send(&[ix], &[&admin]).await.ok();
    let key = market_pda(&fx.key, 0);
    fx.markets.push(key);
    env.send(&[activate_market_ix(&key)], &[]).await.expect_err(BulwarkError::TimelockNotElapsed);
    let market = MarketFixture { keys: MarketKeys::new(&fx.key, 0, oracle.key), feed: oracle };
    let bob = env.create_user(&mut fx, FUNDS).await;
    env.deposit(&fx, &bob, FUNDS).await.ok();
    env.publish(&market.feed, 100_000_000, 0, true, 0).await;
    env.place(&fx, &bob, &market, order(SIDE_BID, ORDER_TYPE_LIMIT, 90, 1), &[])
        .await
        .expect_err(BulwarkError::MarketNotActive);
    // Wrong index, bad contract sizes.
    let ix = create_market_ix(
        &admin.pubkey(),
        &fx.key,
        5,
        oracle_config(ORACLE_SOURCE_MANUAL, market.oracle),
        simple_market_params(),
    );
    env.send(&[ix], &[&admin]).await.expect_err(BulwarkError::MarketIndexMismatch);
    // 1e-6 of a unit at 1e-6 dollar ticks: 1e-6 of an atom per lot per tick.
    let bad = MarketParams { base_lot_size: 1, tick_size: 1, ..simple_market_params() };
    let ix = create_market_ix(&admin.pubkey(), &fx.key, 1, oracle_config(ORACLE_SOURCE_MANUAL, market.oracle), bad);
    env.send(&[ix], &[&admin]).await.expect_err(BulwarkError::InvalidMarketParams);

    env.warp(86_400, 10).await;
    env.send(&[activate_market_ix(&key)], &[]).await.ok();
    env.publish(&market.feed, 100_000_000, 0, true, 0).await;
    env.place(&fx, &bob, &market, order(SIDE_BID, ORDER_TYPE_LIMIT, 90, 1), &[]).await.ok();
    env.check_invariants(&fx).await;
}

#[tokio::test]
async fn funding_over_several_periods_settles_lazily() {
    let mut v = venue(simple_market_params()).await;
    let (alice, bob, carol) = (v.user(FUNDS).await, v.user(FUNDS).await, v.user(FUNDS).await);
    v.place(&alice, order(SIDE_ASK, ORDER_TYPE_LIMIT, 100, 10), &[]).await.ok();
    v.place(&bob, order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 100, 10), &[&alice]).await.ok();
    // The perp trades rich: the book is 110/112 against an oracle of 100, which the mark clamps
    // to the 4% fill band: 104.
    v.place(&carol, order(SIDE_BID, ORDER_TYPE_POST_ONLY, 110, 1), &[]).await.ok();
    v.place(&carol, order(SIDE_ASK, ORDER_TYPE_POST_ONLY, 112, 1), &[]).await.ok();
    let (alice_before, bob_before) = (v.balance(&alice).await, v.balance(&bob).await);

    let funding = update_funding_ix(&v.fx.key, &v.market);
    v.env.send(&[funding.clone()], &[]).await.expect_err(BulwarkError::FundingNotDue);
    // Sampled every 15 minutes (more often is refused); each sample weighs the time it stood.
    for _ in 0..3 {
        v.env.warp(900, 10).await;
        v.env.publish(&v.market.feed, 100_000_000, 0, true, 0).await;
        let out = v.env.send(&[funding.clone()], &[]).await.ok();
        assert_eq!(out.events::<FundingSampledV1>()[0].mark, 104 * USD as i64);
    }
    v.env.warp(900, 10).await;
    v.env.publish(&v.market.feed, 100_000_000, 0, true, 0).await;
    let out = v.env.send(&[funding.clone()], &[]).await.ok();
    let event = &out.events::<FundingUpdatedV1>()[0];
    // The mark TWAP closes a quarter of the gap to 104 at each sample: 101, 101.75, 102.3125,
    // 102.734375; a 2.7% premium, clamped to 0.5% of $100: $0.50 per lot per period.
    assert_eq!(
        (event.funding_per_lot, event.periods, event.mark_twap, event.oracle_twap),
        (500_000, 1, 102_734_375, 100 * USD as i64)
    );
    v.env.send(&[funding.clone()], &[]).await.expect_err(BulwarkError::FundingNotDue);
    v.env.check_invariants(&v.fx).await;

    // Two more periods, sampled every 15 minutes; each accrues at its end.
    let mut accrued = vec![];
    for _ in 0..8 {
        v.env.warp(900, 10).await;
        v.env.publish(&v.market.feed, 100_000_000, 0, true, 0).await;
        let out = v.env.send(&[funding.clone()], &[]).await.ok();
        accrued.extend(
            out.events::<FundingUpdatedV1>()
                .iter()
                .map(|e| (e.funding_per_lot, e.periods, e.cumulative_funding_per_lot)),
        );
    }
    assert_eq!(accrued, vec![(500_000, 1, 1_000_000), (500_000, 1, 1_500_000)]);
    // A period nobody sampled (one sample, at its end) charges nothing.
    v.env.warp(3_600, 10).await;
    v.env.publish(&v.market.feed, 100_000_000, 0, true, 0).await;
    let out = v.env.send(&[funding], &[]).await.ok();
    let event = &out.events::<FundingUpdatedV1>()[0];
    assert_eq!((event.funding_per_lot, event.periods, event.cumulative_funding_per_lot), (0, 1, 1_500_000));
    v.env.check_invariants(&v.fx).await;

    // Nothing has moved yet: settlement is lazy.
    assert_eq!((v.balance(&alice).await, v.balance(&bob).await), (alice_before, bob_before));
    // Touching the accounts settles them: the long pays 10 × $1.50, the short receives it.
    v.place(&bob, order(SIDE_BID, ORDER_TYPE_POST_ONLY, 85, 1), &[]).await.ok();
    assert_eq!(v.balance(&bob).await, bob_before - 15 * USD);
    v.place(&alice, order(SIDE_ASK, ORDER_TYPE_POST_ONLY, 115, 1), &[]).await.ok();
    assert_eq!(v.balance(&alice).await, alice_before + 15 * USD);
    assert_eq!(v.position(&bob).await.last_cumulative_funding.get(), 1_500_000);
    v.env.check_invariants(&v.fx).await;
}

#[tokio::test]
async fn market_risk_changes_follow_the_timelock_rule() {
    let mut env = TestEnv::new().await;
    let mut fx = env.setup_clearinghouse(ClearinghouseOptions { timelock_seconds: 0, ..Default::default() }).await;
    let market = env.setup_market(&mut fx, simple_market_params(), 100).await;
    let other = env.setup_market(&mut fx, simple_market_params(), 100).await;
    let admin = fx.admin.insecure_clone();
    // Give the clearinghouse a real timelock first (raising it is immediate).
    env.send(
        &[propose_param_change_ix(&admin.pubkey(), &fx.key, ParamChange::SetTimelock { seconds: 86_400 })],
        &[&admin],
    )
    .await
    .ok();
    let current = MarketRisk::of(&simple_market_params());
    let change = |risk: MarketRisk| ParamChange::SetMarketRisk { market_index: market.index, risk };

    // A higher initial margin and a lower OI cap limit only new risk: applied at once.
    let stricter = MarketRisk { initial_margin_bps: 1_200, max_open_interest_lots: 500_000, ..current };
    env.send(
        &[propose_market_param_change_ix(&admin.pubkey(), &fx.key, Some(market.key), change(stricter))],
        &[&admin],
    )
    .await
    .ok();
    let p = env.market(&market).await.params;
    assert_eq!((p.initial_margin_bps, p.maintenance_margin_bps, p.max_open_interest_lots), (1_200, 500, 500_000));

    // Looser (a higher OI cap): waits for the timelock.
    let looser = MarketRisk { max_open_interest_lots: 2_000_000, ..stricter };
    env.send(&[propose_param_change_ix(&admin.pubkey(), &fx.key, change(looser))], &[&admin])
        .await
        .expect_err(BulwarkError::MissingMarketAccount);
    env.send(&[propose_market_param_change_ix(&admin.pubkey(), &fx.key, Some(other.key), change(looser))], &[&admin])
        .await
        .expect_err(BulwarkError::MarketMismatch);
    let invalid = MarketRisk { maintenance_margin_bps: 1_300, ..stricter }; // above the initial ratio
    env.send(&[propose_market_param_change_ix(&admin.pubkey(), &fx.key, Some(market.key), change(invalid))], &[&admin])
        .await
        .expect_err(BulwarkError::InvalidMarketParams);
    env.send(&[propose_market_param_change_ix(&admin.pubkey(), &fx.key, Some(market.key), change(looser))], &[&admin])
        .await
        .ok();
    assert_eq!(env.market(&market).await.params.max_open_interest_lots, 500_000);
    env.warp(86_400, 10).await;
    env.send(&[execute_market_param_change_ix(&admin.pubkey(), &fx.key, Some(other.key))], &[&admin])
        .await
        .expect_err(BulwarkError::MarketMismatch);
    let stranger = env.funded_keypair().await;
    env.send(&[execute_market_param_change_ix(&stranger.pubkey(), &fx.key, Some(market.key))], &[&stranger]).await.ok();
    assert_eq!(env.market(&market).await.params.max_open_interest_lots, 2_000_000);
    env.check_invariants(&fx).await;
}

#[tokio::test]
async fn fills_stay_within_the_oracle_band() {
    // Oracle $100, fills within 4%: [96, 104]; orders rest within 20%: [80, 120].
    let mut v = venue(simple_market_params()).await;
    let mallory = v.user(FUNDS).await;
    let accomplice = v.user(FUNDS).await;

    // An ask at $90 rests (nothing to cross), but it is never filled: a taker reaching it
    // cancels it, so no value moves between the two accounts.
    v.place(&mallory, order(SIDE_ASK, ORDER_TYPE_LIMIT, 90, 10), &[]).await.ok();
    let out = v.place(&accomplice, order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 90, 10), &[&mallory]).await.ok();
    assert!(out.events::<FillV1>().is_empty());
    let cancelled = out.events::<OrderCancelledV1>();
    assert_eq!((cancelled[0].margin_account, cancelled[0].reason), (mallory.margin_account, CANCEL_REASON_PRICE_BAND));
    assert_eq!(v.position(&accomplice).await.base_lots, 0);
    assert_eq!(v.position(&mallory).await.open_ask_lots, 0);
    assert_eq!((v.balance(&mallory).await, v.balance(&accomplice).await), (FUNDS, FUNDS));

    // An ask at $110 is past the band: a bid up to $115 does not reach it, and may not rest
    // crossing it either.
    v.place(&mallory, order(SIDE_ASK, ORDER_TYPE_LIMIT, 110, 10), &[]).await.ok();
    v.place(&accomplice, order(SIDE_BID, ORDER_TYPE_LIMIT, 115, 10), &[&mallory])
        .await
        .expect_err(BulwarkError::RestingOrderWouldCross);
    let out = v.place(&accomplice, order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 115, 10), &[&mallory]).await.ok();
    assert!(out.events::<FillV1>().is_empty());
    let book = v.env.book(&v.market).await;
    assert_eq!(book.orders(SIDE_ASK).len(), 1, "the $110 ask waits for the price to come to it");
}

#[tokio::test]
async fn a_position_under_the_minimum_can_still_be_closed() {
    let mut v = venue(MarketParams { min_order_lots: 5, ..simple_market_params() }).await;
    let alice = v.user(FUNDS).await;
    let bob = v.user(FUNDS).await;
    v.place(&bob, order(SIDE_ASK, ORDER_TYPE_LIMIT, 100, 7), &[]).await.ok();
    v.place(&alice, order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 100, 7), &[&bob]).await.ok();
    v.place(&bob, order(SIDE_BID, ORDER_TYPE_LIMIT, 100, 20), &[]).await.ok();
    let close =
        |lots| PlaceOrderArgs { reduce_only: true, ..order(SIDE_ASK, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 100, lots) };
    v.place(&alice, close(5), &[&bob]).await.ok();
    assert_eq!(v.position(&alice).await.base_lots, 2);
    // 2 lots: too small to open, but closing the whole position is always allowed.
    v.place(&alice, order(SIDE_ASK, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 100, 2), &[&bob])
        .await
        .expect_err(BulwarkError::OrderBelowMinimumSize);
    v.place(&alice, close(2), &[&bob]).await.ok();
    assert_eq!(v.position(&alice).await.base_lots, 0);
}
