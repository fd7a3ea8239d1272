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
    out += "\nLiquidation events count each partial close. An episode of liquidations is *caused by the collateral \
            print* when the account, just before its first one, met maintenance with the collateral valued at its \
            attested redemption rate; its later partial closes share that cause. Amounts are in collateral units. \
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
    for r in report.runs {
        if !r.policies.is_empty() {
            out += &format!("\n### ADL policies on this run's episodes ({})\n\n", r.mode);
            out += &policy_markdown(r);
        }
    }
    if report.runs.iter().any(|r| !r.policies.is_empty()) {
        out += POLICY_NOTE;
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
    out += "\nPlots: `price.png` (price path, liquidation and ADL markers), `insurance.png`, `collateral.png`.\n";
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
    if text {
        mesh.x_desc("minute from the start").draw()?;
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

fn price_chart(path: &Path, runs: &[RunReport], text: bool) -> Result<()> {
    let root = BitMapBackend::new(path, (1200, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let series = &runs[0].series;
    let minutes = series.len().max(1) as f64;
    let (lo, hi) = series
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), p| (lo.min(p.market_price_usd), hi.max(p.market_price_usd)));
    let pad = ((hi - lo) * 0.05).max(1.0);
    let mut builder = ChartBuilder::on(&root);
    builder.margin(15);
    if text {
        builder
            .caption("Market price with liquidations (x) and ADL (o) per mode", ("sans-serif", 22))
            .x_label_area_size(35)
            .y_label_area_size(80);
    }
    let mut chart = builder.build_cartesian_2d(0f64..minutes, (lo - pad)..(hi + pad))?;
    if text {
        chart.configure_mesh().x_desc("minute from the start").y_desc("USD").draw()?;
    } else {
        chart.configure_mesh().disable_x_mesh().disable_y_mesh().draw()?;
    }
    chart.draw_series(LineSeries::new(series.iter().map(|p| (p.minute as f64, p.market_price_usd)), BLACK))?;
    for (r, color) in runs.iter().zip(COLORS.iter().cycle()) {
        let c = *color;
        let at = |minute: usize| series.get(minute).map(|p| p.market_price_usd).unwrap_or(lo);
        let crosses = chart
            .draw_series(r.liquidations.iter().map(|l| Cross::new((l.minute as f64, l.market_price_usd), 5, c)))?;
        if text {
            crosses.label(format!("{} liquidation", r.mode)).legend(move |(x, y)| Cross::new((x + 10, y), 5, c));
        }
        chart.draw_series(r.adl.iter().map(|a| Circle::new((a.minute as f64, at(a.minute)), 6, c.stroke_width(2))))?;
    }
    if text {
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
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
