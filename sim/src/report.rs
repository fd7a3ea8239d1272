//! The replay's report: a terminal table, `report.md`, `report.json` and PNG plots.

use std::path::Path;

use anyhow::{Context, Result};
use plotters::prelude::*;
use serde::Serialize;

use crate::replay::RunReport;

#[derive(Serialize)]
pub struct Report<'a> {
    pub scenario: &'a str,
    pub seed: u64,
    pub machine: String,
    pub runs: &'a [RunReport],
}

fn atoms(x: u64) -> String {
    format!("{:.2}", x as f64 / 1e6)
}

fn signed_atoms(x: i64) -> String {
    format!("{:.2}", x as f64 / 1e6)
}

/// `12,345,678.90` (`-` first when negative).
fn dollars(x: f64) -> String {
    let cents = (x * 100.0).round() as i128;
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.abs();
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{:02}", cents % 100)
}

/// `2025-10-10 21:20` from unix seconds.
fn utc_text(unix: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix) {
        Ok(t) => format!("{}-{:02}-{:02} {:02}:{:02}", t.year(), t.month() as u8, t.day(), t.hour(), t.minute()),
        Err(_) => unix.to_string(),
    }
}

/// Rows of the summary: (figure, value per run).
fn rows(runs: &[RunReport]) -> Vec<(&'static str, Vec<String>)> {
    let col = |f: &dyn Fn(&RunReport) -> String| runs.iter().map(f).collect::<Vec<_>>();
    let mut rows = vec![
        ("minutes replayed", col(&|r| r.minutes.to_string())),
        ("margin accounts", col(&|r| r.accounts.to_string())),
        ("liquidation events", col(&|r| r.liquidations.len().to_string())),
        ("  caused by the collateral print", col(&|r| r.print_caused().to_string())),
        ("  price-driven", col(&|r| (r.liquidations.len() - r.print_caused()).to_string())),
        ("insurance paid", col(&|r| atoms(r.insurance_paid))),
        ("insurance start → end", col(&|r| format!("{} → {}", atoms(r.insurance_start), atoms(r.insurance_end)))),
        ("ADL fills", col(&|r| r.adl_fills.to_string())),
        ("Σ haircut", col(&|r| atoms(r.haircut_total))),
        ("Σ uncovered shortfall", col(&|r| atoms(r.uncovered_total))),
        (
            "ADL rounds (restarts)",
            col(&|r| format!("{} ({})", r.adl.len(), r.adl.iter().map(|a| a.restarts as u64).sum::<u64>())),
        ),
        (
            "ADL eligible → flat, slots (median / max)",
            col(&|r| {
                let mut slots: Vec<u64> = r.adl.iter().map(|a| a.eligible_to_flat_slots).collect();
                slots.sort_unstable();
                match (slots.get(slots.len() / 2), slots.last()) {
                    (Some(median), Some(max)) => format!("{median} / {max}"),
                    _ => "-".into(),
                }
            }),
        ),
        ("bad debt written off by ADL", col(&|r| atoms(r.bad_debt_written_off))),
        ("bad debt left", col(&|r| atoms(r.bad_debt))),
        ("invariant checks (failed)", col(&|r| format!("{} ({})", r.invariant_checks, r.invariant_failures))),
        ("transactions (refused)", col(&|r| format!("{} ({})", r.transactions, r.refused_transactions))),
        (
            "keeper cranks (lost races, failures)",
            col(&|r| format!("{} ({}, {})", r.keeper_cranks, r.keeper_lost_races, r.keeper_failures)),
        ),
        ("keeper reaction, slots (median / max)", col(&|r| format!("{} / {}", r.reaction_median(), r.reaction_max()))),
    ];
    if runs.iter().any(|r| r.attacker.is_some()) {
        let attack = |f: &dyn Fn(&crate::attacker::AttackReport) -> String| {
            col(&|r| r.attacker.as_ref().map(f).unwrap_or_else(|| "-".into()))
        };
        rows.extend([
            ("attacker gain", attack(&|a| signed_atoms(a.gain))),
            ("honest loss to the attacker", attack(&|a| atoms(a.honest_loss))),
            (
                "  insurance / haircuts / off-market fills",
                attack(&|a| {
                    format!(
                        "{} / {} / {}",
                        atoms(a.insurance_for_attacker),
                        atoms(a.haircuts_from_honest),
                        atoms(a.off_market_fills)
                    )
                }),
            ),
            ("attacker transactions (refused)", attack(&|a| format!("{} ({})", a.sent, a.refused))),
        ]);
    }
    rows.push(("wall time, s", col(&|r| format!("{:.1}", r.wall_seconds))));
    rows
}

