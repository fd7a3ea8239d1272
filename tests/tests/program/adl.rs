//! Auto-deleveraging: exactly the uncovered shortfall, from the right counterparties, in the
//! right order. Exact balances; invariants after every step (the `Desk` helpers check).

use anchor_lang::prelude::*;
use bulwark::error::BulwarkError;
use bulwark::events::*;
use bulwark::math::perp::bankruptcy_price;
use bulwark::state::*;
use bulwark_tests::*;

/// The score the program computes, by the SDK (which calls the program's math).
async fn score(desk: &mut Desk, user: &User) -> u128 {
    let market = desk.env.market(&desk.market).await;
    let account = desk.margin(user).await;
    let prices = [bulwark_sdk::health::market_price(&market, desk.price)];
    bulwark_sdk::adl::score(&account, market.index, &prices).expect("an eligible counterparty")
}

#[tokio::test]
async fn adl_with_insurance_partly_short_cuts_exactly_the_uncovered_shortfall() {
    let mut desk = Desk::new(simple_market_params()).await;
    let (alice, bob, carol) = desk.two_shorts().await;

    // Healthy: no ADL.
    desk.adl(&alice, &[bob.margin_account], 0).await.expect_err(BulwarkError::AdlTargetHealthy);

    // $85: Alice's equity 1,089.96 + 8,500 − 10,040 = −$450.04; insurance holds $204.016,
    // so U = $246.024 must come from the shorts.
    desk.set_price(85_000_000).await;
    assert_eq!(desk.health(&alice).await.equity, -450_040_000);
    let (bob_score, carol_score) = (score(&mut desk, &bob).await, score(&mut desk, &carol).await);
    // Bob: +15% on $6,000 at 1.76x; Carol: +15.8% on $4,040 at 1.29x.
    assert_eq!((bob_score, carol_score), (263_683, 203_956));

    // Out of order, twice the same, or the target itself: refused, nothing moves.
    let (a, b, c) = (alice.margin_account, bob.margin_account, carol.margin_account);
    desk.adl(&alice, &[c, b], 0).await.expect_err(BulwarkError::AdlCounterpartyOutOfOrder);
    desk.adl(&alice, &[b, b], 0).await.expect_err(BulwarkError::DuplicateAccount);
    desk.adl(&alice, &[a, b], 0).await.expect_err(BulwarkError::DuplicateAccount);
    desk.adl(&alice, &[b, c, b, c, b, c, b], 0).await.expect_err(BulwarkError::TooManyAdlCounterparties);
    assert_eq!(desk.position(&alice).await.base_lots, 100);

    let out = desk.adl(&alice, &[b, c], 0).await.ok();
    let fills = out.events::<AdlFillV1>();
    assert_eq!(fills.len(), 2);
    for f in &fills {
        assert_eq!((f.deficit, f.insurance_pays, f.uncovered), (450_040_000, 204_016_000, 246_024_000));
        assert_eq!((f.target, f.oracle_price), (a, 85_000_000));
    }
    // Bob: 60 of 100 lots, haircut ⌊246.024 × 60/100⌋; Carol the rest, to the atom.
    assert_eq!((fills[0].counterparty, fills[0].base_lots, fills[0].score), (b, -60, bob_score));
    assert_eq!((fills[0].haircut, fills[0].quote), (147_614_400, 5_100_000_000 + 147_614_400));
    assert_eq!((fills[1].counterparty, fills[1].base_lots, fills[1].score), (c, -40, carol_score));
    assert_eq!((fills[1].haircut, fills[1].quote), (98_409_600, 3_400_000_000 + 98_409_600));
    assert_eq!(fills.iter().map(|f| f.haircut).sum::<u64>(), 246_024_000, "Σ haircut == uncovered shortfall");
    // Insurance pays exactly what it has; Alice ends at zero.
    let payout = &out.events::<InsurancePayoutV1>()[0];
    assert_eq!((payout.amount, payout.insurance_balance_after), (204_016_000, 0));
    let m = desk.margin(&alice).await;
    assert_eq!(m.collateral_balance, 0);
    assert!(m.open_positions().next().is_none());

    // Each short lost exactly its haircut against the oracle: Bob keeps 2,001.2 + 900 − 147.6144.
    assert_eq!(desk.balance(&bob).await, 2_753_585_600);
    assert_eq!(desk.balance(&carol).await, 2_542_398_400);
    assert_eq!(desk.health(&bob).await.equity, 2_901_200_000 - 147_614_400);
    assert_eq!(desk.health(&carol).await.equity, 2_640_808_000 - 98_409_600);
    let market = desk.env.market(&desk.market).await;
    assert_eq!((market.adl_fill_count, market.adl_haircut_total, market.open_interest_long_lots), (2, 246_024_000, 0));
}

