//! The TypeScript client's health and ADL math is checked against this crate's: this test
//! computes `app/fixtures/health.json` (format: `app/fixtures/FIXTURE.md`) with the SDK's own
//! functions and fails when the committed file differs. `BULWARK_WRITE_FIXTURES=1 cargo test
//! -p bulwark-sdk --test health_fixture` rewrites it.

use std::path::PathBuf;

use anchor_lang::prelude::Pubkey;
use bulwark_sdk::adl::{indicators, score, RankedCounterparty};
use bulwark_sdk::bulwark::math::liquidation::is_liquidatable;
use bulwark_sdk::bulwark::state::{MarginAccount, Market, PerpPosition, PodI128, ACCOUNT_FLAG_BEING_LIQUIDATED};
use bulwark_sdk::health::{health, market_price, position_risks};
use serde_json::{json, Value};

/// (index, tick size, quote per lot-tick, initial bps, maintenance bps, size premium bps,
/// premium unit lots, cumulative funding per lot, price).
type MarketCase = (u16, u64, u64, u32, u32, u32, u64, i128, i64);
/// (market index, base lots, quote entry, open bid lots, open ask lots, open orders,
/// last cumulative funding).
type PositionCase = (u16, i64, i64, i64, i64, u8, i128);

struct Case {
    name: &'static str,
    buffer_bps: u32,
    markets: Vec<MarketCase>,
    balance: u64,
    status_flags: u8,
    positions: Vec<PositionCase>,
}

fn text(v: impl ToString) -> Value {
    Value::String(v.to_string())
}

fn market(&(index, tick, quote_per_lot_tick, im, mm, premium, unit, funding, _): &MarketCase) -> Market {
    let mut m: Market = bytemuck::Zeroable::zeroed();
    m.index = index;
    m.params.tick_size = tick;
    m.params.initial_margin_bps = im;
    m.params.maintenance_margin_bps = mm;
    m.params.size_premium_bps = premium;
    m.params.size_premium_unit_lots = unit;
    m.quote_per_lot_tick = quote_per_lot_tick;
    m.cumulative_funding_per_lot = PodI128::new(funding);
    m
}

fn account(c: &Case) -> MarginAccount {
    let mut a: MarginAccount = bytemuck::Zeroable::zeroed();
    a.collateral_balance = c.balance;
    a.status_flags = c.status_flags;
    for (slot, &(market_index, base_lots, quote_entry, open_bid_lots, open_ask_lots, open_order_count, last)) in
        c.positions.iter().enumerate()
    {
        a.positions[slot] = PerpPosition {
            market_index,
            base_lots,
            quote_entry,
            open_bid_lots,
            open_ask_lots,
            open_order_count,
            last_cumulative_funding: PodI128::new(last),
            ..Default::default()
        };
    }
    a
}

fn case_json(c: &Case) -> Value {
    let markets: Vec<Market> = c.markets.iter().map(market).collect();
    let prices: Vec<_> = markets.iter().zip(&c.markets).map(|(m, s)| market_price(m, s.8)).collect();
    let a = account(c);
    let h = health(&a, &prices).expect("every held market is priced");
    let flagged = c.status_flags & ACCOUNT_FLAG_BEING_LIQUIDATED != 0;
    json!({
        "name": c.name,
        "liquidation_buffer_bps": text(c.buffer_bps),
        "markets": c.markets.iter().map(|&(index, tick, qplt, im, mm, premium, unit, funding, price)| json!({
            "index": text(index), "tick_size": text(tick), "quote_per_lot_tick": text(qplt),
            "initial_margin_bps": text(im), "maintenance_margin_bps": text(mm), "size_premium_bps": text(premium),
            "size_premium_unit_lots": text(unit), "cumulative_funding_per_lot": text(funding), "price": text(price),
        })).collect::<Vec<_>>(),
        "account": {
            "collateral_balance": text(c.balance), "status_flags": text(c.status_flags),
            "positions": c.positions.iter().map(|&(m, base, quote, bid, ask, orders, last)| json!({
                "market_index": text(m), "base_lots": text(base), "quote_entry": text(quote), "open_bid_lots": text(bid),
                "open_ask_lots": text(ask), "open_order_count": text(orders), "last_cumulative_funding": text(last),
            })).collect::<Vec<_>>(),
        },
        "expected": {
            "equity": text(h.equity), "initial_requirement": text(h.initial_requirement),
            "maintenance_requirement": text(h.maintenance_requirement), "free_collateral": text(h.free_collateral()),
            "meets_initial": h.meets_initial(), "meets_maintenance": h.meets_maintenance(),
            "liquidatable": is_liquidatable(&h, flagged, c.buffer_bps).unwrap(),
            "positions": position_risks(&a, &prices).unwrap().iter().map(|r| json!({
                "market_index": text(r.market_index), "unrealized_pnl": text(r.unrealized_pnl),
                "liquidation_price": r.liquidation_price.map(text), "bankruptcy_price": r.bankruptcy_price.map(text),
                "adl_score": score(&a, r.market_index, &prices).map(text),
            })).collect::<Vec<_>>(),
        },
    })
}

