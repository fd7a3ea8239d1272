//! Liquidation: takeover and against the book, partial to the buffer, bankruptcy covered by
//! the insurance vault. Exact balances; invariants after every step (the `Desk` helpers check).

use bulwark::error::BulwarkError;
use bulwark::events::*;
use bulwark::state::*;
use bulwark_tests::*;
use solana_signer::Signer as _;

/// Alice buys 100 lots at $100 from a market maker with $1,100 deposited: after the $10 taker
/// fee she holds $1,090 against a $10,000 long (the maker earns a $2 rebate; $4 of the $8 net
/// fee goes to insurance).
async fn alice_long(desk: &mut Desk) -> (User, User) {
    let mm = desk.user(100_000 * USD).await;
    let alice = desk.user(1_100 * USD).await;
    let insurance = desk.insurance().await;
    desk.trade(&mm, &alice, SIDE_ASK, 100, 100).await;
    assert_eq!(desk.balance(&alice).await, 1_090 * USD);
    assert_eq!(desk.insurance().await, insurance + 4 * USD);
    (mm, alice)
}

#[tokio::test]
async fn takeover_closes_just_enough_to_restore_the_buffer() {
    let mut desk = Desk::new(simple_market_params()).await;
    let (_mm, alice) = alice_long(&mut desk).await;
    let poor = desk.user(100 * USD).await;
    let liquidator = desk.user(1_000 * USD).await;
    let racer = desk.user(1_000 * USD).await;

    // Healthy at $100: nothing to do.
    desk.takeover(&liquidator, &alice, 0).await.expect_err(BulwarkError::AccountNotLiquidatable);

    // $93.5: equity 1,090 − 650 = $440 under maintenance 5% × 9,350 = $467.5.
    desk.set_price(93_500_000).await;
    let h = desk.health(&alice).await;
    assert_eq!((h.equity, h.maintenance_requirement), (440_000_000, 467_500_000));
    let out = desk.update_status(&alice).await.ok();
    let status = out.events::<LiquidationStatusV1>();
    assert_eq!(status[0].status_flags, ACCOUNT_FLAG_BEING_LIQUIDATED);
    let since = desk.margin(&alice).await.liquidatable_since_slot;
    assert!(since > 0);
    desk.update_status(&alice).await.expect_err(BulwarkError::LiquidationStatusUnchanged);

    // A liquidator that could not carry the position is refused; nothing moves.
    desk.takeover(&poor, &alice, 0).await.expect_err(BulwarkError::LiquidatorInsufficientMargin);
    assert_eq!(desk.balance(&poor).await, 100 * USD);
    assert_eq!(desk.position(&alice).await.base_lots, 100);

    // 440 − 2.3375x ≥ 1.1 × (467.5 − 4.675x) ⇒ x ≥ 26.47: 27 lots at the oracle, $2,524.5.
    // Fee 2.5% = $63.1125, half to insurance, half to the liquidator.
    let out = desk.takeover(&liquidator, &alice, 0).await.ok();
    let liq = &out.events::<LiquidationV1>()[0];
    assert_eq!(liq.kind, LIQUIDATION_KIND_TAKEOVER);
    assert_eq!((liq.base_lots, liq.oracle_price, liq.quote), (-27, 93_500_000, 2_524_500_000));
    assert_eq!((liq.fee, liq.liquidator_reward, liq.insurance_fee), (63_112_500, 31_556_250, 31_556_250));
    assert_eq!((liq.equity_before, liq.equity_after, liq.maintenance_after), (440_000_000, 376_887_500, 341_275_000));
    assert!(!liq.still_liquidating);
    assert_eq!(liq.margin_account, alice.margin_account);
    assert_eq!(liq.liquidator, liquidator.margin_account);

    // Alice: realised 27 × (93.5 − 100) = −175.5 and the fee.
    assert_eq!(desk.balance(&alice).await, 851_387_500);
    let p = desk.position(&alice).await;
    assert_eq!((p.base_lots, p.quote_entry), (73, -7_300_000_000));
    let m = desk.margin(&alice).await;
    assert_eq!((m.status_flags, m.liquidatable_since_slot), (0, 0));
    // The liquidator holds 27 lots at the oracle and its share of the fee.
    assert_eq!(desk.balance(&liquidator).await, 1_031_556_250);
    let p = desk.position(&liquidator).await;
    assert_eq!((p.base_lots, p.quote_entry), (27, -2_524_500_000));
    assert_eq!(desk.insurance().await, 4_000_000 + 31_556_250);
    let market = desk.env.market(&desk.market).await;
    assert_eq!(market.liquidation_count, 1);

    // The second liquidator of the race finds nothing to do, and nothing happens twice.
    desk.takeover(&racer, &alice, 0).await.expect_err(BulwarkError::AccountNotLiquidatable);
    assert_eq!(desk.balance(&alice).await, 851_387_500);
    assert_eq!(desk.balance(&racer).await, 1_000 * USD);
    assert_eq!(desk.position(&racer).await.base_lots, 0);
}

