//! A short replay in the test suite: the first hour of the crash (20:55–21:54 UTC, the BTC
//! drop and the USDe wick) with a small population, in both collateral modes.

use bulwark_sim::replay;
use bulwark_sim::scenario::{Mode, Scenario};

#[test]
fn the_crash_hour_leaves_no_bad_debt_and_no_wrongful_liquidation_in_redemption_aware_mode() {
    // The bank and the replay are deep futures: run them on a thread with room.
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(|| tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(check()))
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn the_same_seed_gives_the_same_report() {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(|| {
            tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
                let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/crash-short.toml");
                let (mut scenario, base) = Scenario::load(&path).unwrap();
                scenario.minutes = Some(30);
                let strip = |r: &replay::RunReport| {
                    let mut v = serde_json::to_value(r).unwrap();
                    v.as_object_mut().unwrap().remove("wall_seconds");
                    v.as_object_mut().unwrap().remove("profile");
                    v
                };
                let first = replay::run(&scenario, &base, Mode::Market, &|| {}).await.unwrap();
                let second = replay::run(&scenario, &base, Mode::Market, &|| {}).await.unwrap();
                assert!(!first.liquidations.is_empty());
                assert_eq!(strip(&first), strip(&second));
            })
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn any_csv_replays_as_another_market_and_a_short_close_only_print_is_carried() {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(|| {
            tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
                let dir = std::env::temp_dir().join(format!("bulwark-sim-eth-{}", std::process::id()));
                std::fs::create_dir_all(&dir).unwrap();
                // A second series with another symbol: BTC's minutes at a thirtieth of the price.
                let btc = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../tests/data/crash-2025-10-10/btcusdt-perp-1m.csv");
                let mut eth = String::from("ts_utc,open,high,low,close\n");
                for line in std::fs::read_to_string(&btc).unwrap().lines().skip(1) {
                    let cols: Vec<&str> = line.split(',').collect();
                    let scaled: Vec<String> =
                        cols[1..5].iter().map(|p| format!("{:.2}", p.parse::<f64>().unwrap() / 30.0)).collect();
                    eth += &format!("{},{}\n", cols[0], scaled.join(","));
                }
                std::fs::write(dir.join("eth.csv"), eth).unwrap();
                // The collateral print as a close-only series that stops 10 minutes before the
                // replay does (start minute 175 + 20 minutes of rows).
                let usde = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../tests/data/crash-2025-10-10/usde-usdt-spot-1m.csv");
                let mut closes = String::from("ts_utc,price\n");
                for line in std::fs::read_to_string(&usde).unwrap().lines().skip(1).take(195) {
                    let cols: Vec<&str> = line.split(',').collect();
                    closes += &format!("{},{}\n", cols[0], cols[4]);
                }
                std::fs::write(dir.join("usde-closes.csv"), closes).unwrap();
                let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/crash-short.toml");
                let (mut scenario, base) = Scenario::load(&path).unwrap();
                let mut eth_market = scenario.markets[0].clone();
                eth_market.symbol = "ETH-PERP".into();
                eth_market.csv = dir.join("eth.csv");
                eth_market.base_lot_size = 1_000_000; // 0.01 ETH
                eth_market.tick_usd = "0.01".into();
                scenario.markets.push(eth_market);
                scenario.collateral.csv = dir.join("usde-closes.csv");
                scenario.minutes = Some(30);
                let run = replay::run(&scenario, &base, Mode::RedemptionAware, &|| {}).await.unwrap();
                assert_eq!(run.invariant_failures, 0, "{:?}", run.first_invariant_failure);
                assert_eq!((run.bad_debt, run.keeper_failures), (0, 0));
                assert_eq!(run.series[0].market_prices_usd.len(), 2);
                // 18:00 + 194 minutes: the last row, carried over the replay's last 10 minutes.
                let last_row = bulwark_sim::scenario::parse_utc("2025-10-10T21:14:00Z").unwrap();
                assert_eq!(
                    run.carried,
                    vec![bulwark_sim::replay::CarriedSeries {
                        series: "USDe".into(),
                        minutes: 10,
                        last_row_unix: last_row
                    }]
                );
                let last_close: f64 = std::fs::read_to_string(dir.join("usde-closes.csv"))
                    .unwrap()
                    .lines()
                    .last()
                    .and_then(|l| l.split(',').nth(1))
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!(run.series[20..].iter().all(|p| p.collateral_print_usd == last_close), "{last_close}");
                let symbols: std::collections::BTreeSet<&str> =
                    run.liquidations.iter().map(|l| l.market.as_str()).collect();
                assert_eq!(
                    symbols,
                    ["BTC-PERP", "ETH-PERP"].into_iter().collect(),
                    "both markets liquidate in the drop"
                );
            })
        })
        .unwrap()
        .join()
        .unwrap();
}