fn indicator_case(name: &str, scores: &[u128]) -> Value {
    let ranked: Vec<RankedCounterparty> = scores
        .iter()
        .map(|&score| RankedCounterparty { margin_account: Pubkey::default(), score, base_lots: 1 })
        .collect();
    json!({
        "name": name,
        "scores": scores.iter().map(text).collect::<Vec<_>>(),
        "expected": indicators(&ranked).iter().map(text).collect::<Vec<_>>(),
    })
}

#[test]
fn the_typescript_health_fixture_matches_the_sdk() {
    let simple = |index: u16, price: i64| -> MarketCase { (index, 1_000_000, 1_000_000, 1_000, 500, 0, 0, 0, price) };
    let cases = [
        Case {
            name: "sdk health test: 100 lots long from $100 with $1,090 at $93.5",
            buffer_bps: 1_000,
            markets: vec![simple(0, 93_500_000)],
            balance: 1_090_000_000,
            status_flags: 0,
            positions: vec![(0, 100, -10_000_000_000, 0, 0, 0, 0)],
        },
        Case {
            name: "two markets: size premium, resting orders on both sides, unsettled funding",
            buffer_bps: 1_000,
            markets: vec![
                (0, 100_000, 10, 1_000, 500, 10, 100, 150, 100_000_000_000),
                (1, 1_000_000, 1_000_000, 2_000, 1_000, 0, 0, -20, 50_000_000),
            ],
            balance: 300_000_000,
            status_flags: 0,
            positions: vec![(0, 250, -2_400_000_000, 0, 50, 1, 100), (1, -40, 2_200_000_000, 10, 0, 1, 0)],
        },
        Case {
            name: "flat with 5 lots bid: initial margin on the orders, no maintenance, no position risk",
            buffer_bps: 1_000,
            markets: vec![simple(0, 100_000_000)],
            balance: 100_000_000,
            status_flags: 0,
            positions: vec![(0, 0, 0, 5, 0, 1, 0)],
        },
        Case {
            name: "short past bankruptcy, flagged: negative equity, liquidation price under the oracle",
            buffer_bps: 1_000,
            markets: vec![simple(0, 101_500_000)],
            balance: 10_000_000,
            status_flags: 1,
            positions: vec![(0, -10, 1_000_000_000, 0, 0, 0, 0)],
        },
        Case {
            name: "above maintenance but under the buffer, flagged: still liquidatable",
            buffer_bps: 1_000,
            markets: vec![simple(0, 100_000_000)],
            balance: 52_500_000,
            status_flags: 1,
            positions: vec![(0, 10, -1_000_000_000, 0, 0, 0, 0)],
        },
    ];
    let fixture = json!({
        "format": "bulwark-health-fixture",
        "version": 1,
        "source": "sdk/tests/health_fixture.rs",
        "cases": cases.iter().map(case_json).collect::<Vec<_>>(),
        "adl_indicator_cases": [
            indicator_case(
                "sdk batch test: ties share a light, a zero score has none",
                &[900, 900, 800, 700, 700, 700, 300, 200, 200, 100, 50, 0],
            ),
            indicator_case("math adl quintiles over ten scores", &[900, 800, 700, 600, 500, 400, 300, 200, 100, 50]),
        ],
    });
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../app/fixtures/health.json");
    if std::env::var_os("BULWARK_WRITE_FIXTURES").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&fixture).unwrap() + "\n").unwrap();
        return;
    }
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("app/fixtures/health.json"))
        .expect("the fixture is JSON");
    for key in ["format", "version", "cases", "adl_indicator_cases"] {
        assert_eq!(
            committed[key], fixture[key],
            "app/fixtures/health.json differs from the SDK in `{key}`: rerun with BULWARK_WRITE_FIXTURES=1"
        );
    }
}
