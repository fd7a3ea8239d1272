//! The crash hour with the default scenario's attacker population acting every minute: the
//! attacks gain nothing, cost honest users nothing and break no invariant.

use bulwark_sim::attacker::AttackReport;
use bulwark_sim::replay::{self, RunReport};
use bulwark_sim::scenario::{Mode, Scenario};

/// Run `f` on a thread with room: the bank and the replay are deep futures.
fn on_a_big_stack(f: fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>) {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f()))
        .unwrap()
        .join()
        .unwrap();
}

/// The short scenario with the default scenario's attackers, acting every minute.
async fn crash_hour_with_attackers(mode: Mode) -> RunReport {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let (default, _) = Scenario::load(&dir.join("crash-2025-10-10.toml")).unwrap();
    let (mut scenario, base) = Scenario::load(&dir.join("crash-short.toml")).unwrap();
    let mut attacker = default.attacker.expect("the default scenario has an attacker population");
    attacker.every_minutes = 1;
    scenario.attacker = Some(attacker);
    let run = replay::run(&scenario, &base, mode, &|| {}).await.unwrap();
    println!("{}: {}", run.mode, serde_json::to_string_pretty(run.attacker.as_ref().unwrap()).unwrap());
    run
}

fn refused(a: &AttackReport, key: &str) -> u64 {
    a.refused_by_error.iter().find(|(k, _)| k == key).map(|(_, n)| *n).unwrap_or(0)
}

/// What holds in every mode: the invariants, every attack tried, the book never closed to the
/// makers, no honest user's loss made by a fill.
fn check_common(run: &RunReport) {
    let a = run.attacker.as_ref().unwrap();
    assert_eq!(run.invariant_failures, 0, "{:?}", run.first_invariant_failure);
    assert_eq!(run.refused_transactions, 0, "the attacker kept no honest quote off the book");
    // 60 minutes × 4 owners: four of each turn's six far orders lie outside the resting band.
    assert_eq!(refused(a, "far_orders: OrderPriceOutOfBand"), 960);
    assert!(a.hedged_opens > 0 && a.hedged_closes > 0, "the hedged pairs traded");
    assert!(a.orders_evicted > 0, "the makers' quotes evicted the jam");
    let self_liquidation = a.by_strategy.iter().find(|s| s.strategy == "self_liquidation").map_or(0, |s| s.sent);
    assert!(a.deposit_pings > 0 && self_liquidation > 0, "liquidatable attacker accounts reacted");
    assert_eq!(a.sent, a.by_strategy.iter().map(|s| s.sent).sum::<u64>());
    assert_eq!(a.refused, a.refused_by_error.iter().map(|(_, n)| n).sum::<u64>());
    let fill_made = a.honest_loss - a.insurance_for_attacker_price_made;
    assert_eq!(fill_made, 0, "honest loss made by fills: {:#?}", a.incidents);
}

#[test]
fn the_attacker_population_gains_nothing_in_the_crash_hour_when_redemption_aware() {
    on_a_big_stack(|| {
        Box::pin(async {
            let run = crash_hour_with_attackers(Mode::RedemptionAware).await;
            check_common(&run);
            let a = run.attacker.as_ref().unwrap();
            assert!(a.gain <= 0, "attacker gain {}: {:#?}", a.gain, a.incidents);
            assert_eq!(a.honest_loss, 0, "{:#?}", a.incidents);
            assert_eq!(run.bad_debt, 0);
        })
    });
}

/// Valued at the print, the collateral's wick moves every position at once by far more than
/// its margin: a hedged pair's losing account goes below zero between two sub-steps (a deficit
/// a price move made, the insurance vault's to pay, reported apart). No deficit may come from
/// a fill.
#[test]
fn no_fill_makes_an_attacker_deficit_in_the_crash_hour_valued_at_the_print() {
    on_a_big_stack(|| {
        Box::pin(async {
            let run = crash_hour_with_attackers(Mode::Market).await;
            check_common(&run);
        })
    });
}
