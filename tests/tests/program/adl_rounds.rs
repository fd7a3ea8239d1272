//! ADL rounds: the chain, not the cranker, decides who pays. A round freezes the price, the
//! target's lots and the shortfall; anyone nominates winners during the window; the program
//! ranks them and fills them in that order, each paying at most its profit. Exact balances;
//! invariants after every step (the `Desk` helpers check).

use anchor_lang::prelude::*;
use bulwark::error::BulwarkError;
use bulwark::events::*;
use bulwark::state::*;
use bulwark_tests::*;
use solana_signer::Signer as _;

const WINDOW: u64 = 5;

fn no_fees() -> MarketParams {
    MarketParams { taker_fee_bps: 0, maker_fee_bps: 0, ..simple_market_params() }
}

async fn desk_with_rounds(params: MarketParams) -> Desk {
    let waterfall = WaterfallParams { adl_nomination_slots: WINDOW, ..default_waterfall() };
    Desk::with_options(params, ClearinghouseOptions { timelock_seconds: 0, waterfall, ..Default::default() }).await
}

/// Let the nomination window pass (and keep the price fresh).
async fn close_window(desk: &mut Desk) {
    desk.env.warp(1, WINDOW + 1).await;
    desk.refresh_price().await;
}

/// The score the program computes, by the SDK (which calls the program's math).
async fn score(desk: &mut Desk, user: &User) -> u128 {
    let market = desk.env.market(&desk.market).await;
    let account = desk.margin(user).await;
    let prices = [bulwark_sdk::health::market_price(&market, desk.price)];
    bulwark_sdk::adl::score(&account, market.index, &prices).expect("an eligible counterparty")
}

fn queue(round: &AdlRound) -> Vec<Pubkey> {
    round.queue().iter().map(|n| n.margin_account).collect()
}

/// Alice, long 100 lots bought at $100 on $1,000, is $150 short of zero at $88.50 with an empty
/// insurance vault (no fees, no stake): U = $150. Bob is short 50 from $100 on $100,000 (up
/// $575 at 0.04x); Carol short 50 from $89 on $460 (up $25 at 9.1x), so Carol ranks first.
async fn two_winners_one_thin() -> (Desk, User, User, User) {
    let mut desk = desk_with_rounds(no_fees()).await;
    let bob = desk.user(100_000 * USD).await;
    let dave = desk.user(10_000 * USD).await;
    let carol = desk.user(460 * USD).await;
    let alice = desk.user(1_000 * USD).await;
    desk.trade(&bob, &alice, SIDE_ASK, 100, 50).await;
    desk.trade(&dave, &alice, SIDE_ASK, 100, 50).await;
    desk.set_price(89_000_000).await;
    desk.trade(&carol, &dave, SIDE_ASK, 89, 50).await;
    desk.set_price(88_500_000).await;
    assert_eq!(desk.health(&alice).await.equity, -150 * USD as i128);
    (desk, alice, bob, carol)
}