#[tokio::test]
async fn adl_with_empty_insurance_closes_at_the_bankruptcy_price() {
    // No fees, no stake: the insurance vault is empty.
    let params = MarketParams { taker_fee_bps: 0, maker_fee_bps: 0, ..simple_market_params() };
    let mut desk = Desk::new(params).await;
    let bob = desk.user(2_000 * USD).await;
    let alice = desk.user(1_000 * USD).await;
    desk.trade(&bob, &alice, SIDE_ASK, 100, 100).await;
    assert_eq!(desk.insurance().await, 0);

    desk.set_price(85_000_000).await;
    assert_eq!(desk.health(&alice).await.equity, -500_000_000);
    let spec = bulwark::controller::pricing::perp_spec(&desk.env.market(&desk.market).await);
    let bankrupt = bankruptcy_price(100, -10_000_000_000, 1_000_000_000, &spec).unwrap().unwrap();
    assert_eq!(bankrupt, 90_000_000);

    let out = desk.adl(&alice, &[bob.margin_account], 0).await.ok();
    let fill = &out.events::<AdlFillV1>()[0];
    // P + U/q = 85 + 500/100 = $90, the bankruptcy price: $9,000 for the 100 lots.
    assert_eq!((fill.quote, fill.haircut, fill.uncovered), (100 * bankrupt as u64, 500_000_000, 500_000_000));
    assert!(out.events::<InsurancePayoutV1>().is_empty());
    assert_eq!(desk.balance(&alice).await, 0);
    assert_eq!(desk.balance(&bob).await, 3_000 * USD);
    assert_eq!(desk.position(&bob).await.base_lots, 0);
}

#[tokio::test]
async fn force_out_after_the_grace_slots_at_the_oracle_with_zero_haircut() {
    let mut desk = Desk::new(simple_market_params()).await;
    let bob = desk.user(100_000 * USD).await;
    let alice = desk.user(1_100 * USD).await;
    desk.trade(&bob, &alice, SIDE_ASK, 100, 100).await;

    // $93.5: liquidatable (equity $440 < $467.5) but solvent; nobody takes it.
    desk.set_price(93_500_000).await;
    let b = bob.margin_account;
    desk.adl(&alice, &[b], 0).await.expect_err(BulwarkError::AdlGraceNotElapsed);
    desk.update_status(&alice).await.ok();
    let since = desk.margin(&alice).await.liquidatable_since_slot;
    desk.env.warp(1, 99).await;
    desk.refresh_price().await;
    assert!(desk.env.clock().await.slot < since + 100);
    desk.adl(&alice, &[b], 0).await.expect_err(BulwarkError::AdlGraceNotElapsed);

    desk.env.warp(1, 1).await;
    desk.refresh_price().await;
    let bob_before = desk.balance(&bob).await;
    let out = desk.adl(&alice, &[b], 0).await.ok();
    let fill = &out.events::<AdlFillV1>()[0];
    assert_eq!((fill.base_lots, fill.quote, fill.haircut, fill.uncovered), (-100, 9_350_000_000, 0, 0));
    // Alice keeps her equity (no fee on a force-out); Bob realises his profit at the oracle.
    assert_eq!(desk.balance(&alice).await, 440 * USD);
    assert_eq!(desk.balance(&bob).await, bob_before + 650 * USD);
    let m = desk.margin(&alice).await;
    assert_eq!((m.status_flags, m.liquidatable_since_slot), (0, 0));
}