#[tokio::test]
async fn a_capped_takeover_leaves_the_account_flagged() {
    let mut desk = Desk::new(simple_market_params()).await;
    let (_mm, alice) = alice_long(&mut desk).await;
    let liquidator = desk.user(1_000 * USD).await;
    desk.set_price(93_500_000).await;
    let out = desk.takeover(&liquidator, &alice, 10).await.ok();
    let liq = &out.events::<LiquidationV1>()[0];
    assert_eq!(liq.base_lots, -10);
    assert!(liq.still_liquidating);
    let m = desk.margin(&alice).await;
    assert_eq!(m.status_flags, ACCOUNT_FLAG_BEING_LIQUIDATED);
    // Still flagged, so the next call continues it: equity 1,001.625 + 8,415 − 9,000 = 416.625
    // against 90 × 4.675 = 420.75 maintenance needs 16.5 → 17 more lots (27 in all, as at once).
    let out = desk.takeover(&liquidator, &alice, 0).await.ok();
    assert_eq!(out.events::<LiquidationV1>()[0].base_lots, -17);
    assert!(!out.events::<LiquidationV1>()[0].still_liquidating);
}

#[tokio::test]
async fn liquidation_against_the_book_fills_within_the_band() {
    let mut desk = Desk::new(simple_market_params()).await;
    let (_mm, alice) = alice_long(&mut desk).await;
    let bidder = desk.user(10_000 * USD).await;
    let far_bidder = desk.user(10_000 * USD).await;
    let cranker = desk.user(0).await;
    desk.set_price(93_500_000).await;

    // Oracle $93.5, band 2%: a sale fills no lower than $91.63 → 92 ticks. A bid at 91 is out.
    desk.env.place(&desk.fx, &far_bidder, &desk.market, order(SIDE_BID, ORDER_TYPE_LIMIT, 91, 50), &[]).await.ok();
    desk.book_liquidate(&cranker, &alice, &[&far_bidder]).await.expect_err(BulwarkError::NoLiquidityInBand);
    assert_eq!(desk.position(&alice).await.base_lots, 100);

    desk.env.place(&desk.fx, &bidder, &desk.market, order(SIDE_BID, ORDER_TYPE_LIMIT, 93, 50), &[]).await.ok();
    let insurance_before = desk.insurance().await;
    let out = desk.book_liquidate(&cranker, &alice, &[&bidder]).await.ok();
    // Sized for the band's worst price (89 lots), it sells all 50 lots bid at $93: $4,650.
    let fill = &out.events::<FillV1>()[0];
    assert_eq!((fill.price_ticks, fill.base_lots, fill.quote), (93, 50, 4_650_000_000));
    assert_eq!((fill.taker_fee, fill.maker_fee), (4_650_000, -930_000));
    let liq = &out.events::<LiquidationV1>()[0];
    assert_eq!(liq.kind, LIQUIDATION_KIND_BOOK);
    assert_eq!((liq.base_lots, liq.quote), (-50, 4_650_000_000));
    // Fee 2.5% = $116.25; the cranker's 20% ($23.25) is capped at $10; the rest to insurance.
    assert_eq!((liq.fee, liq.liquidator_reward, liq.insurance_fee), (116_250_000, 10_000_000, 106_250_000));
    assert_eq!(liq.liquidator, cranker.margin_account);
    // 1,090 − 350 realised − 4.65 taker fee − 116.25 liquidation fee = 619.10; with 50 lots
    // left at $93.5, equity 294.10 ≥ 1.1 × 233.75: back above the buffer in one crank.
    assert!(!liq.still_liquidating);
    assert_eq!(desk.balance(&alice).await, 619_100_000);
    assert_eq!(desk.balance(&cranker).await, 10_000_000);
    assert_eq!(desk.balance(&bidder).await, 10_000 * USD + 930_000);
    let p = desk.position(&bidder).await;
    assert_eq!((p.base_lots, p.quote_entry, p.open_bid_lots), (50, -4_650_000_000, 0));
    // Insurance: half the net trading fee (4.65 − 0.93) and the fee's remainder.
    assert_eq!(desk.insurance().await, insurance_before + 1_860_000 + 106_250_000);

    // Nothing left to do.
    desk.book_liquidate(&cranker, &alice, &[&bidder]).await.expect_err(BulwarkError::AccountNotLiquidatable);
    assert_eq!(desk.position(&alice).await.base_lots, 50);
}

