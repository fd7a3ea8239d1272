//! Attacks on the matching engine, the book, funding and the liquidation path that keep every
//! accounting invariant intact but would take money or stop the exchange. Each test first sets
//! the attack up, then shows the named error or the exact balances that close it.

use anchor_lang::prelude::*;
use bulwark::constants::MAX_ORDERS_PER_SIDE;
use bulwark::error::BulwarkError;
use bulwark::events::*;
use bulwark::state::*;
use bulwark_tests::*;
use solana_signer::Signer as _;

async fn place(desk: &mut Desk, user: &User, args: PlaceOrderArgs, makers: &[&User]) -> TxOutcome {
    let keys: Vec<Pubkey> = makers.iter().map(|u| u.margin_account).collect();
    let out = desk.env.place(&desk.fx, user, &desk.market, args, &keys).await;
    desk.check().await;
    out
}

fn reduce_only(mut args: PlaceOrderArgs) -> PlaceOrderArgs {
    args.reduce_only = true;
    args
}

/// Alice buys 100 lots at $100 with $1,100 deposited ($1,090 after the taker fee).
async fn alice_long(desk: &mut Desk) -> (User, User) {
    let mm = desk.user(100_000 * USD).await;
    let alice = desk.user(1_100 * USD).await;
    desk.trade(&mm, &alice, SIDE_ASK, 100, 100).await;
    assert_eq!(desk.balance(&alice).await, 1_090 * USD);
    (mm, alice)
}

#[tokio::test]
async fn a_reduce_only_close_into_a_friendly_bid_cannot_bankrupt_the_closer() {
    let mut desk = Desk::new(simple_market_params()).await;
    let (_mm, alice) = alice_long(&mut desk).await;
    let friend = desk.user(10_000 * USD).await;
    // $92.5: equity 1,090 − 750 = $340 under maintenance $462.5. The friend bids at the fill
    // band's floor (92.5 × 0.96 = 88.8 → 89 ticks): selling 100 there realises −$1,100 and a
    // $8.90 fee, leaving Alice flat at −$18.90 for the insurance vault to pay.
    desk.set_price(92_500_000).await;
    place(&mut desk, &friend, order(SIDE_BID, ORDER_TYPE_POST_ONLY, 89, 100), &[]).await.ok();
    let insurance = desk.insurance().await;
    let out = place(&mut desk, &alice, reduce_only(order(SIDE_ASK, ORDER_TYPE_MARKET, 89, 100)), &[&friend]).await;
    out.expect_err(BulwarkError::FillBreachesMargin);
    // A partial close there lowers her equity/maintenance ratio (340/462.5 → 160.55/231.25):
    // refused too.
    place(&mut desk, &alice, reduce_only(order(SIDE_ASK, ORDER_TYPE_MARKET, 89, 50)), &[&friend])
        .await
        .expect_err(BulwarkError::FillBreachesMargin);
    assert_eq!((desk.balance(&alice).await, desk.position(&alice).await.base_lots), (1_090 * USD, 100));
    assert_eq!(desk.insurance().await, insurance);

    // Exits at a fair price stay open: the friend bids $92; closing all there leaves $280.80.
    place(&mut desk, &friend, order(SIDE_BID, ORDER_TYPE_POST_ONLY, 92, 100), &[]).await.ok();
    place(&mut desk, &alice, reduce_only(order(SIDE_ASK, ORDER_TYPE_MARKET, 92, 100)), &[&friend]).await.ok();
    assert_eq!(desk.position(&alice).await.base_lots, 0);
    assert_eq!(desk.balance(&alice).await, 1_090 * USD - 800 * USD - 9_200_000);
    // Fees: $9.20 taker, $1.84 maker rebate; half the net $7.36 to insurance.
    assert_eq!(desk.insurance().await, insurance + 3_680_000);
}