#[tokio::test]
async fn a_cranker_naming_a_low_ranked_winner_is_overtaken_by_the_top_ranked() {
    let (mut desk, alice, bob, carol) = two_winners_one_thin().await;
    let (a, b, c) = (alice.margin_account, bob.margin_account, carol.margin_account);
    let (bob_score, carol_score) = (score(&mut desk, &bob).await, score(&mut desk, &carol).await);
    assert!(carol_score > bob_score, "{carol_score} vs {bob_score}");

    // The one-shot, where the caller alone picks the payers, is refused once rounds are on.
    desk.adl(&alice, &[b], 0).await.expect_err(BulwarkError::AdlRoundRequired);

    let out = desk.begin_adl(&alice).await.ok();
    let opened = &out.events::<AdlRoundOpenedV1>()[0];
    assert_eq!((opened.target, opened.price, opened.target_lots), (a, 88_500_000, 100));
    assert_eq!((opened.deficit, opened.insurance_pays, opened.uncovered), (150 * USD, 0, 150 * USD));
    let opened_slot = desk.env.clock().await.slot;
    assert_eq!(opened.window_end_slot, opened_slot + WINDOW);

    // A cranker nominates only Bob, who has the most to give; Carol's own keeper (or anyone)
    // nominates her, and she goes first because she ranks first.
    let out = desk.nominate(&alice, &[], &[b]).await.ok();
    let nominated = &out.events::<AdlNominatedV1>()[0];
    assert_eq!((nominated.margin_account, nominated.score, nominated.position), (b, bob_score, 0));
    let out = desk.nominate(&alice, &[], &[c]).await.ok();
    assert_eq!(out.events::<AdlNominatedV1>()[0].position, 0);
    assert_eq!(queue(&desk.round(&alice).await.unwrap()), vec![c, b]);

    // Not before the window closes, and only from the queue's head, in its order.
    desk.execute_adl(&alice, &[], &[c, b]).await.expect_err(BulwarkError::AdlNominationWindowOpen);
    close_window(&mut desk).await;
    desk.nominate(&alice, &[], &[b]).await.expect_err(BulwarkError::AdlNominationWindowClosed);
    desk.execute_adl(&alice, &[], &[b]).await.expect_err(BulwarkError::AdlQueueOrder);
    desk.execute_adl(&alice, &[], &[b, c]).await.expect_err(BulwarkError::AdlQueueOrder);
    assert_eq!(desk.position(&alice).await.base_lots, 100);

    let payer = desk.env.payer().pubkey();
    let lamports_before = desk.env.lamports(payer).await;
    let out = desk.execute_adl(&alice, &[], &[c, b]).await.ok();
    let fills = out.events::<AdlFillV1>();
    // Carol's share is ⌊150 × 50/100⌋ = $75, but she made only $25 on those lots: she pays $25,
    // closing at exactly her entry, and the other $50 carries to Bob: 75 + 50 = $125.
    assert_eq!((fills[0].counterparty, fills[0].haircut, fills[0].quote), (c, 25 * USD, 4_450 * USD));
    assert_eq!((fills[1].counterparty, fills[1].haircut, fills[1].quote), (b, 125 * USD, 4_550 * USD));
    assert_eq!((fills[0].score, fills[1].score), (carol_score, bob_score));
    let capped = &out.events::<AdlHaircutCappedV1>()[0];
    assert_eq!(
        (capped.counterparty, capped.share, capped.haircut, capped.profit_on_fill),
        (c, 75 * USD, 25 * USD, 25 * USD)
    );
    assert_eq!(fills.iter().map(|f| f.haircut).sum::<u64>(), 150 * USD, "Σ haircut == U to the atom");
    assert!(out.events::<BadDebtRecordedV1>().is_empty());
    let closed = &out.events::<AdlRoundClosedV1>()[0];
    assert_eq!((closed.reason, closed.haircut_total, closed.fill_count, closed.restart_count), (0, 150 * USD, 2, 0));
    assert_eq!(closed.opened_slot, opened_slot);

    // Nobody lost principal: Carol keeps her $460, Bob keeps 575 − 125 of his profit.
    assert_eq!(desk.balance(&carol).await, 460 * USD);
    assert_eq!(desk.balance(&bob).await, 100_000 * USD + 450 * USD);
    assert_eq!((desk.balance(&alice).await, desk.position(&alice).await.base_lots), (0, 0));
    // The round is closed and its rent is back with whoever opened it.
    assert!(desk.round(&alice).await.is_none());
    assert!(desk.env.lamports(payer).await > lamports_before);
    assert_eq!(desk.env.clearinghouse(&desk.fx).await.bad_debt_total, 0);
}

