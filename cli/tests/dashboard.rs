//! The web dashboard in headless Chromium against `bulwark-localnet`: `app/e2e/dashboard.mjs`
//! starts the node and the built app, runs the README's walkthrough with the page open, checks
//! the page against the CLI's reads and trades through its panel. Needs Node.js, `npm ci
//! --prefix app`, `npm --prefix app run build` and a system Chromium; without them the test is
//! skipped, unless `BULWARK_REQUIRE_BROWSER` is set (CI sets it). `BULWARK_SCREENSHOTS=docs/app`
//! refreshes the committed screenshots.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

mod support;

use support::{binary, workspace, Finish as _};

fn chromium() -> Option<PathBuf> {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(
            [
                "/usr/bin/chromium",
                "/usr/bin/chromium-browser",
                "/usr/bin/google-chrome",
                "/usr/bin/google-chrome-stable",
            ]
            .map(PathBuf::from),
        )
        .find(|p| p.exists())
}

#[test]
fn the_dashboard_shows_the_walkthrough_live_and_trades_through_its_panel() {
    let app = workspace().join("app");
    let missing: Vec<&str> = [
        (app.join("node_modules/playwright-core").exists(), "npm ci --prefix app"),
        (app.join("dist/index.html").exists(), "npm --prefix app run build"),
        (chromium().is_some(), "a Chromium (apt-get install chromium)"),
        (Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success()), "Node.js"),
    ]
    .into_iter()
    .filter(|(ok, _)| !ok)
    .map(|(_, what)| what)
    .collect();
    if !missing.is_empty() {
        assert!(
            std::env::var_os("BULWARK_REQUIRE_BROWSER").is_none(),
            "the browser test needs: {}",
            missing.join(", ")
        );
        eprintln!("skipping the browser test; it needs: {}", missing.join(", "));
        return;
    }
    let bin = binary("bulwark").parent().unwrap().to_path_buf();
    let scratch = std::env::temp_dir().join(format!("bulwark-dashboard-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    // A relative BULWARK_SCREENSHOTS is the workspace's (tests run in cli/).
    let screenshots = std::env::var_os("BULWARK_SCREENSHOTS")
        .map(|p| workspace().join(p))
        .unwrap_or_else(|| scratch.join("screenshots"));
    // In its own process group (`finish_within`): on a timeout the node and app server go too;
    // the browser, in a group of its own, exits when its control pipe to node closes.
    let run = Command::new("node")
        .arg(app.join("e2e/dashboard.mjs"))
        .env("BULWARK_BIN_DIR", &bin)
        .env("BULWARK_E2E_DIR", &scratch)
        .env("BULWARK_SCREENSHOTS", &screenshots)
        .env("CHROMIUM", chromium().unwrap())
        .env_remove("BULWARK_CLEARINGHOUSE")
        .env_remove("BULWARK_KEYPAIR")
        .env_remove("BULWARK_RPC_URL")
        .env_remove("BULWARK_DEPLOYMENT")
        .finish_within(Duration::from_secs(600));
    let (status, stdout, stderr) = (
        run.status,
        String::from_utf8_lossy(&run.stdout).into_owned(),
        String::from_utf8_lossy(&run.stderr).into_owned(),
    );
    let logs = ["localnet", "preview", "walkthrough"]
        .iter()
        .map(|name| {
            let text = std::fs::read_to_string(scratch.join(format!("{name}.log"))).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            format!("--- {name}.log (last lines)\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"))
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(status.success(), "the browser test failed:\n{stdout}\n{stderr}\n{logs}");
    assert!(stdout.contains("dashboard: all checks passed"), "{stdout}");
    for shot in ["dashboard.png", "feed.png", "accounts-at-risk.png", "trade.png"] {
        assert!(screenshots.join(shot).exists(), "{shot} was not saved");
    }
    eprint!("{stdout}");
    std::fs::remove_dir_all(&scratch).unwrap();
}