#[tokio::test]
async fn adl_refuses_ineligible_counterparties() {
    let mut desk = Desk::new(simple_market_params()).await;
    let (alice, bob, _carol) = desk.two_shorts().await;
    // Dan is long like Alice; Eve sells him 10 at $84 once the price is $85: her short loses.
    let mm = desk.user(100_000 * USD).await;
    let dan = desk.user(2_000 * USD).await;
    let eve = desk.user(2_000 * USD).await;
    let gina = desk.user(2_000 * USD).await;
    // Hank trades only in a second market.
    let second = desk.env.setup_market(&mut desk.fx, simple_market_params(), 100).await;
    let hank = desk.user(2_000 * USD).await;
    desk.env.place(&desk.fx, &hank, &second, order(SIDE_ASK, ORDER_TYPE_LIMIT, 100, 5), &[]).await.ok();
    let args = order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 100, 5);
    desk.env.place(&desk.fx, &mm, &second, args, &[hank.margin_account]).await.ok();
    assert_eq!(desk.env.position(&hank, &second).await.base_lots, -5);
    // Ivy's account belongs to another clearinghouse.
    let mut other = desk.env.setup_clearinghouse(ClearinghouseOptions { id: 1, ..Default::default() }).await;
    let ivy = desk.env.create_user(&mut other, 0).await;

    desk.set_price(85_000_000).await;
    desk.trade(&eve, &dan, SIDE_ASK, 84, 10).await;
    let cases: [(Pubkey, BulwarkError); 5] = [
        (dan.margin_account, BulwarkError::AdlCounterpartySameSide),
        (eve.margin_account, BulwarkError::AdlCounterpartyNotInProfit),
        (gina.margin_account, BulwarkError::AdlCounterpartyNoPosition),
        (hank.margin_account, BulwarkError::AdlCounterpartyNoPosition),
        (ivy.margin_account, BulwarkError::ClearinghouseMismatch),
    ];
    for (key, error) in cases {
        desk.adl(&alice, &[key], 0).await.expect_err(error);
        // After a valid counterparty too: one bad account spoils the instruction.
        desk.adl(&alice, &[bob.margin_account, key], 0).await.expect_err(error);
    }
    assert_eq!(desk.position(&alice).await.base_lots, 100);
    assert_eq!(desk.position(&bob).await.base_lots, -60);
}

#[tokio::test]
async fn a_counterparty_that_cannot_pay_is_skipped() {
    // No fees and no insurance, so every number is whole dollars.
    let params = MarketParams { taker_fee_bps: 0, maker_fee_bps: 0, ..simple_market_params() };
    let mut desk = Desk::new(params).await;
    let second = desk.env.setup_market(&mut desk.fx, params, 100).await;
    let mm = desk.user(100_000 * USD).await;
    let bob = desk.user(700 * USD).await;
    let carol = desk.user(10_000 * USD).await;
    let alice = desk.user(1_000 * USD).await;
    desk.trade(&bob, &alice, SIDE_ASK, 100, 50).await;
    desk.trade(&carol, &alice, SIDE_ASK, 100, 50).await;
    // Bob is also long 20 in the second market, which then falls to $30: a $1,400 loss there.
    desk.env.place(&desk.fx, &mm, &second, order(SIDE_ASK, ORDER_TYPE_LIMIT, 100, 20), &[]).await.ok();
    let args = order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 100, 20);
    let remaining = [desk.market.key, desk.market.oracle, mm.margin_account];
    desk.env.place(&desk.fx, &bob, &second, args, &remaining).await.ok();
    for _ in 0..2 {
        desk.env.publish(&second.feed, 30_000_000, 0, true, 0).await;
        desk.env.publish(&desk.market.feed, 85_000_000, 0, true, 0).await;
        desk.env.warp(3_000, 5).await;
    }
    desk.env.publish(&second.feed, 30_000_000, 0, true, 0).await;
    desk.set_price(85_000_000).await;
    desk.env.publish(&second.feed, 30_000_000, 0, true, 0).await;

    // Alice: −$500, all uncovered, $5 a lot. Bob's short is +$750 but his account holds
    // 700 + 750 − 1,400 = $50: his $250 share would sink him, so he is skipped (he still ranks
    // first, at 0.15 × 85x). Carol pays ⌊500 × 50/100⌋ = $250 for her 50 lots.
    let out = desk.adl(&alice, &[second.key, second.oracle, bob.margin_account, carol.margin_account], 0).await.ok();
    let skipped = out.events::<AdlCounterpartySkippedV1>();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].counterparty, bob.margin_account);
    let fills = out.events::<AdlFillV1>();
    assert_eq!(fills.len(), 1);
    assert_eq!((fills[0].counterparty, fills[0].base_lots, fills[0].haircut), (carol.margin_account, -50, 250 * USD));
    assert!(skipped[0].score > fills[0].score);
    assert_eq!(desk.position(&bob).await.base_lots, -50);
    assert_eq!(desk.balance(&bob).await, 700 * USD);
    // Half the position and half the shortfall remain for the next call.
    assert_eq!(desk.position(&alice).await.base_lots, 50);
    assert_eq!(desk.health(&alice).await.equity, -250 * USD as i128);
}

