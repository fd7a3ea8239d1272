//! The economic invariant checker itself: each rule fires, by name, on a transaction that breaks
//! it, and stays quiet on one that does not (the property tests rely on it firing).

use std::collections::BTreeMap;

use anchor_lang::prelude::*;
use anchor_lang::Event;
use base64::prelude::*;
use bulwark::events::*;
use bulwark::math::margin::Health;
use bulwark::state::*;
use bulwark_tests::economic::{economic_violations, AccountView, EconomicState};
use bulwark_tests::*;

const PRICE: i64 = 100_000_000; // $100: 100 ticks; the 4% fill band is 96..=104

fn key(n: u8) -> Pubkey {
    Pubkey::new_from_array([n; 32])
}

fn view(equity: i128, maintenance: i128) -> AccountView {
    let mut account: MarginAccount = bytemuck::Zeroable::zeroed();
    if maintenance > 0 {
        account.positions[0].base_lots = 10;
    }
    AccountView {
        account,
        health: Health { equity, initial_requirement: 2 * maintenance, maintenance_requirement: maintenance },
    }
}

/// Two accounts (1 and 2), both healthy: equity 1,000, maintenance 500.
fn state(accounts: &[(u8, AccountView)]) -> EconomicState {
    let mut market: Market = bytemuck::Zeroable::zeroed();
    market.params = simple_market_params();
    let mut all = BTreeMap::new();
    for n in [1u8, 2] {
        all.insert(key(n), view(1_000, 500));
    }
    for (n, v) in accounts {
        all.insert(key(*n), *v);
    }
    EconomicState { price: PRICE, market, waterfall: default_waterfall(), insurance_balance: 0, accounts: all }
}

fn outcome(instruction: &str, events: &[Vec<u8>]) -> TxOutcome {
    let mut logs = vec![format!("Program log: Instruction: {instruction}")];
    logs.extend(events.iter().map(|e| format!("Program data: {}", BASE64_STANDARD.encode(e))));
    TxOutcome { result: Ok(()), logs, compute_units: 0 }
}

fn fill(price_ticks: u64) -> Vec<u8> {
    FillV1 {
        market: key(9),
        maker: key(1),
        taker: key(2),
        maker_order_id: 0,
        taker_side: SIDE_BID,
        price_ticks,
        base_lots: 1,
        quote: price_ticks * 1_000_000,
        taker_fee: 0,
        maker_fee: 0,
    }
    .data()
}

fn liquidation(account: u8, fee: u64, quote: u64, equity_before: i64, equity_after: i64) -> Vec<u8> {
    LiquidationV1 {
        clearinghouse: key(8),
        market: key(9),
        margin_account: key(account),
        liquidator: key(7),
        kind: LIQUIDATION_KIND_TAKEOVER,
        base_lots: -1,
        oracle_price: PRICE,
        quote,
        fee,
        liquidator_reward: fee,
        insurance_fee: 0,
        equity_before,
        equity_after,
        maintenance_after: 0,
        still_liquidating: false,
    }
    .data()
}

fn payout(account: u8, amount: u64) -> Vec<u8> {
    InsurancePayoutV1 { clearinghouse: key(8), margin_account: key(account), amount, insurance_balance_after: 0 }.data()
}

#[track_caller]
fn assert_fires(before: &EconomicState, out: &TxOutcome, after: &EconomicState, rule: &str) {
    let violations = economic_violations(before, out, after);
    assert!(violations.iter().any(|v| v.starts_with(rule)), "expected \"{rule}\", got {violations:?}");
}