pub fn table(runs: &[RunReport]) -> String {
    let rows = rows(runs);
    let width = rows.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    let cols: Vec<usize> = (0..runs.len())
        .map(|i| rows.iter().map(|(_, v)| v[i].chars().count()).chain([runs[i].mode.len()]).max().unwrap_or(0))
        .collect();
    let mut out = format!("{:width$}", "", width = width);
    for (r, w) in runs.iter().zip(&cols) {
        out += &format!("  {:>w$}", r.mode, w = w);
    }
    out.push('\n');
    for (k, v) in &rows {
        out += &format!("{k:width$}");
        for (value, w) in v.iter().zip(&cols) {
            out += &format!("  {value:>w$}");
        }
        out.push('\n');
    }
    out
}

pub fn markdown(report: &Report) -> String {
    let mut out =
        format!("# Bulwark replay: {}\n\nSeed {}; machine: {}.\n\n", report.scenario, report.seed, report.machine);
    out += "| figure |";
    for r in report.runs {
        out += &format!(" {} |", r.mode);
    }
    out += "\n|---|";
    out += &"---:|".repeat(report.runs.len());
    out.push('\n');
    for (k, v) in rows(report.runs) {
        out += &format!("| {} |", k.trim());
        for value in v {
            out += &format!(" {value} |");
        }
        out.push('\n');
    }
    out += "\nLiquidation events count each partial close. A liquidation is *caused by the collateral print* \
            when the account, as the keeper's scan before it saw it, would not have been liquidatable with the \
            collateral valued at its attested redemption rate, by the program's own test: under maintenance, or \
            flagged and under the buffer, with the flag the account would carry at that valuation (set when a \
            scan saw it under maintenance there, cleared when one saw it above the buffer); see \
            `sim/src/cause.rs`. \
            Amounts are in collateral units. \
            Σ uncovered shortfall is the deficit insurance could not pay, counted once per ADL round (a target in a \
            market) that filled: the round's shortfall at its last (re)start plus the haircuts it took before that \
            restart, or only what it took when it ended without closing the target (healthy again, or closed by a \
            liquidation once insurance could pay). \
            Each round takes nominations for the scenario's window (`adl_nomination_slots`) before it fills; \
            *eligible → flat* runs from the slot the target was first seen liquidatable (the round's opening when \
            it never was flagged) to the slot it was flat in the market.\n";
    if report.runs.iter().any(|r| r.attacker.is_some()) {
        out += "\nThe attacker population: owners with two margin accounts each that trade against each other \
                (hedged pairs at the fill band's edges, reduce-only included), rest far and absurd orders, jam a \
                book side, ping deposits while liquidatable, steer the mark before `update_funding` and liquidate \
                themselves into their own orders. *Attacker gain* is Σ over attacker accounts of equity at the end + \
                withdrawals − deposits, less the price PnL of their net position (a directional bet is no attack); \
                goal ≤ 0. *Honest loss to the attacker* is insurance paid for attacker accounts' deficits + haircuts \
                honest counterparties paid deleveraging attacker accounts + what honest takers lost against the \
                oracle filling attacker orders; goal 0.\n";
    }
    for r in report.runs {
        if let Some(a) = &r.attacker {
            let refused: Vec<String> = a.refused_by_error.iter().map(|(e, n)| format!("{e} {n}")).collect();
            out += &format!(
                "\nAttacker ({}): {} owners, {} hedged opens and {} closes, {} deposit pings, {} self-liquidations, \
                 {} funding cranks (largest steered mark offset {} bps), {} orders evicted, {} removed out of band. \
                 Refused: {}.\n",
                r.mode,
                a.owners,
                a.hedged_opens,
                a.hedged_closes,
                a.deposit_pings,
                a.self_liquidations,
                a.funding_cranks,
                a.steered_mark_offset_bps,
                a.orders_evicted,
                a.orders_removed_out_of_band,
                if refused.is_empty() { "none".into() } else { refused.join(", ") }
            );
            for i in a.incidents.iter().take(10) {
                out += &format!(
                    "- minute {} sub-step {}: {} of {} ({} attacker, {} honest)\n",
                    i.minute,
                    i.substep,
                    i.kind,
                    atoms(i.amount),
                    i.attacker_account,
                    i.honest_account.as_deref().unwrap_or("-")
                );
            }
        }
    }
    out += "\nWhere the wall time went, seconds (setup / prices / population / keeper scan / keeper plan / keeper \
            cranks / bookkeeping / invariants):";
    for r in report.runs {
        let p = &r.profile;
        out += &format!(
            " {} {:.1} / {:.1} / {:.1} / {:.1} / {:.1} / {:.1} / {:.1} / {:.1};",
            r.mode,
            p.setup,
            p.prices,
            p.population,
            p.keeper_scan,
            p.keeper_plan,
            p.keeper_cranks,
            p.bookkeeping,
            p.invariants
        );
    }
    out.pop();
    out += ".\n";
    for r in report.runs {
        for c in &r.carried {
            out += &format!(
                "\nCarried ({}): the {} series has no row for {} of the replayed minutes; each replayed at its last \
                 price before it (the series' last row used is {} UTC).\n",
                r.mode,
                c.series,
                c.minutes,
                utc_text(c.last_row_unix)
            );
        }
    }
    for r in report.runs {
        if !r.policies.is_empty() {
            out += &format!("\n### ADL policies on this run's episodes ({})\n\n", r.mode);
            out += &policy_markdown(r);
        }
    }
    if report.runs.iter().any(|r| !r.policies.is_empty()) {
        out += POLICY_NOTE;
        let (needed, taken) = crate::hyperliquid::totals();
        out += &format!(
            "\nFor reference, Hyperliquid's real ADL on 10 October 2025 — their night, not this replay: over {} \
             waves it took ${} from winners where ${} was needed, {:.2}× (over-cut ${}). Per-wave figures and \
             source: `sim/src/hyperliquid.rs`; plotted beside this replay's episodes in `overcut.png` and \
             `waves.png`.\n",
            crate::hyperliquid::WAVES.len(),
            dollars(taken),
            dollars(needed),
            taken / needed,
            dollars(taken - needed)
        );
    }
    for r in report.runs {
        let lost: Vec<String> = r.keeper_lost_races_by_error.iter().map(|(e, n)| format!("{e} {n}")).collect();
        if !lost.is_empty() {
            out += &format!("\nKeeper lost races ({}): {}.\n", r.mode, lost.join(", "));
        }
        let failed: Vec<String> = r.keeper_failures_by_reason.iter().map(|(e, n)| format!("{e} {n}")).collect();
        if !failed.is_empty() {
            out += &format!("\nKeeper failures ({}): {}.\n", r.mode, failed.join(", "));
        }
        if let Some(f) = &r.first_invariant_failure {
            out += &format!("\nFirst invariant failure ({}): {f}\n", r.mode);
        }
    }
    out += "\nPlots: `price.png` (price path; below it one lane per mode with its liquidations and ADL \
            episodes), `insurance.png`, `collateral.png`";
    if report.runs.iter().any(|r| !r.policies.is_empty()) {
        out += ", `overcut.png` (each policy's take as a share of the uncovered shortfall), `waves.png` (per \
                episode, beside Hyperliquid's waves)";
    }
    out += ".\n";
    out
}