/// Alice, long 100 from $100 on $1,000, falls to $85: −$500 with no insurance. The only winners
/// are Carol and Erin, each short 50 from $89 (Dave and Bob, who sold to Alice, bought back
/// from them there): $200 of profit each, $400 in all.
#[tokio::test]
async fn a_shortfall_beyond_every_profit_is_written_off_as_bad_debt_never_principal() {
    let mut desk = desk_with_rounds(no_fees()).await;
    let bob = desk.user(10_000 * USD).await;
    let dave = desk.user(10_000 * USD).await;
    let carol = desk.user(2_000 * USD).await;
    let erin = desk.user(2_000 * USD).await;
    let alice = desk.user(1_000 * USD).await;
    desk.trade(&bob, &alice, SIDE_ASK, 100, 50).await;
    desk.trade(&dave, &alice, SIDE_ASK, 100, 50).await;
    desk.set_price(89_000_000).await;
    desk.trade(&carol, &dave, SIDE_ASK, 89, 50).await;
    desk.trade(&erin, &bob, SIDE_ASK, 89, 50).await;
    desk.set_price(85_000_000).await;
    assert_eq!(desk.health(&alice).await.equity, -500 * USD as i128);

    desk.begin_adl(&alice).await.ok();
    let (c, e) = (carol.margin_account, erin.margin_account);
    desk.nominate(&alice, &[], &[c, e]).await.ok();
    close_window(&mut desk).await;
    let queued = queue(&desk.round(&alice).await.unwrap());
    let out = desk.execute_adl(&alice, &[], &queued).await.ok();
    let fills = out.events::<AdlFillV1>();
    // First: ⌊500 × 50/100⌋ = $250 due, $200 of profit: $200. Second: the $300 left, $200 paid.
    assert_eq!(fills.iter().map(|f| f.haircut).collect::<Vec<_>>(), vec![200 * USD, 200 * USD]);
    assert_eq!(out.events::<AdlHaircutCappedV1>().len(), 2);
    let bad = &out.events::<BadDebtRecordedV1>()[0];
    assert_eq!((bad.margin_account, bad.amount, bad.bad_debt_total), (alice.margin_account, 100 * USD, 100 * USD));
    // Σ haircut + bad debt == U; the winners keep every atom of principal.
    assert_eq!(fills.iter().map(|f| f.haircut).sum::<u64>() + bad.amount, 500 * USD);
    assert_eq!((desk.balance(&carol).await, desk.balance(&erin).await), (2_000 * USD, 2_000 * USD));
    assert_eq!((desk.balance(&alice).await, desk.position(&alice).await.base_lots), (0, 0));
    let ch = desk.env.clearinghouse(&desk.fx).await;
    let market = desk.env.market(&desk.market).await;
    assert_eq!((ch.bad_debt_total, market.bad_debt_total, market.adl_haircut_total), (100 * USD, 100 * USD, 400 * USD));
    assert_eq!(desk.margin(&alice).await.status_flags & ACCOUNT_FLAG_BANKRUPT, 0);
}

/// Alice is short 100 from $20 on $500; at $100 she is $7,500 under water. Carol, long 50 from
/// $90 on $460, ranks first (up 11% at 5.2x) and can give $500; that leaves $7,000 for the last 50
/// lots, worth $5,000: a share past their value, which once made the close underflow. Bob, long
/// 50 from $20 on $100,000, gives his whole $4,000 profit; the last $3,000 is bad debt.
#[tokio::test]
async fn a_short_target_whose_share_passes_the_lots_value_closes_at_the_winners_profit() {
    let mut desk = desk_with_rounds(no_fees()).await;
    let bob = desk.user(100_000 * USD).await;
    let dave = desk.user(10_000 * USD).await;
    let carol = desk.user(460 * USD).await;
    let alice = desk.user(500 * USD).await;
    desk.set_price(20_000_000).await;
    desk.trade(&alice, &bob, SIDE_ASK, 20, 50).await;
    desk.trade(&alice, &dave, SIDE_ASK, 20, 50).await;
    desk.set_price(90_000_000).await;
    desk.trade(&dave, &carol, SIDE_ASK, 90, 50).await;
    desk.set_price(100_000_000).await;
    assert_eq!(desk.health(&alice).await.equity, -7_500 * USD as i128);
    assert!(score(&mut desk, &carol).await > score(&mut desk, &bob).await);

    desk.begin_adl(&alice).await.ok();
    let (b, c) = (bob.margin_account, carol.margin_account);
    desk.nominate(&alice, &[], &[b, c]).await.ok();
    assert_eq!(queue(&desk.round(&alice).await.unwrap()), vec![c, b]);
    close_window(&mut desk).await;
    let out = desk.execute_adl(&alice, &[], &[c, b]).await.ok();
    let fills = out.events::<AdlFillV1>();
    // A short target buys back below the oracle: 50 × $100 − haircut.
    assert_eq!((fills[0].counterparty, fills[0].haircut, fills[0].quote), (c, 500 * USD, 4_500 * USD));
    assert_eq!((fills[1].counterparty, fills[1].haircut, fills[1].quote), (b, 4_000 * USD, 1_000 * USD));
    assert_eq!(out.events::<BadDebtRecordedV1>()[0].amount, 3_000 * USD);
    assert_eq!(desk.balance(&carol).await, 460 * USD);
    assert_eq!(desk.balance(&bob).await, 100_000 * USD);
    assert_eq!(desk.position(&alice).await.base_lots, 0);
}