#[test]
fn every_economic_rule_fires_on_a_breach_and_not_otherwise() {
    let quiet = state(&[]);
    // An in-band fill between healthy accounts breaks nothing.
    assert_eq!(economic_violations(&quiet, &outcome("PlaceOrder", &[fill(104)]), &quiet), Vec::<String>::new());

    assert_fires(&quiet, &outcome("PlaceOrder", &[fill(105)]), &quiet, "fill outside the band");

    // The maker met maintenance, and the fill left it below zero.
    let after = state(&[(1, view(-10, 250))]);
    assert_fires(&quiet, &outcome("PlaceOrder", &[fill(100)]), &after, "a fill took");
    // Under its initial requirement with a lower equity/maintenance ratio (2.0 -> 1.6).
    let after = state(&[(1, view(400, 250))]);
    assert_fires(&quiet, &outcome("PlaceOrder", &[fill(100)]), &after, "a fill left");

    // Insurance never pays in an order's transaction.
    let flat = state(&[(1, view(0, 0))]);
    assert_fires(
        &quiet,
        &outcome("PlaceOrder", &[fill(100), payout(1, 5)]),
        &flat,
        "insurance paid 5 atoms of a fill's",
    );

    // A takeover of an account that met maintenance, and a fee over the schedule (2.5% of
    // $100 = $2.50) and over the account's equity.
    let liquidated = state(&[(1, view(0, 0))]);
    let out = outcome("LiquidateTakeover", &[liquidation(1, 2_500_001, 100_000_000, 1_000, -1)]);
    assert_fires(&quiet, &out, &liquidated, "liquidated");
    assert_fires(&quiet, &out, &liquidated, "liquidation fee 2500001 over the schedule");
    assert_fires(&quiet, &out, &liquidated, "liquidation fee 2500001 over the equity left");
    assert_fires(&quiet, &out, &liquidated, "takeover fee");
    // Insurance paying an account that met maintenance before.
    assert_fires(&quiet, &outcome("LiquidateTakeover", &[payout(1, 5)]), &liquidated, "insurance paid 5 atoms to");
    // Insurance paying more than the deficit the account had before its liquidation.
    let bankrupt = state(&[(1, view(-100, 500))]);
    assert_eq!(
        economic_violations(&bankrupt, &outcome("LiquidateTakeover", &[payout(1, 100)]), &liquidated),
        Vec::<String>::new()
    );
    assert_fires(
        &bankrupt,
        &outcome("LiquidateTakeover", &[payout(1, 105)]),
        &liquidated,
        "insurance paid 105 atoms to",
    );
    // A liquidation that leaves the account further from its buffer.
    let under = state(&[(1, view(400, 500))]);
    let worse = state(&[(1, view(100, 450))]);
    let out = outcome("LiquidateTakeover", &[liquidation(1, 0, 1_000, 400, 100)]);
    assert_fires(&under, &out, &worse, "liquidation widened");
    assert_fires(&under, &out, &worse, "liquidation took 300 atoms");

    // ADL of a healthy account.
    let adl = AdlFillV1 {
        clearinghouse: key(8),
        market: key(9),
        target: key(1),
        counterparty: key(2),
        base_lots: -1,
        oracle_price: PRICE,
        quote: 0,
        haircut: 0,
        score: 0,
        deficit: 0,
        insurance_pays: 0,
        uncovered: 0,
        market_uncovered: 0,
    }
    .data();
    assert_fires(&quiet, &outcome("AutoDeleverage", &[adl]), &quiet, "ADL of");

    // An ADL haircut past the winner's profit: long 10 lots bought at $99.50, $5 up at $100;
    // closing 1 lot may cost it at most $0.50.
    let mut winner = view(1_000, 500);
    winner.account.positions[0].quote_entry = -995_000_000;
    let mut priced = state(&[(1, view(-100, 500)), (2, winner)]);
    priced.market.quote_per_lot_tick = 1_000_000;
    let adl_haircut = |haircut: u64| {
        AdlFillV1 {
            clearinghouse: key(8),
            market: key(9),
            target: key(1),
            counterparty: key(2),
            base_lots: 1,
            oracle_price: PRICE,
            quote: 0,
            haircut,
            score: 0,
            deficit: 0,
            insurance_pays: 0,
            uncovered: 0,
            market_uncovered: 0,
        }
        .data()
    };
    let over = outcome("AutoDeleverage", &[adl_haircut(500_001)]);
    assert_fires(&priced, &over, &priced, "ADL took 500001 atoms from");
    let within = outcome("AutoDeleverage", &[adl_haircut(500_000)]);
    assert!(!economic_violations(&priced, &within, &priced).iter().any(|v| v.contains("more than its")));

    // A deposit moving the ADL grace clock.
    let mut clocked = view(400, 500);
    clocked.account.liquidatable_since_slot = 7;
    let (before, mut after) = (state(&[(1, clocked)]), state(&[(1, clocked)]));
    after.accounts.get_mut(&key(1)).unwrap().account.liquidatable_since_slot = 9;
    assert_fires(&before, &outcome("Deposit", &[]), &after, "a deposit moved");
}