#[tokio::test]
async fn bankruptcy_is_covered_by_insurance_and_nobody_else_pays() {
    let mut desk = Desk::new(simple_market_params()).await;
    let staker = desk.user(0).await;
    desk.env.stake_insurance(&desk.fx, &staker, 1_000 * USD).await.ok();
    let (mm, alice) = alice_long(&mut desk).await;
    let bystander = desk.user(500 * USD).await;
    let liquidator = desk.user(5_000 * USD).await;
    assert_eq!(desk.insurance().await, 1_004 * USD);

    // $85: equity 1,090 − 1,500 = −$410.
    desk.set_price(85_000_000).await;
    assert_eq!(desk.health(&alice).await.equity, -410_000_000);
    // Insurance can pay this deficit, so ADL is not the way.
    desk.adl(&alice, &[mm.margin_account], 0).await.expect_err(BulwarkError::InsuranceCanCover);

    let mm_before = (desk.balance(&mm).await, desk.position(&mm).await);
    let out = desk.takeover(&liquidator, &alice, 0).await.ok();
    let liq = &out.events::<LiquidationV1>()[0];
    // Equity below zero: the whole position goes, $8,500 at the oracle. No equity is left to
    // pay a fee from, so none is charged: a fee here would come out of the insurance vault.
    assert_eq!((liq.base_lots, liq.quote, liq.fee), (-100, 8_500_000_000, 0));
    assert_eq!((liq.liquidator_reward, liq.insurance_fee), (0, 0));
    assert_eq!((liq.equity_before, liq.equity_after), (-410_000_000, 0));
    // Realised −1,500 against 1,090: the $410 deficit, paid by insurance.
    let payout = &out.events::<InsurancePayoutV1>()[0];
    assert_eq!(payout.margin_account, alice.margin_account);
    assert_eq!(payout.amount, 410_000_000);
    assert_eq!(payout.insurance_balance_after, 1_004_000_000 - 410_000_000);

    // Alice ends at exactly zero, with nothing left open.
    let m = desk.margin(&alice).await;
    assert_eq!(m.collateral_balance, 0);
    assert!(m.open_positions().next().is_none());
    assert_eq!(m.status_flags, 0);
    // Everyone else is unchanged to the unit; the liquidator holds the position.
    assert_eq!((desk.balance(&mm).await, desk.position(&mm).await), mm_before);
    assert_eq!(desk.balance(&bystander).await, 500 * USD);
    assert_eq!(desk.balance(&liquidator).await, 5_000 * USD);
    assert_eq!(desk.position(&liquidator).await.base_lots, 100);
    let ch = desk.env.clearinghouse(&desk.fx).await;
    assert_eq!(ch.insurance_balance, 594_000_000);
    assert_eq!(ch.insurance_paid_total, 410_000_000);

    // The payout came out of the stakers' value: the staker's 999 of 1,000 shares (the other
    // $1 was locked at the first stake) now redeem 999/1,000 of $594.
    let owner = staker.owner.insecure_clone();
    let stake = desk.env.insurance_stake(&desk.fx, &owner).await;
    assert_eq!(stake.shares, 999 * USD);
    desk.env.send(&[request_unstake_ix(&owner.pubkey(), &desk.fx.key, stake.shares)], &[&owner]).await.ok();
    desk.env.warp(3_600, 1).await;
    let wallet_before = desk.env.token_balance(staker.token_account).await;
    desk.env.send(&[unstake_insurance_ix(&owner.pubkey(), &desk.fx, &staker.token_account)], &[&owner]).await.ok();
    assert_eq!(desk.env.token_balance(staker.token_account).await - wallet_before, 593_406_000);
    assert_eq!(desk.insurance().await, 594_000);
    desk.check().await;
}

#[tokio::test]
async fn liquidation_needs_a_fresh_oracle() {
    let mut desk = Desk::new(simple_market_params()).await;
    let (mm, alice) = alice_long(&mut desk).await;
    let liquidator = desk.user(5_000 * USD).await;
    desk.set_price(85_000_000).await;
    // Two minutes without a publish: the 60 s staleness bound refuses every waterfall path on
    // the market it acts on.
    desk.env.warp(120, 2).await;
    desk.takeover(&liquidator, &alice, 0).await.expect_err(BulwarkError::OracleStale);
    desk.book_liquidate(&liquidator, &alice, &[&mm]).await.expect_err(BulwarkError::OracleStale);
    desk.adl(&alice, &[mm.margin_account], 0).await.expect_err(BulwarkError::OracleStale);
    assert_eq!(desk.position(&alice).await.base_lots, 100);
    // The status crank acts on no market: it values every market by the relaxed rule ($85 ± 3%
    // two staleness periods on) in Alice's favour, and she is liquidatable at any of them.
    desk.update_status(&alice).await.ok();
    assert_eq!(desk.margin(&alice).await.status_flags & ACCOUNT_FLAG_BEING_LIQUIDATED, ACCOUNT_FLAG_BEING_LIQUIDATED);
    // Ten staleness periods on, not even that.
    desk.env.warp(481, 2).await;
    desk.update_status(&alice).await.expect_err(BulwarkError::OracleStale);
}