#[tokio::test]
async fn a_maker_loses_its_order_not_the_insurance_vault() {
    let mut desk = Desk::new(simple_market_params()).await;
    let (_mm, alice) = alice_long(&mut desk).await;
    let friend = desk.user(10_000 * USD).await;
    desk.set_price(92_500_000).await;
    // Alice rests a reduce-only ask at the band's floor: resting it changes nothing.
    let out = place(&mut desk, &alice, reduce_only(order(SIDE_ASK, ORDER_TYPE_LIMIT, 89, 100)), &[]).await.ok();
    let order_id = out.events::<OrderPlacedV1>()[0].order_id;
    let insurance = desk.insurance().await;
    // The friend takes it: the fill would leave Alice at −$18.90, so her order goes instead.
    let out = place(&mut desk, &friend, order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 89, 100), &[&alice]).await.ok();
    assert!(out.events::<FillV1>().is_empty());
    let cancels = out.events::<OrderCancelledV1>();
    assert_eq!((cancels[0].order_id, cancels[0].reason), (order_id, CANCEL_REASON_MAKER_MARGIN));
    assert_eq!((desk.balance(&alice).await, desk.position(&alice).await.base_lots), (1_090 * USD, 100));
    assert_eq!(desk.position(&alice).await.open_ask_lots, 0);
    assert_eq!(desk.position(&friend).await.base_lots, 0);
    assert_eq!(desk.insurance().await, insurance);
}

#[tokio::test]
async fn far_orders_cannot_rest_or_overflow_the_mark() {
    let mut desk = Desk::new(simple_market_params()).await;
    let maker = desk.user(10_000 * USD).await;
    // The attack: a one-lot ask at ~2×10¹³ ticks plus any bid overflowed every mark.
    place(&mut desk, &maker, order(SIDE_ASK, ORDER_TYPE_LIMIT, 20_000_000_000_000, 1), &[])
        .await
        .expect_err(BulwarkError::OrderPriceOutOfBand);
    // The resting band is 5 × the 4% fill band around the $100 oracle: 80 to 120.
    place(&mut desk, &maker, order(SIDE_ASK, ORDER_TYPE_LIMIT, 121, 1), &[])
        .await
        .expect_err(BulwarkError::OrderPriceOutOfBand);
    place(&mut desk, &maker, order(SIDE_BID, ORDER_TYPE_LIMIT, 79, 1), &[])
        .await
        .expect_err(BulwarkError::OrderPriceOutOfBand);
    place(&mut desk, &maker, order(SIDE_ASK, ORDER_TYPE_LIMIT, 120, 1), &[]).await.ok();
    place(&mut desk, &maker, order(SIDE_BID, ORDER_TYPE_LIMIT, 82, 1), &[]).await.ok();
    // The mark clamps both sides to the fill band (96..104): (96 + 104) / 2 = $100, not $101.
    desk.env.warp(900, 10).await;
    desk.refresh_price().await;
    let out = desk.env.send(&[update_funding_ix(&desk.fx.key, &desk.market)], &[]).await.ok();
    let sampled = &out.events::<FundingSampledV1>()[0];
    assert_eq!((sampled.oracle_price, sampled.mark), (100 * USD as i64, 100 * USD as i64));
    // Reduce-only exits and funding keep working whatever rests.
    desk.check().await;
}

#[tokio::test]
async fn a_full_side_evicts_its_worst_order_for_a_better_one() {
    let mut desk = Desk::new(simple_market_params()).await;
    let jammers = [desk.user(10_000 * USD).await, desk.user(10_000 * USD).await];
    // The attack: two accounts fill the ask side with 32 one-lot orders at the band's edge.
    for i in 0..MAX_ORDERS_PER_SIDE {
        place(&mut desk, &jammers[i % 2], order(SIDE_ASK, ORDER_TYPE_LIMIT, 120, 1), &[]).await.ok();
    }
    assert_eq!(desk.env.book(&desk.market).await.ask_count as usize, MAX_ORDERS_PER_SIDE);
    let honest = desk.user(10_000 * USD).await;
    // No better than the worst: refused.
    place(&mut desk, &honest, order(SIDE_ASK, ORDER_TYPE_LIMIT, 120, 5), &[])
        .await
        .expect_err(BulwarkError::OrderBookFull);
    // Better: the youngest order at 120 (jammer 1's) is evicted.
    let out = place(&mut desk, &honest, order(SIDE_ASK, ORDER_TYPE_LIMIT, 101, 5), &[]).await.ok();
    let evicted = &out.events::<OrderCancelledV1>()[0];
    assert_eq!(
        (evicted.margin_account, evicted.reason, evicted.order_id),
        (jammers[1].margin_account, CANCEL_REASON_EVICTED, 32)
    );
    let book = desk.env.book(&desk.market).await;
    assert_eq!((book.ask_count as usize, book.best_price(SIDE_ASK)), (MAX_ORDERS_PER_SIDE, Some(101)));
    // The jammer's reserve is recounted at its next touch of the market.
    assert_eq!(desk.position(&jammers[1]).await.open_ask_lots, 16);
    let owner = jammers[1].owner.insecure_clone();
    let cancel = cancel_order_ix(&owner.pubkey(), &jammers[1].margin_account, &desk.market, Some(2));
    desk.env.send(&[cancel], &[&owner]).await.ok();
    let p = desk.position(&jammers[1]).await;
    assert_eq!((p.open_ask_lots, p.open_order_count), (14, 14));
    desk.check().await;
}