#[tokio::test]
async fn a_round_restarts_at_the_new_price_when_the_oracle_leaves_the_band() {
    let (mut desk, alice, bob, carol) = two_winners_one_thin().await;
    desk.begin_adl(&alice).await.ok();
    desk.nominate(&alice, &[], &[bob.margin_account, carol.margin_account]).await.ok();
    // $88.50 → $84: 5.1% away, past the 4% fill band. Alice is now $600 short.
    desk.set_price(84_000_000).await;
    close_window(&mut desk).await;
    let out = desk.execute_adl(&alice, &[], &[carol.margin_account]).await.ok();
    assert!(out.events::<AdlFillV1>().is_empty());
    let restarted = &out.events::<AdlRoundOpenedV1>()[0];
    assert_eq!((restarted.price, restarted.uncovered, restarted.restart_count), (84_000_000, 600 * USD, 1));
    let round = desk.round(&alice).await.unwrap();
    assert_eq!((round.nominee_count, round.price, round.uncovered_left), (0, 84_000_000, 600 * USD));
    assert_eq!(round.window_end_slot, desk.env.clock().await.slot + WINDOW);

    // Scores from $88.50 were dropped; at $84 both are nominated again and pay in order.
    desk.nominate(&alice, &[], &[bob.margin_account, carol.margin_account]).await.ok();
    close_window(&mut desk).await;
    let queued = queue(&desk.round(&alice).await.unwrap());
    assert_eq!(queued, vec![carol.margin_account, bob.margin_account]);
    let out = desk.execute_adl(&alice, &[], &queued).await.ok();
    let fills = out.events::<AdlFillV1>();
    // Carol: $300 due, $250 of profit (from $89 to $84 on 50 lots); Bob pays 300 + 50 = $350.
    assert_eq!(
        fills.iter().map(|f| (f.oracle_price, f.haircut)).collect::<Vec<_>>(),
        vec![(84_000_000, 250 * USD), (84_000_000, 350 * USD)]
    );
    assert_eq!(out.events::<AdlRoundClosedV1>()[0].restart_count, 1);
    assert_eq!((desk.balance(&carol).await, desk.position(&alice).await.base_lots), (460 * USD, 0));
}

#[tokio::test]
async fn an_empty_queue_reopens_the_window_and_a_healthy_target_closes_the_round() {
    let (mut desk, alice, bob, _carol) = two_winners_one_thin().await;
    desk.begin_adl(&alice).await.ok();
    close_window(&mut desk).await;
    // Nobody nominated: the window reopens, nothing is filled.
    let out = desk.execute_adl(&alice, &[], &[]).await.ok();
    let reopened = &out.events::<AdlWindowReopenedV1>()[0];
    assert_eq!((reopened.remaining_lots, reopened.uncovered_left), (100, 150 * USD));
    desk.nominate(&alice, &[], &[bob.margin_account]).await.ok();
    // Alice tops up to $2,000: healthy again, the round closes untouched and repays its rent.
    desk.env.deposit(&desk.fx, &alice, 2_000 * USD).await.ok();
    close_window(&mut desk).await;
    let out = desk.execute_adl(&alice, &[], &[bob.margin_account]).await.ok();
    assert_eq!(out.events::<AdlRoundClosedV1>()[0].reason, 1);
    assert!(out.events::<AdlFillV1>().is_empty());
    assert!(desk.round(&alice).await.is_none());
    assert_eq!(desk.position(&alice).await.base_lots, 100);
}