#[tokio::test]
async fn liquidation_rejects_bad_accounts() {
    let mut desk = Desk::new(simple_market_params()).await;
    let (_mm, alice) = alice_long(&mut desk).await;
    let liquidator = desk.user(5_000 * USD).await;
    desk.set_price(93_500_000).await;
    // Liquidating oneself (same account twice).
    let owner = alice.owner.insecure_clone();
    let ix = liquidate_takeover_ix(
        &owner.pubkey(),
        &desk.fx,
        &alice.margin_account,
        &alice.margin_account,
        &desk.market,
        0,
        &[],
    );
    desk.env.send(&[ix], &[&owner]).await.expect_err(BulwarkError::DuplicateAccount);
    // A signer that does not own the liquidator account.
    let stranger = desk.env.funded_keypair().await;
    let ix = liquidate_takeover_ix(
        &stranger.pubkey(),
        &desk.fx,
        &liquidator.margin_account,
        &alice.margin_account,
        &desk.market,
        0,
        &[],
    );
    desk.env.send(&[ix], &[&stranger]).await.expect_err(BulwarkError::NotOwnerOrDelegate);
    // A fake oracle account.
    let fake = desk.env.create_feed(77, -6, 600).await;
    desk.env.publish(&fake, 50_000_000, 0, true, 0).await;
    let owner = liquidator.owner.insecure_clone();
    let mut ix = liquidate_takeover_ix(
        &owner.pubkey(),
        &desk.fx,
        &liquidator.margin_account,
        &alice.margin_account,
        &desk.market,
        0,
        &[],
    );
    ix.accounts[6].pubkey = fake.key;
    desk.env.send(&[ix], &[&owner]).await.expect_err(BulwarkError::OracleAccountMismatch);
    // A market with no position.
    let liquidator2 = desk.user(5_000 * USD).await;
    desk.takeover(&liquidator, &liquidator2, 0).await.expect_err(BulwarkError::NoPositionInMarket);
    assert_eq!(desk.position(&alice).await.base_lots, 100);
}

#[tokio::test]
async fn a_bankrupt_position_is_closed_by_liquidation_not_by_its_own_trade() {
    let mut desk = Desk::new(simple_market_params()).await;
    let (_mm, alice) = alice_long(&mut desk).await;
    let bidder = desk.user(10_000 * USD).await;
    let cranker = desk.user(0).await;
    let staker = desk.user(0).await;
    desk.env.stake_insurance(&desk.fx, &staker, 1_000 * USD).await.ok();
    desk.set_price(88_000_000).await;
    assert_eq!(desk.health(&alice).await.equity, -110_000_000);
    desk.env.place(&desk.fx, &bidder, &desk.market, order(SIDE_BID, ORDER_TYPE_LIMIT, 88, 100), &[]).await.ok();
    let close = PlaceOrderArgs { reduce_only: true, ..order(SIDE_ASK, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 88, 100) };

    // Her own close would end below zero: a fill may not leave its taker there, whoever pays.
    desk.env
        .place(&desk.fx, &alice, &desk.market, close, &[bidder.margin_account])
        .await
        .expect_err(BulwarkError::FillBreachesMargin);

    // Nor may a liquidation close it there: the $8.80 taker fee would deepen the deficit the
    // price made. A takeover at the oracle closes it; insurance pays exactly that $110.
    desk.book_liquidate(&cranker, &alice, &[&bidder]).await.expect_err(BulwarkError::NoLiquidityInBand);
    let liquidator = desk.user(2_000 * USD).await;
    let insurance = desk.insurance().await;
    let out = desk.takeover(&liquidator, &alice, 0).await.ok();
    let liq = &out.events::<LiquidationV1>()[0];
    assert_eq!((liq.base_lots, liq.fee, liq.liquidator_reward), (-100, 0, 0));
    let payout = &out.events::<InsurancePayoutV1>()[0];
    assert_eq!((payout.margin_account, payout.amount), (alice.margin_account, 110_000_000));
    let m = desk.margin(&alice).await;
    assert_eq!(m.collateral_balance, 0);
    assert!(m.open_positions().next().is_none());
    assert_eq!(desk.insurance().await, insurance - 110_000_000);
}
