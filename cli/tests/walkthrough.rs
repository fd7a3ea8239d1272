//! The README's localnet walkthrough, as a newcomer runs it: `scripts/localnet-demo.sh` with the
//! workspace's binaries on PATH, a node on free ports, in a fresh directory. And the README
//! section and the script must not drift apart: every command of the section is in the script,
//! in the same order.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

mod support;

use support::{binary, workspace, Finish as _};

/// The directory holding the workspace's binaries, built beside this test.
fn bin_dir() -> PathBuf {
    let dir = binary("bulwark").parent().expect("target dir").to_path_buf();
    for name in ["bulwark-localnet", "bulwark-migrate", "bulwark-keeper"] {
        assert!(
            dir.join(name).exists(),
            "{name} is missing from {}: run the workspace's tests (`cargo test --workspace`) or `cargo build --workspace --bins` first",
            dir.display()
        );
    }
    dir
}

/// The commands of the README's walkthrough block: comments dropped, one command per line.
fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let start = readme.find("<!-- walkthrough -->").expect("the README marks its walkthrough");
    let end = readme.find("<!-- /walkthrough -->").expect("the walkthrough's end marker");
    readme[start..end]
        .lines()
        .filter(|l| !l.starts_with("```") && !l.starts_with("<!--"))
        .map(|l| l.split("  #").next().unwrap().trim().to_string())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

#[test]
fn every_readme_walkthrough_command_is_in_the_script_in_order() {
    let script = std::fs::read_to_string(workspace().join("scripts/localnet-demo.sh")).unwrap();
    let lines: Vec<&str> = script.lines().map(str::trim).collect();
    let commands = readme_commands();
    assert!(commands.len() >= 20, "{commands:#?}");
    let mut at = 0;
    for command in &commands {
        let found =
            lines[at..].iter().position(|l| *l == command || l.strip_prefix("# README: ") == Some(command.as_str()));
        match found {
            Some(offset) => at += offset + 1,
            None => panic!("README command `{command}` is not in scripts/localnet-demo.sh after line {at}"),
        }
    }
}

#[test]
fn the_readme_walkthrough_ends_in_a_liquidation_by_the_keeper() {
    let dir = std::env::temp_dir().join(format!("bulwark-walkthrough-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = format!("{}:{}", bin_dir().display(), std::env::var("PATH").unwrap_or_default());
    let run = Command::new("bash")
        .arg(workspace().join("scripts/localnet-demo.sh"))
        .env("PATH", path)
        .env("BULWARK_DEMO_DIR", &dir)
        // Free ports, read back from the node's first line.
        .env("BULWARK_LOCALNET_PORT", "0")
        .env_remove("BULWARK_RPC_URL")
        .env_remove("BULWARK_LOCALNET_WS_PORT")
        .env_remove("BULWARK_DEPLOYMENT")
        .env("BULWARK_CONFIG", dir.join("cli.toml"))
        .env_remove("BULWARK_CLEARINGHOUSE")
        .env_remove("BULWARK_KEYPAIR")
        .finish_within(Duration::from_secs(300));
    let (status, stdout, stderr) = (
        run.status,
        String::from_utf8_lossy(&run.stdout).into_owned(),
        String::from_utf8_lossy(&run.stderr).into_owned(),
    );
    let keeper_log = std::fs::read_to_string(dir.join("keeper.log")).unwrap_or_default();
    assert!(status.success(), "the walkthrough failed:\n{stdout}\n{stderr}\nkeeper log:\n{keeper_log}");
    assert!(stdout.contains("the keeper liquidated the trader"), "{stdout}");
    // Before the keeper the trader was liquidatable, after it not.
    let before = stdout.find("BTC falls to 93,500").expect("the price move step");
    let after = stdout.find("the keeper: it liquidates").expect("the keeper step");
    assert!(stdout[before..after].contains("yes") || stdout[before..after].contains("true"), "{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}