#[tokio::test]
async fn nominations_that_cannot_pay_are_refused_by_name() {
    let (mut desk, alice, bob, carol) = two_winners_one_thin().await;
    let mm = desk.user(100_000 * USD).await;
    let dan = desk.user(2_000 * USD).await;
    let eve = desk.user(2_000 * USD).await;
    let gina = desk.user(2_000 * USD).await;
    // Dan is long like Alice; Eve sells him 10 at $88 with the price at $88.50: her short loses.
    desk.trade(&eve, &dan, SIDE_ASK, 88, 10).await;
    // Hank trades only in a second market.
    let second = desk.env.setup_market(&mut desk.fx, no_fees(), 100).await;
    let hank = desk.user(2_000 * USD).await;
    desk.env.place(&desk.fx, &hank, &second, order(SIDE_ASK, ORDER_TYPE_LIMIT, 100, 5), &[]).await.ok();
    let args = order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 100, 5);
    desk.env.place(&desk.fx, &mm, &second, args, &[hank.margin_account]).await.ok();
    // Ivy's account belongs to another clearinghouse.
    let mut other = desk.env.setup_clearinghouse(ClearinghouseOptions { id: 1, ..Default::default() }).await;
    let ivy = desk.env.create_user(&mut other, 0).await;

    desk.begin_adl(&alice).await.ok();
    let cases: [(Pubkey, BulwarkError); 6] = [
        (dan.margin_account, BulwarkError::AdlCounterpartySameSide),
        (eve.margin_account, BulwarkError::AdlCounterpartyNotInProfit),
        (gina.margin_account, BulwarkError::AdlCounterpartyNoPosition),
        (hank.margin_account, BulwarkError::AdlCounterpartyNoPosition),
        (ivy.margin_account, BulwarkError::ClearinghouseMismatch),
        (alice.margin_account, BulwarkError::DuplicateAccount),
    ];
    for (key, error) in cases {
        desk.nominate(&alice, &[], &[key]).await.expect_err(error);
        // After a valid one too: one bad account spoils the call.
        desk.nominate(&alice, &[], &[bob.margin_account, key]).await.expect_err(error);
    }
    desk.nominate(&alice, &[], &[carol.margin_account, carol.margin_account])
        .await
        .expect_err(BulwarkError::DuplicateAccount);
    desk.nominate(&alice, &[], &[carol.margin_account]).await.ok();
    desk.nominate(&alice, &[], &[carol.margin_account]).await.expect_err(BulwarkError::DuplicateAccount);
    assert_eq!(queue(&desk.round(&alice).await.unwrap()), vec![carol.margin_account]);

    // A round belongs to one market: nominating to it through another is refused.
    let round = bulwark_sdk::pda::adl_round(&desk.market.key, &alice.margin_account);
    let payer = desk.env.payer().pubkey();
    let mut ix = nominate_adl_ix(&payer, &desk.fx.key, &second, &alice.margin_account, &[], &[bob.margin_account]);
    ix.accounts[4].pubkey = round;
    desk.env.send(&[ix], &[]).await.expect_err(BulwarkError::AdlRoundMismatch);
    // A second round on the same target and market cannot be opened while one is.
    let again = desk.begin_adl(&alice).await;
    assert!(again.result.is_err());
    assert_eq!(queue(&desk.round(&alice).await.unwrap()), vec![carol.margin_account]);
}

