//! `bulwark-sim replay SCENARIO.toml [--out DIR]`: replay a scenario in each of its collateral
//! modes on the same seed and write the report.

use std::path::PathBuf;

use anyhow::Result;
use bulwark_sim::{replay, report, scenario::Scenario};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Parser)]
#[command(name = "bulwark-sim", version, about = "Replay market minutes against Bulwark on an embedded bank")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario in each of its collateral modes and write report.md, report.json and PNGs.
    Replay {
        scenario: PathBuf,
        /// Where the report goes.
        #[arg(long, default_value = "target/replay")]
        out: PathBuf,
        /// Show the bank's and the program's logs (RUST_LOG, default `info`) instead of only
        /// the progress bar and the report.
        #[arg(long)]
        verbose: bool,
        /// Replace the scenario's trader count (the scale variant: `--traders 10000`).
        #[arg(long)]
        traders: Option<usize>,
        /// Start at this minute of the series instead of the scenario's `start_minute`.
        #[arg(long)]
        start_minute: Option<usize>,
        /// Replay only N minutes.
        #[arg(long)]
        minutes: Option<usize>,
        /// Run only these collateral modes (`market`, `redemption_aware`), and no stress run.
        #[arg(long, value_delimiter = ',')]
        modes: Vec<String>,
    },
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpus} cores, {model}, {}", std::env::consts::ARCH)
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let Command::Replay { verbose, .. } = &cli.command;
    // solana-program-test turns its runtime's DEBUG logging on unless RUST_LOG says otherwise:
    // a replay would print hundreds of thousands of lines over the progress bar and report.
    // Quiet by default; RUST_LOG still chooses. Set before any other thread exists.
    if std::env::var_os("RUST_LOG").is_none() {
        std::env::set_var("RUST_LOG", if *verbose { "info" } else { "error" });
    }
    // The bank and the replay are deep futures; give them room.
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(|| tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(replay_main(cli)))?
        .join()
        .map_err(|_| anyhow::anyhow!("the replay thread panicked"))?
}

async fn replay_main(cli: Cli) -> Result<()> {
    let Command::Replay { scenario: path, out, verbose, traders, start_minute, minutes, modes } = cli.command;
    let (mut scenario, base) = Scenario::load(&path)?;
    if let Some(traders) = traders {
        scenario.population.traders = traders;
    }
    if !modes.is_empty() {
        let all = [bulwark_sim::scenario::Mode::Market, bulwark_sim::scenario::Mode::RedemptionAware];
        scenario.modes = modes
            .iter()
            .map(|m| {
                all.into_iter()
                    .find(|a| a.label() == m)
                    .ok_or_else(|| anyhow::anyhow!("--modes: unknown mode {m:?} (market, redemption_aware)"))
            })
            .collect::<Result<_>>()?;
        scenario.stress.clear();
    }
    if let Some(start_minute) = start_minute {
        scenario.start_minute = start_minute;
    }
    if let Some(minutes) = minutes {
        scenario.minutes = Some(minutes);
    }
    let available = count_minutes(&scenario, &base)?.saturating_sub(scenario.start_minute);
    let steps_per_run = scenario.minutes.unwrap_or(usize::MAX).min(available) * scenario.substeps;
    let planned = scenario.runs();
    let bar = ProgressBar::new((steps_per_run * planned.len()) as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg:>18} [{bar:40}] {pos}/{len} sub-steps, {elapsed}")
            .unwrap()
            .progress_chars("=> "),
    );
    let mut runs = Vec::new();
    {
        // The natively-run program logs straight to stdout; keep the terminal for the report.
        let _quiet = if verbose { None } else { gag::Gag::stdout().ok() };
        for run in &planned {
            let mode = run.modes[0];
            bar.set_message(run.run_label.clone().unwrap_or_else(|| mode.label().to_string()));
            runs.push(replay::run(run, &base, mode, &|| bar.inc(1)).await?);
        }
    }
    bar.finish_and_clear();
    let report = report::Report { scenario: &scenario.name, seed: scenario.seed, machine: machine(), runs: &runs };
    println!("Bulwark replay: {} (seed {})\n", scenario.name, scenario.seed);
    print!("{}", report::table(&runs));
    print!("{}", report::policy_table(&runs));
    report::write(&out, &report)?;
    let plots = if runs.iter().any(|r| !r.policies.is_empty()) {
        "price.png, insurance.png, collateral.png, overcut.png, waves.png"
    } else {
        "price.png, insurance.png, collateral.png"
    };
    println!("\nreport: {}/report.md, report.json, {plots}", out.display());
    Ok(())
}

fn count_minutes(scenario: &Scenario, base: &std::path::Path) -> Result<usize> {
    Ok(bulwark_sim::scenario::load_candles(&base.join(&scenario.markets[0].csv))?.len())
}