#[tokio::test]
async fn stale_orders_at_the_top_cannot_stop_a_book_liquidation() {
    let mut desk = Desk::new(simple_market_params()).await;
    let (_mm, alice) = alice_long(&mut desk).await;
    let jammer = desk.user(10_000 * USD).await;
    let bidder = desk.user(10_000 * USD).await;
    let cranker = desk.user(0).await;
    desk.set_price(93_500_000).await;
    // Ten one-lot bids at the top that expire in a minute, then real depth below them.
    let expiry = desk.env.clock().await.unix_timestamp + 60;
    for _ in 0..10 {
        let args = PlaceOrderArgs { expiry_unix: expiry, ..order(SIDE_BID, ORDER_TYPE_LIMIT, 93, 1) };
        place(&mut desk, &jammer, args, &[]).await.ok();
    }
    place(&mut desk, &bidder, order(SIDE_BID, ORDER_TYPE_POST_ONLY, 92, 100), &[]).await.ok();
    desk.env.warp(61, 2).await;
    desk.refresh_price().await;
    let out = desk.book_liquidate(&cranker, &alice, &[&jammer, &bidder]).await.ok();
    let expired = out.events::<OrderCancelledV1>().iter().filter(|c| c.reason == CANCEL_REASON_EXPIRED).count();
    assert_eq!(expired, 10);
    let filled: u64 = out.events::<FillV1>().iter().map(|f| f.base_lots).sum();
    assert!(filled > 0, "the real bid below the stale ones is reached");
    assert_eq!(desk.position(&bidder).await.base_lots, filled as i64);
}

#[tokio::test]
async fn orders_the_price_left_behind_can_be_pruned_by_anyone() {
    let mut desk = Desk::new(simple_market_params()).await;
    let maker = desk.user(10_000 * USD).await;
    place(&mut desk, &maker, order(SIDE_ASK, ORDER_TYPE_LIMIT, 119, 1), &[]).await.ok();
    place(&mut desk, &maker, order(SIDE_ASK, ORDER_TYPE_LIMIT, 104, 1), &[]).await.ok();
    let prune = prune_expired_orders_ix(&desk.fx.key, &desk.market, &[maker.margin_account]);
    desk.env.send(&[prune.clone()], &[]).await.expect_err(BulwarkError::NothingToPrune);
    // The price falls to $90 and the TWAP follows (samples 15 minutes apart): 119 is now more
    // than 20% over it, 104 is not.
    desk.set_price(90_000_000).await;
    for _ in 0..2 {
        desk.env.send(&[update_funding_ix(&desk.fx.key, &desk.market)], &[]).await.ok();
        desk.env.warp(900, 10).await;
        desk.refresh_price().await;
    }
    let twap = desk.env.market(&desk.market).await.oracle_twap;
    assert_eq!(twap, 97_500_000);
    // A fresh bid at the new price's band ($75) is outside the lagging TWAP's band (78..117)
    // but inside the last oracle price's (72..108): it stays; the $119 ask is outside both.
    place(&mut desk, &maker, order(SIDE_BID, ORDER_TYPE_LIMIT, 75, 1), &[]).await.ok();
    let out = desk.env.send(&[prune.clone()], &[]).await.ok();
    let pruned = out.events::<OrderCancelledV1>();
    assert_eq!(pruned.len(), 1);
    assert_eq!((pruned[0].reason, pruned[0].side), (CANCEL_REASON_OUT_OF_BAND, SIDE_ASK));
    let book = desk.env.book(&desk.market).await;
    assert_eq!((book.ask_count, book.best_price(SIDE_ASK)), (1, Some(104)));
    assert_eq!((book.bid_count, book.best_price(SIDE_BID)), (1, Some(75)));
    assert_eq!(desk.position(&maker).await.open_ask_lots, 1);
    desk.check().await;
}

