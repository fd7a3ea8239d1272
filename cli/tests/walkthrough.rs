//! The README's localnet walkthrough, as a newcomer runs it: `scripts/localnet-demo.sh` with the
//! workspace's binaries on PATH, a node on free ports, in a fresh directory. And the README
//! section and the script must not drift apart: every command of the section is in the script,
//! in the same order.

use std::io::Read as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf()
}

/// The directory holding the workspace's binaries, built beside this test.
fn bin_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_bulwark")).parent().expect("target dir").to_path_buf();
    for name in ["bulwark-localnet", "bulwark-migrate", "bulwark-keeper"] {
        assert!(
            dir.join(name).exists(),
            "{name} is missing from {}: run the workspace's tests (`cargo test --workspace`) or `cargo build --workspace --bins` first",
            dir.display()
        );
    }
    dir
}

/// SIGKILL a process group (`kill -KILL -PGID`): bash's own clean-up does not run on a timeout.
fn kill_group(pgid: u32) {
    let _ = Command::new("kill").args(["-KILL", "--", &format!("-{pgid}")]).status();
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
    let mut child = Command::new("bash")
        // Its own process group: on a timeout the node and keeper it started are stopped too.
        .process_group(0)
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
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash runs the script");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            kill_group(child.id());
            let _ = child.wait();
            panic!("the walkthrough ran past 300 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    let keeper_log = std::fs::read_to_string(dir.join("keeper.log")).unwrap_or_default();
    assert!(status.success(), "the walkthrough failed:\n{stdout}\n{stderr}\nkeeper log:\n{keeper_log}");
    assert!(stdout.contains("the keeper liquidated the trader"), "{stdout}");
    // Before the keeper the trader was liquidatable, after it not.
    let before = stdout.find("BTC falls to 93,500").expect("the price move step");
    let after = stdout.find("the keeper: it liquidates").expect("the keeper step");
    assert!(stdout[before..after].contains("yes") || stdout[before..after].contains("true"), "{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}