/// Alice and Dan, each long 50 from $100 on $500, are $150 short at $87; insurance holds $100.
/// Two rounds open at once: the first sets the $100 aside (U = $50), so the second cannot count
/// on it too (U = $150). Nothing is written off: the winners pay $200, insurance $100.
#[tokio::test]
async fn two_rounds_at_once_do_not_count_the_same_insurance() {
    let mut desk = desk_with_rounds(no_fees()).await;
    let staker = desk.user(0).await;
    desk.env.stake_insurance(&desk.fx, &staker, 100 * USD).await.ok();
    let bob = desk.user(10_000 * USD).await;
    let erin = desk.user(10_000 * USD).await;
    let alice = desk.user(500 * USD).await;
    let dan = desk.user(500 * USD).await;
    desk.trade(&bob, &alice, SIDE_ASK, 100, 50).await;
    desk.trade(&erin, &dan, SIDE_ASK, 100, 50).await;
    desk.set_price(87_000_000).await;
    assert_eq!(desk.health(&alice).await.equity, -150 * USD as i128);
    assert_eq!(desk.insurance().await, 100 * USD);

    // The staker asks to leave now (a one-hour cooldown).
    let owner = staker.owner.insecure_clone();
    let shares = desk.env.insurance_stake(&desk.fx, &owner).await.shares;
    desk.env.send(&[request_unstake_ix(&owner.pubkey(), &desk.fx.key, shares)], &[&owner]).await.ok();
    let first = desk.begin_adl(&alice).await.ok();
    let opened = &first.events::<AdlRoundOpenedV1>()[0];
    assert_eq!((opened.insurance_pays, opened.uncovered), (100 * USD, 50 * USD));
    let second = desk.begin_adl(&dan).await.ok();
    let opened = &second.events::<AdlRoundOpenedV1>()[0];
    assert_eq!((opened.insurance_pays, opened.uncovered), (0, 150 * USD), "the $100 is set aside for Alice");
    let ch = desk.env.clearinghouse(&desk.fx).await;
    assert_eq!((ch.insurance_balance, ch.insurance_reserved, ch.insurance_available()), (100 * USD, 100 * USD, 0));
    // Nor can the staker take the promised insurance out: after the cooldown, its claim waits.
    desk.env.warp(3_600, 2).await;
    desk.refresh_price().await;
    let claim = unstake_insurance_ix(&owner.pubkey(), &desk.fx, &staker.token_account);
    desk.env.send(&[claim], &[&owner]).await.expect_err(BulwarkError::InsuranceReservedForAdl);
    desk.nominate(&alice, &[], &[bob.margin_account]).await.ok();
    desk.nominate(&dan, &[], &[erin.margin_account]).await.ok();
    close_window(&mut desk).await;

    // Dan's round closes first: Erin pays his whole $150; insurance pays nothing.
    let out = desk.execute_adl(&dan, &[], &[erin.margin_account]).await.ok();
    assert_eq!(out.events::<AdlFillV1>()[0].haircut, 150 * USD);
    assert!(out.events::<InsurancePayoutV1>().is_empty());
    // Alice's: Bob pays $50 and the $100 set aside pays the rest.
    let out = desk.execute_adl(&alice, &[], &[bob.margin_account]).await.ok();
    assert_eq!(out.events::<AdlFillV1>()[0].haircut, 50 * USD);
    assert_eq!(out.events::<InsurancePayoutV1>()[0].amount, 100 * USD);
    let ch = desk.env.clearinghouse(&desk.fx).await;
    assert_eq!((ch.insurance_balance, ch.insurance_reserved, ch.bad_debt_total), (0, 0, 0));
    assert_eq!((desk.balance(&alice).await, desk.balance(&dan).await), (0, 0));
}

#[tokio::test]
async fn a_queued_winner_cannot_be_passed_over_by_leaving_its_other_market_out() {
    let (mut desk, alice, bob, carol) = two_winners_one_thin().await;
    // Carol also holds one lot in a second market.
    let second = desk.env.setup_market(&mut desk.fx, no_fees(), 100).await;
    let mm = desk.user(100_000 * USD).await;
    desk.env.place(&desk.fx, &mm, &second, order(SIDE_ASK, ORDER_TYPE_LIMIT, 100, 1), &[]).await.ok();
    let args = order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 100, 1);
    let remaining = [desk.market.key, desk.market.oracle, mm.margin_account];
    desk.env.place(&desk.fx, &carol, &second, args, &remaining).await.ok();
    let pairs = [second.key, second.oracle];
    desk.begin_adl(&alice).await.ok();
    desk.nominate(&alice, &pairs, &[carol.margin_account, bob.margin_account]).await.ok();
    close_window(&mut desk).await;
    desk.env.publish(&second.feed, 100_000_000, 0, true, 0).await;

    // Without Carol's other market the call fails: it does not skip her onto Bob.
    let out = desk.execute_adl(&alice, &[], &[carol.margin_account, bob.margin_account]).await;
    out.expect_err(BulwarkError::MissingMarketAccount);
    assert_eq!(desk.round(&alice).await.unwrap().nominee_count, 2);
    // With it, Carol pays first, as ranked.
    let out = desk.execute_adl(&alice, &pairs, &[carol.margin_account, bob.margin_account]).await.ok();
    let fills = out.events::<AdlFillV1>();
    assert_eq!((fills[0].counterparty, fills[0].haircut), (carol.margin_account, 25 * USD));
    assert_eq!((fills[1].counterparty, fills[1].haircut), (bob.margin_account, 125 * USD));
}