const POLICY_NOTE: &str = "\nEach ADL episode (a round, from its opening to the target flat) is replayed \
    under every policy on the state the program saw when the round opened: every open position in the market \
    at the round's price, the target's deficit `D` and the shortfall insurance could not pay `U`. *Over-cut* \
    is what a policy takes beyond `U` (negative: `U` left unpaid); *principal* is what it takes beyond the \
    profit of the lots it closes (or of the whole position when it closes none); *≤ 2x* counts touched \
    accounts at two times leverage or less. Definitions and sources: `sim/src/policies.rs`.\n";

/// One row per policy: the run's episodes summed.
fn policy_rows(r: &RunReport) -> Vec<[String; 8]> {
    r.policies
        .iter()
        .map(|p| {
            [
                p.policy.to_string(),
                atoms(p.taken as u64),
                signed_atoms(p.over_cut as i64),
                p.accounts_touched.to_string(),
                p.touched_at_most_2x.to_string(),
                atoms(p.principal_beyond_profit as u64),
                p.losers_or_flat_charged.to_string(),
                atoms(p.makers_lost as u64),
            ]
        })
        .collect()
}

const POLICY_HEADER: [&str; 8] =
    ["policy", "taken", "over-cut", "accounts", "≤ 2x", "principal", "losers charged", "makers lost"];