/// Alice, long 100 lots bought at $100 on $1,000, is $150 short of zero at $88.50 with an empty
/// insurance vault (no fees, no stake): U = $150. Bob is short 50 from $100 on $100,000; Carol
/// short 50 from $89 on $460 (Dave sold her his). Returns (desk, alice, bob, carol).
async fn two_winners_one_thin() -> (Desk, User, User, User) {
    let params = MarketParams { taker_fee_bps: 0, maker_fee_bps: 0, ..simple_market_params() };
    let mut desk = Desk::new(params).await;
    let bob = desk.user(100_000 * USD).await;
    let dave = desk.user(10_000 * USD).await;
    let carol = desk.user(460 * USD).await;
    let alice = desk.user(1_000 * USD).await;
    desk.trade(&bob, &alice, SIDE_ASK, 100, 50).await;
    desk.trade(&dave, &alice, SIDE_ASK, 100, 50).await;
    desk.set_price(89_000_000).await;
    desk.trade(&carol, &dave, SIDE_ASK, 89, 50).await;
    desk.set_price(88_500_000).await;
    (desk, alice, bob, carol)
}

#[tokio::test]
async fn a_winner_pays_at_most_its_profit_and_the_rest_carries_to_the_next() {
    let (mut desk, alice, bob, carol) = two_winners_one_thin().await;
    assert_eq!(desk.health(&alice).await.equity, -150 * USD as i128);
    assert_eq!(desk.insurance().await, 0);
    // Carol is up $0.50 a lot ($25) at 9.1x, Bob $11.50 a lot ($575) at 0.04x: Carol ranks first.
    let (carol_score, bob_score) = (score(&mut desk, &carol).await, score(&mut desk, &bob).await);
    assert!(carol_score > bob_score, "{carol_score} vs {bob_score}");

    let out = desk.adl(&alice, &[carol.margin_account, bob.margin_account], 0).await.ok();
    let fills = out.events::<AdlFillV1>();
    // Carol's share is ⌊150 × 50/100⌋ = $75, but she made only $25 on those lots: she pays $25,
    // closing at exactly her entry, and the other $50 moves on to Bob, who pays 75 + 50 = $125.
    assert_eq!(
        (fills[0].counterparty, fills[0].haircut, fills[0].quote),
        (carol.margin_account, 25 * USD, 4_450 * USD)
    );
    assert_eq!((fills[1].counterparty, fills[1].haircut, fills[1].quote), (bob.margin_account, 125 * USD, 4_550 * USD));
    let capped = out.events::<AdlHaircutCappedV1>();
    assert_eq!(capped.len(), 1);
    assert_eq!(
        (capped[0].counterparty, capped[0].share, capped[0].haircut),
        (carol.margin_account, 75 * USD, 25 * USD)
    );
    assert_eq!(capped[0].profit_on_fill, 25 * USD);
    assert_eq!(fills.iter().map(|f| f.haircut).sum::<u64>(), 150 * USD, "Σ haircut == U to the atom");
    // Nobody lost principal: Carol keeps her $460, Bob keeps 575 − 125 of his profit.
    assert_eq!(desk.balance(&carol).await, 460 * USD);
    assert_eq!(desk.balance(&bob).await, 100_000 * USD + 450 * USD);
    assert_eq!((desk.balance(&alice).await, desk.position(&alice).await.base_lots), (0, 0));
}

#[tokio::test]
async fn a_capped_winner_alone_cannot_push_its_shortfall_onto_the_lots_left() {
    // The same book, but a cranker passes Carol alone. Capped at her $25 of profit, she would
    // close 50 of Alice's 100 lots and leave $125 of U on the other 50 ($2.50 a lot, up from
    // $1.50): repeated, that piles U onto the last lots until no winner can close them.
    let (mut desk, alice, bob, carol) = two_winners_one_thin().await;
    let out = desk.adl(&alice, &[carol.margin_account], 0).await;
    out.expect_err(BulwarkError::AdlShortfallNotAbsorbed);
    assert_eq!(desk.position(&alice).await.base_lots, 100);
    assert_eq!((desk.balance(&carol).await, desk.position(&carol).await.base_lots), (460 * USD, -50));
    // Bob alone pays his full share: the close goes through, and the rest of U stays at $1.50 a lot.
    let out = desk.adl(&alice, &[bob.margin_account], 50).await.ok();
    assert_eq!(out.events::<AdlFillV1>()[0].haircut, 75 * USD);
    assert_eq!(desk.health(&alice).await.equity, -75 * USD as i128);
}