#[tokio::test]
async fn a_book_liquidation_is_sized_for_the_worst_price_in_its_band() {
    let mut desk = Desk::new(simple_market_params()).await;
    let (_mm, alice) = alice_long(&mut desk).await;
    let bidder = desk.user(10_000 * USD).await;
    let cranker = desk.user(0).await;
    // $93.5: equity $440 under maintenance $467.5. The only bid is at the book band's floor
    // (93.5 × 0.98 = 91.63 → 92 ticks).
    desk.set_price(93_500_000).await;
    place(&mut desk, &bidder, order(SIDE_BID, ORDER_TYPE_POST_ONLY, 92, 100), &[]).await.ok();
    let out = desk.book_liquidate(&cranker, &alice, &[&bidder]).await.ok();
    let liq = &out.events::<LiquidationV1>()[0];
    // Sized for a 2% + 2.5% + 0.1% cost per unit closed, one crank restores the buffer (sized
    // at the oracle it sold 27 lots and left her further below it than before).
    assert!(!liq.still_liquidating, "equity after {}", liq.equity_after);
    assert_eq!(liq.base_lots, -BOOK_SIZED_LOTS);
    let h = desk.health(&alice).await;
    assert!(h.equity * 10_000 >= h.maintenance_requirement * 11_000);
}

#[tokio::test]
async fn a_book_liquidation_never_fills_where_it_would_make_a_deficit() {
    let mut desk = Desk::new(simple_market_params()).await;
    let (_mm, alice) = alice_long(&mut desk).await;
    let sibling = desk.user(10_000 * USD).await;
    let cranker = desk.user(0).await;
    // $90.5: equity $140 on a $9,050 position. Her sibling bids at the book band's floor
    // (90.5 × 0.98 = 88.69 → 89): closing all 100 lots there loses $150 and a $8.90 taker fee,
    // $18.90 more than she has, for the insurance vault to pay and the sibling to keep.
    desk.set_price(90_500_000).await;
    place(&mut desk, &sibling, order(SIDE_BID, ORDER_TYPE_POST_ONLY, 89, 100), &[]).await.ok();
    let insurance = desk.insurance().await;
    desk.book_liquidate(&cranker, &alice, &[&sibling]).await.expect_err(BulwarkError::NoLiquidityInBand);
    assert_eq!((desk.balance(&alice).await, desk.position(&alice).await.base_lots), (1_090 * USD, 100));
    assert_eq!(desk.insurance().await, insurance);
    // A bid at 90 leaves no deficit: −$1,000 realised, $9 taker fee, and the $225 liquidation
    // fee capped at the $81 left: she ends flat at exactly zero; insurance pays nothing.
    place(&mut desk, &sibling, order(SIDE_BID, ORDER_TYPE_POST_ONLY, 90, 100), &[]).await.ok();
    let out = desk.book_liquidate(&cranker, &alice, &[&sibling]).await.ok();
    assert!(out.events::<InsurancePayoutV1>().is_empty());
    let liq = &out.events::<LiquidationV1>()[0];
    assert_eq!(
        (liq.base_lots, liq.fee, liq.liquidator_reward, liq.insurance_fee),
        (-100, 81 * USD, 10 * USD, 71 * USD)
    );
    assert_eq!((desk.balance(&alice).await, desk.position(&alice).await.base_lots), (0, 0));
}