fn policy_markdown(r: &RunReport) -> String {
    let mut out = format!("| {} |\n|---|{}\n", POLICY_HEADER.join(" | "), "---:|".repeat(POLICY_HEADER.len() - 1));
    for row in policy_rows(r) {
        out += &format!("| {} |\n", row.join(" | "));
    }
    out
}

/// The policy table for the terminal, one block per run that had an ADL episode.
pub fn policy_table(runs: &[RunReport]) -> String {
    let mut out = String::new();
    for r in runs.iter().filter(|r| !r.policies.is_empty()) {
        let rows = policy_rows(r);
        let widths: Vec<usize> = (0..POLICY_HEADER.len())
            .map(|i| {
                rows.iter()
                    .map(|row| row[i].chars().count())
                    .chain([POLICY_HEADER[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        out += &format!("\nADL policies on the {} run's {} episode(s):\n", r.mode, r.adl.len());
        let line = |cells: Vec<String>| {
            cells
                .iter()
                .enumerate()
                .map(
                    |(i, c)| if i == 0 { format!("{c:<w$}", w = widths[0]) } else { format!("{c:>w$}", w = widths[i]) },
                )
                .collect::<Vec<_>>()
                .join("  ")
        };
        out += &line(POLICY_HEADER.iter().map(|h| h.to_string()).collect());
        out.push('\n');
        for row in rows {
            out += &line(row.to_vec());
            out.push('\n');
        }
    }
    out
}

/// The first of these fonts that exists is used for the plots' text; without one the plots
/// are drawn without text.
const FONT_PATHS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
];

fn register_font() -> bool {
    for path in FONT_PATHS {
        if let Ok(bytes) = std::fs::read(path) {
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                return true;
            }
        }
    }
    false
}

const COLORS: [RGBColor; 4] =
    [RGBColor(200, 40, 40), RGBColor(30, 90, 200), RGBColor(20, 140, 60), RGBColor(140, 60, 170)];

/// The x axis: minutes from the run's start, labelled in UTC.
fn utc_label(runs: &[RunReport]) -> impl Fn(&f64) -> String {
    let start = runs.first().and_then(|r| r.series.first()).map(|p| p.unix - 60 * p.minute as i64).unwrap_or(0);
    move |minute: &f64| crate::scenario::utc_hhmm(start + (*minute as i64) * 60)
}

/// One line per run of `value` against the minute.
fn line_chart(
    path: &Path,
    title: &str,
    runs: &[RunReport],
    value: &dyn Fn(&crate::replay::SeriesPoint) -> f64,
    extra: Option<(&str, &dyn Fn(&crate::replay::SeriesPoint) -> f64)>,
    text: bool,
) -> Result<()> {
    let root = BitMapBackend::new(path, (1200, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let minutes = runs.iter().map(|r| r.series.len()).max().unwrap_or(1) as f64;
    let all = runs
        .iter()
        .flat_map(|r| r.series.iter().map(value).chain(extra.iter().flat_map(|(_, f)| r.series.iter().map(f))));
    let (lo, hi) = all.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let pad = ((hi - lo) * 0.05).max(1e-6);
    let mut builder = ChartBuilder::on(&root);
    builder.margin(15);
    if text {
        builder.caption(title, ("sans-serif", 22)).x_label_area_size(35).y_label_area_size(80);
    }
    let mut chart = builder.build_cartesian_2d(0f64..minutes, (lo - pad)..(hi + pad))?;
    let mut mesh = chart.configure_mesh();
    let utc = utc_label(runs);
    if text {
        mesh.x_desc("UTC").x_label_formatter(&utc).draw()?;
    } else {
        mesh.disable_x_mesh().disable_y_mesh().draw()?;
    }
    if let Some((label, f)) = extra {
        let series = chart
            .draw_series(LineSeries::new(runs[0].series.iter().map(|p| (p.minute as f64, f(p))), BLACK.mix(0.4)))?;
        if text {
            series.label(label).legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.mix(0.4)));
        }
    }
    for (r, color) in runs.iter().zip(COLORS.iter().cycle()) {
        let series = chart.draw_series(LineSeries::new(r.series.iter().map(|p| (p.minute as f64, value(p))), color))?;
        if text {
            let c = *color;
            series.label(r.mode.clone()).legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c));
        }
    }
    if text {
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    }
    root.present()?;
    Ok(())
}

/// The price path above; below it one lane per mode, so no mode's markers hide another's:
/// price-driven liquidations (x), print-caused ones (filled triangles) and ADL episodes (o).
fn price_chart(path: &Path, runs: &[RunReport], text: bool) -> Result<()> {
    let lane_height = 40 + 30 * runs.len() as u32;
    let root = BitMapBackend::new(path, (1200, 420 + lane_height)).into_drawing_area();
    root.fill(&WHITE)?;
    let (upper, lower) = root.split_vertically(420);
    let series = &runs[0].series;
    let minutes = series.len().max(1) as f64;
    let (lo, hi) = series
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), p| (lo.min(p.market_price_usd), hi.max(p.market_price_usd)));
    let pad = ((hi - lo) * 0.05).max(1.0);
    let utc = utc_label(runs);
    let mut builder = ChartBuilder::on(&upper);
    builder.margin(15).margin_bottom(0);
    if text {
        builder
            .caption(
                "Market price; per mode: liquidations (x, print-caused ▲) and ADL episodes (o)",
                ("sans-serif", 22),
            )
            .x_label_area_size(20)
            .y_label_area_size(140);
    }
    let mut chart = builder.build_cartesian_2d(0f64..minutes, (lo - pad)..(hi + pad))?;
    if text {
        chart.configure_mesh().x_label_formatter(&utc).y_desc("USD").draw()?;
    } else {
        chart.configure_mesh().disable_x_mesh().disable_y_mesh().draw()?;
    }
    chart.draw_series(LineSeries::new(series.iter().map(|p| (p.minute as f64, p.market_price_usd)), BLACK))?;

    let lanes = runs.len().max(1) as f64;
    let mut builder = ChartBuilder::on(&lower);
    builder.margin(15).margin_top(0);
    if text {
        builder.x_label_area_size(35).y_label_area_size(140);
    }
    let mut lane = builder.build_cartesian_2d(0f64..minutes, 0f64..lanes)?;
    let names: Vec<String> = runs.iter().map(|r| r.mode.clone()).collect();
    let lane_name = |y: &f64| {
        let i = *y - 0.5;
        if i.fract().abs() < 1e-9 && i >= 0.0 {
            names.get(runs.len() - 1 - i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    if text {
        lane.configure_mesh()
            .disable_y_mesh()
            .y_labels(2 * runs.len() + 1)
            .y_label_formatter(&lane_name)
            .x_label_formatter(&utc)
            .x_desc("UTC")
            .draw()?;
    }
    for (k, (r, color)) in runs.iter().zip(COLORS.iter().cycle()).enumerate() {
        let c = *color;
        let y = lanes - 0.5 - k as f64;
        lane.draw_series(
            r.liquidations
                .iter()
                .filter(|l| !l.caused_by_collateral_print)
                .map(|l| Cross::new((l.minute as f64, y), 5, c)),
        )?;
        lane.draw_series(
            r.liquidations
                .iter()
                .filter(|l| l.caused_by_collateral_print)
                .map(|l| TriangleMarker::new((l.minute as f64, y + 0.2), 6, c.filled())),
        )?;
        lane.draw_series(r.adl.iter().map(|a| Circle::new((a.minute as f64, y - 0.2), 6, c.stroke_width(2))))?;
    }
    root.present()?;
    Ok(())
}

/// The share of the uncovered shortfall each policy took, summed over each run's episodes
/// (100% is exactly the shortfall), with Hyperliquid's real night as a reference line.
fn overcut_chart(path: &Path, runs: &[RunReport], text: bool) -> Result<()> {
    let runs: Vec<&RunReport> = runs.iter().filter(|r| !r.policies.is_empty()).collect();
    let root = BitMapBackend::new(path, (1200, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let policies: Vec<&str> = runs[0].policies.iter().map(|p| p.policy).collect();
    // Only the episodes whose opening state was seen are in the policies' sums.
    let share = |r: &RunReport, policy: &str| -> f64 {
        let uncovered: u64 = r.adl.iter().filter(|a| !a.taken_by_policy.is_empty()).map(|a| a.uncovered).sum();
        let uncovered = uncovered.max(1) as f64;
        r.policies.iter().find(|p| p.policy == policy).map(|p| 100.0 * p.taken as f64 / uncovered).unwrap_or(0.0)
    };
    let (needed, taken) = crate::hyperliquid::totals();
    let reference = 100.0 * taken / needed;
    let top = runs.iter().flat_map(|r| policies.iter().map(move |p| share(r, p))).fold(reference, f64::max) * 1.1;
    let groups = policies.len() as f64;
    let mut builder = ChartBuilder::on(&root);
    builder.margin(15);
    if text {
        builder
            .caption("Taken from accounts as a share of the uncovered shortfall, by ADL policy", ("sans-serif", 22))
            .x_label_area_size(60)
            .y_label_area_size(80);
    }
    let mut chart = builder.build_cartesian_2d(0f64..groups, 0f64..top)?;
    let short: Vec<String> = policies.iter().map(|p| p.split(" (").next().unwrap_or(p).to_string()).collect();
    let group_name = |x: &f64| {
        let i = *x - 0.5;
        if i.fract().abs() < 1e-9 && i >= 0.0 {
            short.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    if text {
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(2 * policies.len() + 1)
            .x_label_formatter(&group_name)
            .y_desc("% of the uncovered shortfall")
            .draw()?;
    }
    let width = 0.8 / runs.len() as f64;
    for (k, (r, color)) in runs.iter().zip(COLORS.iter().cycle()).enumerate() {
        let c = *color;
        let bars = chart.draw_series(policies.iter().enumerate().map(|(i, p)| {
            let x0 = i as f64 + 0.1 + k as f64 * width;
            Rectangle::new([(x0, 0.0), (x0 + width * 0.9, share(r, p))], c.filled())
        }))?;
        if text {
            bars.label(r.mode.clone()).legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], c.filled()));
        }
    }
    chart.draw_series(LineSeries::new([(0.0, 100.0), (groups, 100.0)], BLACK.stroke_width(1)))?;
    let hl = chart.draw_series(DashedLineSeries::new(
        [(0.0, reference), (groups, reference)],
        8,
        5,
        RGBColor(120, 120, 120).stroke_width(2),
    ))?;
    if text {
        hl.label(format!("Hyperliquid, 10 Oct 2025: {reference:.0}% (their real night, not this replay)"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RGBColor(120, 120, 120).stroke_width(2)));
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    }
    root.present()?;
    Ok(())
}

/// Per ADL episode, each policy's take over the uncovered shortfall (log scale), beside
/// Hyperliquid's real waves (take over need).
fn waves_chart(path: &Path, runs: &[RunReport], text: bool) -> Result<()> {
    let runs: Vec<&RunReport> = runs.iter().filter(|r| r.adl.iter().any(|a| !a.taken_by_policy.is_empty())).collect();
    let root = BitMapBackend::new(path, (1200, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    // One series per (run, policy): the policy picks the colour, the run the marker.
    let mut points: Vec<((usize, usize), String, Vec<(f64, f64)>)> = Vec::new();
    let mut policies: Vec<String> = Vec::new();
    for (k, r) in runs.iter().enumerate() {
        let episodes: Vec<_> = r.adl.iter().filter(|a| a.uncovered > 0 && !a.taken_by_policy.is_empty()).collect();
        for (i, a) in episodes.iter().enumerate() {
            for (policy, taken) in &a.taken_by_policy {
                let name = policy.split(" (").next().unwrap_or(policy).to_string();
                let p = match policies.iter().position(|q| *q == name) {
                    Some(p) => p,
                    None => {
                        policies.push(name.clone());
                        policies.len() - 1
                    }
                };
                let ratio = (*taken as f64 / a.uncovered as f64).max(0.01);
                match points.iter_mut().find(|(id, _, _)| *id == (k, p)) {
                    Some((_, _, v)) => v.push((i as f64 + 1.0, ratio)),
                    None => points.push(((k, p), format!("{}: {name}", r.mode), vec![(i as f64 + 1.0, ratio)])),
                }
            }
        }
    }
    let hl: Vec<(f64, f64)> = crate::hyperliquid::WAVES
        .iter()
        .enumerate()
        .map(|(i, (_, needed, taken))| (i as f64 + 1.0, taken / needed))
        .collect();
    let n = points.iter().flat_map(|(_, _, v)| v.iter().map(|p| p.0)).chain(hl.iter().map(|p| p.0)).fold(1.0, f64::max);
    let (lo, hi) = points
        .iter()
        .flat_map(|(_, _, v)| v.iter().map(|p| p.1))
        .chain(hl.iter().map(|p| p.1))
        .fold((1.0f64, 1.0f64), |(lo, hi), y| (lo.min(y), hi.max(y)));
    let mut builder = ChartBuilder::on(&root);
    builder.margin(15);
    if text {
        builder
            .caption(
                "Per episode: taken / uncovered shortfall (1 = exact); grey: Hyperliquid's real waves",
                ("sans-serif", 22),
            )
            .x_label_area_size(35)
            .y_label_area_size(80);
    }
    let mut chart = builder.build_cartesian_2d(0.5f64..n + 0.5, (lo / 1.5..hi * 1.5).log_scale())?;
    if text {
        chart
            .configure_mesh()
            .x_desc("episode (ours) / wave (Hyperliquid), in order")
            .y_desc("taken / needed")
            .draw()?;
    }
    let grey = RGBColor(120, 120, 120);
    let waves = chart.draw_series(hl.iter().map(|p| TriangleMarker::new(*p, 7, grey.filled())))?;
    if text {
        waves
            .label("Hyperliquid, 10 Oct 2025 (their real night, not this replay)")
            .legend(move |(x, y)| TriangleMarker::new((x + 10, y), 6, grey.filled()));
    }
    let palette: Vec<RGBColor> = COLORS
        .iter()
        .copied()
        .chain([RGBColor(230, 140, 20), RGBColor(20, 160, 170), RGBColor(100, 100, 30), RGBColor(200, 90, 150)])
        .collect();
    for ((k, p), label, v) in &points {
        let c = palette[*p % palette.len()];
        // Policies that take the same share would sit on one another: spread them a little.
        let dx = (*p as f64 - policies.len() as f64 / 2.0) * 0.04 + *k as f64 * 0.2;
        if *k % 2 == 0 {
            let dots = chart.draw_series(v.iter().map(|(x, y)| Circle::new((x + dx, *y), 4, c.filled())))?;
            if text {
                dots.label(label.clone()).legend(move |(x, y)| Circle::new((x + 10, y), 4, c.filled()));
            }
        } else {
            let dots = chart.draw_series(v.iter().map(|(x, y)| Cross::new((x + dx, *y), 4, c.stroke_width(2))))?;
            if text {
                dots.label(label.clone()).legend(move |(x, y)| Cross::new((x + 10, y), 4, c.stroke_width(2)));
            }
        }
    }
    if text {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

/// Write `report.md`, `report.json` and the plots into `dir`.
pub fn write(dir: &Path, report: &Report) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join("report.json"), serde_json::to_string_pretty(report)?)?;
    std::fs::write(dir.join("report.md"), markdown(report))?;
    let text = register_font();
    price_chart(&dir.join("price.png"), report.runs, text)?;
    line_chart(
        &dir.join("insurance.png"),
        "Insurance vault balance (collateral units)",
        report.runs,
        &|p| p.insurance_balance,
        None,
        text,
    )?;
    if report.runs.iter().any(|r| !r.policies.is_empty()) {
        overcut_chart(&dir.join("overcut.png"), report.runs, text)?;
        waves_chart(&dir.join("waves.png"), report.runs, text)?;
    }
    line_chart(
        &dir.join("collateral.png"),
        "Collateral price used by each mode (USD), and the market print",
        report.runs,
        &|p| p.collateral_price_used,
        Some(("market print", &|p| p.collateral_print_usd)),
        text,
    )?;
    Ok(())
}