#[tokio::test]
async fn a_winner_grown_after_its_nomination_closes_only_the_lots_it_was_scored_with() {
    let (mut desk, alice, bob, _carol) = two_winners_one_thin().await;
    desk.begin_adl(&alice).await.ok();
    desk.nominate(&alice, &[], &[bob.margin_account]).await.ok();
    assert_eq!(desk.round(&alice).await.unwrap().queue()[0].lots, 50);
    // Bob sells 30 more after being scored.
    let mm = desk.user(100_000 * USD).await;
    desk.trade(&bob, &mm, SIDE_ASK, 88, 30).await;
    assert_eq!(desk.position(&bob).await.base_lots, -80);
    close_window(&mut desk).await;
    let out = desk.execute_adl(&alice, &[], &[bob.margin_account]).await.ok();
    // 50 of Alice's 100 lots for ⌊150 × 50/100⌋ = $75; the other 50 wait for nominations.
    let fill = &out.events::<AdlFillV1>()[0];
    assert_eq!((fill.base_lots, fill.haircut), (-50, 75 * USD));
    let reopened = &out.events::<AdlWindowReopenedV1>()[0];
    assert_eq!((reopened.remaining_lots, reopened.uncovered_left), (50, 75 * USD));
    assert_eq!(desk.position(&bob).await.base_lots, -30);
}

#[tokio::test]
async fn a_queued_winner_that_closed_its_account_is_passed_over() {
    let (mut desk, alice, bob, carol) = two_winners_one_thin().await;
    desk.begin_adl(&alice).await.ok();
    desk.nominate(&alice, &[], &[carol.margin_account, bob.margin_account]).await.ok();
    // Carol buys her 50 lots back, takes her money out and closes her account.
    let mm = desk.user(100_000 * USD).await;
    desk.trade(&mm, &carol, SIDE_ASK, 89, 50).await;
    let cash = desk.balance(&carol).await;
    let withdraw = with_remaining(
        withdraw_ix(
            &carol.owner.pubkey(),
            &desk.fx.key,
            &carol.margin_account,
            &desk.fx.collateral_vault,
            &carol.token_account,
            cash,
        ),
        &[],
    );
    let owner = carol.owner.insecure_clone();
    desk.env.send(&[withdraw], &[&owner]).await.ok();
    let close = close_margin_account_ix(&owner.pubkey(), &desk.fx.key, &carol.margin_account, &owner.pubkey());
    desk.env.send(&[close], &[&owner]).await.ok();
    assert!(desk.env.account_data(carol.margin_account).await.is_none());
    close_window(&mut desk).await;

    // The queue's head is gone: passed over, and Bob pays his share for 50 lots.
    let out = desk.execute_adl(&alice, &[], &[carol.margin_account, bob.margin_account]).await.ok();
    assert_eq!(out.events::<AdlCounterpartySkippedV1>()[0].counterparty, carol.margin_account);
    let fill = &out.events::<AdlFillV1>()[0];
    assert_eq!((fill.counterparty, fill.base_lots, fill.haircut), (bob.margin_account, -50, 75 * USD));
}

#[tokio::test]
async fn a_target_with_an_open_round_cannot_close_its_account_until_the_round_closes() {
    let (mut desk, alice, _bob, _carol) = two_winners_one_thin().await;
    desk.begin_adl(&alice).await.ok();
    // Alice recovers: $2,000 more, she sells her 100 lots to a bidder at $88 and withdraws all.
    desk.env.deposit(&desk.fx, &alice, 2_000 * USD).await.ok();
    let mm = desk.user(100_000 * USD).await;
    desk.trade(&mm, &alice, SIDE_BID, 88, 100).await;
    assert_eq!(desk.position(&alice).await.base_lots, 0);
    let owner = alice.owner.insecure_clone();
    let cash = desk.balance(&alice).await;
    let withdraw = withdraw_ix(
        &owner.pubkey(),
        &desk.fx.key,
        &alice.margin_account,
        &desk.fx.collateral_vault,
        &alice.token_account,
        cash,
    );
    desk.env.send(&[with_remaining(withdraw, &[])], &[&owner]).await.ok();
    let clearinghouse = desk.fx.key;
    let close = || close_margin_account_ix(&owner.pubkey(), &clearinghouse, &alice.margin_account, &owner.pubkey());
    desk.env.send(&[close()], &[&owner]).await.expect_err(BulwarkError::AdlRoundOpen);
    // Anyone executes the round: the target is flat, the round closes, then so may the account.
    close_window(&mut desk).await;
    let out = desk.execute_adl(&alice, &[], &[]).await.ok();
    assert_eq!(out.events::<AdlRoundClosedV1>()[0].reason, 0);
    desk.env.send(&[close()], &[&owner]).await.ok();
    assert!(desk.env.account_data(alice.margin_account).await.is_none());
}