#[tokio::test]
async fn a_mark_steered_just_before_funding_weighs_nothing() {
    let mut desk = Desk::new(simple_market_params()).await;
    let (_mm, _alice) = alice_long(&mut desk).await;
    let steerer = desk.user(10_000 * USD).await;
    let funding = update_funding_ix(&desk.fx.key, &desk.market);
    // The keeper samples the (empty, so oracle-priced) book every 15 minutes.
    for _ in 0..3 {
        desk.env.warp(900, 10).await;
        desk.refresh_price().await;
        let out = desk.env.send(&[funding.clone()], &[]).await.ok();
        assert_eq!(out.events::<FundingSampledV1>()[0].mark, 100 * USD as i64);
    }
    // Sampling faster than that is refused.
    desk.env.send(&[funding.clone()], &[]).await.expect_err(BulwarkError::FundingNotDue);
    // The attack: one second before funding accrues, a two-sided book at 103/104 (its mid
    // rounds down to the $103 tick).
    desk.env.warp(899, 10).await;
    desk.refresh_price().await;
    place(&mut desk, &steerer, order(SIDE_BID, ORDER_TYPE_POST_ONLY, 103, 1), &[]).await.ok();
    place(&mut desk, &steerer, order(SIDE_ASK, ORDER_TYPE_POST_ONLY, 104, 1), &[]).await.ok();
    desk.env.warp(1, 2).await;
    desk.refresh_price().await;
    let out = desk.env.send(&[funding], &[]).await.ok();
    let event = &out.events::<FundingUpdatedV1>()[0];
    // It stood for one second of the hour: $3 × 1/3600 (sampled at accrual and weighted by the
    // whole period, as before, it charged the clamp: $0.50 a lot).
    assert_eq!((event.mark_twap, event.oracle_twap), (100_000_833, 100_000_000));
    assert_eq!((event.funding_per_lot, event.periods), (833, 1));
}

/// Lots the program closes in `a_book_liquidation_is_sized_for_the_worst_price_in_its_band`.
const BOOK_SIZED_LOTS: i64 = 89;

#[tokio::test]
async fn a_bankrupt_takeover_pays_the_liquidator_nothing_from_insurance() {
    let mut desk = Desk::new(simple_market_params()).await;
    let (_mm, alice) = alice_long(&mut desk).await;
    let liquidator = desk.user(2_000 * USD).await;
    // $89: equity 1,090 − 1,100 = −$10. Insurance holds the $4 fee share plus $100 staked.
    let staker = desk.user(0).await;
    desk.env.stake_insurance(&desk.fx, &staker, 100 * USD).await.ok();
    desk.set_price(89_000_000).await;
    let insurance = desk.insurance().await;
    let out = desk.takeover(&liquidator, &alice, 0).await.ok();
    let liq = &out.events::<LiquidationV1>()[0];
    // Before: a 2.5% fee on $8,900 ($222.50) deepened the deficit, half of it to the liquidator.
    assert_eq!((liq.base_lots, liq.fee, liq.liquidator_reward, liq.insurance_fee), (-100, 0, 0, 0));
    assert_eq!(desk.insurance().await, insurance - 10 * USD);
    assert_eq!(desk.balance(&liquidator).await, 2_000 * USD);
    assert_eq!((desk.balance(&alice).await, desk.position(&alice).await.base_lots), (0, 0));
}

#[tokio::test]
async fn a_deposit_does_not_restart_the_adl_grace_clock_and_stale_sightings_do() {
    let mut desk = Desk::new(simple_market_params()).await;
    let (_mm, alice) = alice_long(&mut desk).await;
    desk.set_price(93_500_000).await;
    desk.update_status(&alice).await.ok();
    let since = desk.margin(&alice).await.liquidatable_since_slot;
    assert!(since > 0);
    // The attack: a one-atom deposit used to zero the clock every grace period.
    desk.env.warp(1, 5).await;
    desk.env.deposit(&desk.fx, &alice, 1).await.ok();
    assert_eq!(desk.margin(&alice).await.liquidatable_since_slot, since);
    // Seen again within the grace period: the clock keeps running from `since`.
    desk.env.warp(1, 50).await;
    desk.refresh_price().await;
    desk.update_status(&alice).await.ok();
    let m = desk.margin(&alice).await;
    assert_eq!(m.liquidatable_since_slot, since);
    let seen = m.liquidatable_seen_slot;
    assert_eq!(seen, since + 55);
    // Nobody looks for longer than the grace period (it may have recovered meanwhile): the
    // next sighting restarts the clock.
    desk.env.warp(1, 101).await;
    desk.refresh_price().await;
    desk.update_status(&alice).await.ok();
    let m = desk.margin(&alice).await;
    assert_eq!((m.liquidatable_since_slot, m.liquidatable_seen_slot), (seen + 101, seen + 101));
    // Seen healthy: the clock clears.
    desk.env.deposit(&desk.fx, &alice, 1_000 * USD).await.ok();
    desk.update_status(&alice).await.ok();
    let m = desk.margin(&alice).await;
    assert_eq!((m.liquidatable_since_slot, m.liquidatable_seen_slot, m.status_flags), (0, 0, 0));
}

