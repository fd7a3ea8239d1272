//! The binary end to end: `bulwark-sim replay` on the short scenario writes the table, the
//! policy table, the markdown and JSON reports and the plots, in fewer than 100 lines.

use std::process::Command;

#[test]
fn replay_command_writes_the_report_and_plots() {
    let out = std::env::temp_dir().join(format!("bulwark-sim-cli-{}", std::process::id()));
    let scenario = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/crash-short.toml");
    let output = Command::new(env!("CARGO_BIN_EXE_bulwark-sim"))
        .args(["replay", scenario.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .env_remove("RUST_LOG")
        .output()
        .expect("bulwark-sim runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    // A newcomer's terminal shows the progress bar and the report, not the runtime's logs.
    let debug_lines = stderr.lines().chain(stdout.lines()).filter(|l| l.contains(" DEBUG ")).count();
    assert_eq!(debug_lines, 0, "runtime logs with no RUST_LOG set:\n{}", &stderr[..stderr.len().min(2_000)]);
    let lines = stdout.lines().count() + stderr.lines().count();
    assert!(lines < 100, "{lines} lines:\n{stdout}\n{stderr}");
    for line in [
        "caused by the collateral print",
        "bad debt left",
        "redemption_aware",
        "market_35x_thin_insurance",
        "ADL policies on the market_35x_thin_insurance run",
        "wall time",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in\n{stdout}");
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    // Both collateral modes and the thin-insurance stress run.
    assert_eq!(report["runs"].as_array().unwrap().len(), 3);
    let markdown = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(markdown.contains("| bad debt left | 0.00 | 0.00 | 0.00 |"), "{markdown}");
    assert!(markdown.contains("| Bulwark (what the program did) |"), "{markdown}");
    assert!(
        markdown.contains("Hyperliquid's real ADL on 10 October 2025 — their night, not this replay"),
        "{markdown}"
    );
    for png in ["price.png", "insurance.png", "collateral.png", "overcut.png", "waves.png"] {
        let bytes = std::fs::read(out.join(png)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000, "{png}");
    }

    // Logs come back only when asked for.
    let help = Command::new(env!("CARGO_BIN_EXE_bulwark-sim")).args(["replay", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("--verbose"));

    // A bad scenario is an error with a message, not a panic.
    let bad = out.join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\n").unwrap();
    let output =
        Command::new(env!("CARGO_BIN_EXE_bulwark-sim")).args(["replay", bad.to_str().unwrap()]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("parsing"), "{}", String::from_utf8_lossy(&output.stderr));
}