async fn check() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/crash-short.toml");
    let (scenario, base) = Scenario::load(&path).unwrap();
    assert_eq!(scenario.modes, vec![Mode::Market, Mode::RedemptionAware]);
    let mut runs = Vec::new();
    for mode in &scenario.modes {
        runs.push(replay::run(&scenario, &base, *mode, &|| {}).await.unwrap());
    }
    for run in &runs {
        println!(
            "{}: {} liquidations ({} by the collateral print), {} ADL fills, haircut {} / uncovered {}, bad debt {}, {} invariant checks",
            run.mode,
            run.liquidations.len(),
            run.print_caused(),
            run.adl_fills,
            run.haircut_total,
            run.uncovered_total,
            run.bad_debt,
            run.invariant_checks
        );
        assert_eq!(run.minutes, 60);
        assert_eq!(run.invariant_checks, 240, "after every sub-step");
        assert_eq!(run.invariant_failures, 0, "{:?}", run.first_invariant_failure);
        assert_eq!(run.haircut_total, run.uncovered_total, "Σ haircut == Σ uncovered shortfall");
        assert_eq!(run.bad_debt, 0, "no bad debt left");
        assert_eq!(run.keeper_failures, 0, "the keeper never sent a crank that failed");
        assert_eq!(run.keeper_lost_races, 0, "a single keeper re-plans instead of racing itself");
        assert_eq!(run.refused_transactions, 0, "every quote and order of the population was accepted");
        assert!(!run.liquidations.is_empty(), "the BTC drop liquidates someone");
    }
    let (market, aware) = (&runs[0], &runs[1]);
    assert_eq!(aware.print_caused(), 0, "no liquidation caused by the collateral print when redemption-aware");
    assert!(market.print_caused() > 0, "valued at the print, the wick liquidates solvent accounts");
    // The price-driven liquidations are the same accounts in both modes up to the wick.
    assert!(aware.liquidations.len() < market.liquidations.len());
}

/// The crash hour with thin insurance and 15–35x leverage: bankruptcies outrun insurance, so
/// ADL rounds cut winners — exactly the uncovered shortfall, from profit only, with nothing
/// written off — while every peer policy, replayed on the same episodes, takes more or charges
/// the wrong accounts.
#[test]
fn with_thin_insurance_adl_cuts_exactly_the_uncovered_shortfall_and_peers_cut_more() {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(|| {
            tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
                let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/crash-short.toml");
                let (scenario, base) = Scenario::load(&path).unwrap();
                let stressed = scenario.stressed(&scenario.stress[0]);
                let run = replay::run(&stressed, &base, stressed.modes[0], &|| {}).await.unwrap();
                assert_eq!(run.mode, "market_35x_thin_insurance");
                assert_eq!(run.invariant_failures, 0, "{:?}", run.first_invariant_failure);
                assert!(run.uncovered_total > 0, "insurance runs short");
                assert_eq!(run.haircut_total, run.uncovered_total, "Σ haircut == Σ uncovered shortfall, to the atom");
                assert_eq!((run.bad_debt_written_off, run.bad_debt, run.keeper_failures), (0, 0, 0));
                for episode in &run.adl {
                    assert_eq!(episode.haircut + episode.bad_debt, episode.uncovered, "{episode:?}");
                }
                let bulwark = &run.policies[0];
                assert_eq!(bulwark.policy, bulwark_sim::policies::BULWARK);
                assert_eq!(
                    (bulwark.over_cut, bulwark.principal_beyond_profit, bulwark.losers_or_flat_charged),
                    (0, 0, 0)
                );
                assert_eq!(bulwark.taken, run.haircut_total as u128);
                let by_name = |name: &str| run.policies.iter().find(|p| p.policy.starts_with(name)).unwrap();
                // Queues at the bankruptcy price ignore insurance: they over-cut by what it paid.
                assert!(by_name("ranked queue at bankruptcy").over_cut > 0);
                assert!(by_name("ranked queue, whole").over_cut >= by_name("ranked queue at bankruptcy").over_cut);
                assert!(by_name("socialized").losers_or_flat_charged > 0, "socialization charges losers");

                // At 15–35x, redemption-aware, the print still causes no liquidation.
                let aware = replay::run(&stressed, &base, Mode::RedemptionAware, &|| {}).await.unwrap();
                assert!(!aware.liquidations.is_empty(), "the drop liquidates at this leverage");
                assert_eq!(
                    aware.print_caused(),
                    0,
                    "{:?}",
                    aware.liquidations.iter().find(|l| l.caused_by_collateral_print)
                );
                assert_eq!(aware.invariant_failures, 0, "{:?}", aware.first_invariant_failure);
            })
        })
        .unwrap()
        .join()
        .unwrap();
}