#[tokio::test]
async fn a_maker_whose_other_market_cannot_be_priced_loses_its_order_not_the_book() {
    let mut env = TestEnv::new().await;
    let mut fx = env.setup_clearinghouse(ClearinghouseOptions { timelock_seconds: 0, ..Default::default() }).await;
    let x = env.setup_market(&mut fx, simple_market_params(), 100).await;
    let y = env.setup_market(&mut fx, simple_market_params(), 100).await;
    let maker = funded(&mut env, &mut fx).await;
    let y_seller = funded(&mut env, &mut fx).await;
    let honest = funded(&mut env, &mut fx).await;
    let taker = funded(&mut env, &mut fx).await;
    // The maker holds a lot of market Y, then quotes market X at the top of its book.
    env.place(&fx, &y_seller, &y, order(SIDE_ASK, ORDER_TYPE_LIMIT, 100, 1), &[]).await.ok();
    env.place(&fx, &maker, &y, order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 100, 1), &[y_seller.margin_account])
        .await
        .ok();
    env.place(&fx, &maker, &x, order(SIDE_ASK, ORDER_TYPE_LIMIT, 100, 5), &[y.key, y.oracle]).await.ok();
    env.place(&fx, &honest, &x, order(SIDE_ASK, ORDER_TYPE_LIMIT, 101, 5), &[]).await.ok();
    // Y's feed dies: more than ten staleness limits (10 × 60 s) without a price.
    env.warp(700, 20).await;
    env.publish(&x.feed, 100_000_000, 0, true, 0).await;
    // The attack this closes: the maker's order could not be margin-checked, so every taker's
    // matching stopped there (or failed on Y's stale feed) and market X was frozen for free.
    let remaining = [y.key, y.oracle, maker.margin_account, honest.margin_account];
    let out =
        env.place(&fx, &taker, &x, order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 101, 10), &remaining).await.ok();
    let cancelled = out.events::<OrderCancelledV1>();
    assert_eq!((cancelled[0].margin_account, cancelled[0].reason), (maker.margin_account, CANCEL_REASON_MAKER_MARGIN));
    let fills = out.events::<FillV1>();
    assert_eq!(fills.len(), 1);
    assert_eq!((fills[0].maker, fills[0].price_ticks, fills[0].base_lots), (honest.margin_account, 101, 5));
    assert_eq!(env.position(&maker, &x).await.open_ask_lots, 0);
    env.check_invariants(&fx).await;
}

async fn funded(env: &mut TestEnv, fx: &mut ClearinghouseFixture) -> User {
    let user = env.create_user(fx, 100_000 * USD).await;
    env.deposit(fx, &user, 10_000 * USD).await.ok();
    user
}

#[tokio::test]
async fn a_delegate_cannot_trade_its_owner_at_a_price_worse_than_the_oracle() {
    let mut desk = Desk::new(simple_market_params()).await;
    let owner = desk.user(10_000 * USD).await;
    let delegate_account = desk.user(10_000 * USD).await;
    // The owner names a delegate, which also runs an account of its own.
    let delegate = delegate_account.owner.insecure_clone();
    let signer = owner.owner.insecure_clone();
    let ix = set_delegate_ix(&signer.pubkey(), &owner.margin_account, delegate.pubkey());
    desk.env.send(&[ix], &[&signer]).await.ok();
    // The attack: its own account asks at the fill band's top ($104), and it buys for the
    // owner there, then bids at the bottom ($96) and sells the owner's lots into it: 8% of the
    // notional per round trip from the owner to itself, every fill inside the owner's margin.
    place(&mut desk, &delegate_account, order(SIDE_ASK, ORDER_TYPE_POST_ONLY, 104, 10), &[]).await.ok();
    let buy = order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 104, 10);
    let ix = place_order_ix(
        &delegate.pubkey(),
        &desk.fx,
        &owner.margin_account,
        &desk.market,
        buy,
        &[delegate_account.margin_account],
    );
    let out = desk.env.send(&[ix], &[&delegate]).await.ok();
    // Its limit stops at the $100 oracle: nothing fills.
    assert!(out.events::<FillV1>().is_empty());
    assert_eq!((desk.balance(&owner).await, desk.position(&owner).await.base_lots), (10_000 * USD, 0));
    // A resting order it places for the owner rests no worse than the oracle either ...
    let bid = order(SIDE_BID, ORDER_TYPE_LIMIT, 103, 5);
    let ix = place_order_ix(&delegate.pubkey(), &desk.fx, &owner.margin_account, &desk.market, bid, &[]);
    let out = desk.env.send(&[ix], &[&delegate]).await.ok();
    assert_eq!(out.events::<OrderPlacedV1>()[0].price_ticks, 100);
    // ... and if the oracle moves below it, it is cancelled when reached, not filled.
    desk.set_price(98_000_000).await;
    let sell = order(SIDE_ASK, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 96, 5);
    let out = place(&mut desk, &delegate_account, sell, &[&owner]).await.ok();
    assert!(out.events::<FillV1>().is_empty());
    assert_eq!(out.events::<OrderCancelledV1>()[0].reason, CANCEL_REASON_DELEGATE_PRICE);
    assert_eq!((desk.balance(&owner).await, desk.position(&owner).await.base_lots), (10_000 * USD, 0));
    // The owner itself prices its orders as it likes within the bands.
    let out = place(&mut desk, &owner, order(SIDE_BID, ORDER_TYPE_LIMIT, 99, 5), &[]).await.ok();
    assert_eq!(out.events::<OrderPlacedV1>()[0].price_ticks, 99);
}

#[tokio::test]
async fn orders_their_makers_margin_refuses_are_cleared_over_calls_and_block_nothing() {
    // Each such order costs the matching a valuation of its maker's whole account; behind a
    // wall of them an order, or a book liquidation, used to run out of compute in every call,
    // so nothing was ever removed. Now a call stops after `MAX_MARGIN_REFUSALS_PER_ORDER` and
    // keeps its removals.
    use bulwark::constants::MAX_MARGIN_REFUSALS_PER_ORDER;
    let mut desk = Desk::new(simple_market_params()).await;
    let (mm, alice) = alice_long(&mut desk).await;
    let friend = desk.user(10_000 * USD).await;
    desk.set_price(92_500_000).await;
    // The wall: five one-lot reduce-only asks at $89 that Alice's margin will refuse to fill
    // (each would lower her equity/maintenance ratio), in front of a real ask at $90.
    for _ in 0..5 {
        place(&mut desk, &alice, reduce_only(order(SIDE_ASK, ORDER_TYPE_LIMIT, 89, 1)), &[]).await.ok();
    }
    place(&mut desk, &mm, order(SIDE_ASK, ORDER_TYPE_POST_ONLY, 90, 10), &[]).await.ok();

    // A limit bid at $90 for 5 lots: three refusals, then the matching stops with the bid still
    // crossing Alice's last two asks. It is neither rested nor refused: the removals stand.
    let bid = order(SIDE_BID, ORDER_TYPE_LIMIT, 90, 5);
    let out = place(&mut desk, &friend, bid, &[&alice, &mm]).await.ok();
    let reasons: Vec<u8> = out.events::<OrderCancelledV1>().iter().map(|c| c.reason).collect();
    let mut expected = vec![CANCEL_REASON_MAKER_MARGIN; MAX_MARGIN_REFUSALS_PER_ORDER];
    expected.push(CANCEL_REASON_MATCH_BUDGET);
    assert_eq!(reasons, expected);
    assert_eq!(out.events::<OrderCancelledV1>().last().unwrap().base_lots, 5);
    assert!(out.events::<FillV1>().is_empty() && out.events::<OrderPlacedV1>().is_empty());
    assert_eq!(desk.position(&alice).await.open_ask_lots, 5 - MAX_MARGIN_REFUSALS_PER_ORDER as i64);
    assert_eq!(desk.position(&friend).await.open_bid_lots, 0);

    // The same order again gets through the rest of the wall to the real ask.
    let out = place(&mut desk, &friend, bid, &[&alice, &mm]).await.ok();
    let refused = out.events::<OrderCancelledV1>().iter().filter(|c| c.reason == CANCEL_REASON_MAKER_MARGIN).count();
    assert_eq!(refused, 5 - MAX_MARGIN_REFUSALS_PER_ORDER);
    let fills = out.events::<FillV1>();
    assert_eq!((fills.len(), fills[0].maker, fills[0].price_ticks, fills[0].base_lots), (1, mm.margin_account, 90, 5));
    assert_eq!(desk.position(&friend).await.base_lots, 5);
    assert_eq!((desk.position(&alice).await.base_lots, desk.position(&alice).await.open_ask_lots), (100, 0));
}
