//! What the command-line tests share: the workspace's binaries, running a command to the end
//! within a limit, and long-running processes (the node, the keeper) stopped when dropped.
#![allow(dead_code)] // each test file uses its own part

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf()
}

/// The workspace's other binaries, built beside this one by `cargo test --workspace`.
pub fn binary(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_bulwark")).parent().expect("target dir").to_path_buf();
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: run the workspace's tests (`cargo test --workspace`) or `cargo build --workspace --bins` first",
        path.display()
    );
    path
}

/// The node runs exactly the build the rest of the suite runs: the bytecode `BULWARK_SO`
/// names, or the native build (never a `target/deploy/bulwark.so` it happens to find).
pub fn program_args() -> Vec<String> {
    match std::env::var("BULWARK_SO") {
        Ok(so) if !so.is_empty() => vec!["--program".into(), so],
        _ => vec!["--native".into()],
    }
}

/// Every short-lived command (CLI, migrations, kit client) must finish within this.
pub const COMMAND_LIMIT: Duration = Duration::from_secs(120);

pub trait Finish {
    /// Run to completion with stdout and stderr captured; fail past `COMMAND_LIMIT`.
    fn finish(&mut self) -> Output {
        self.finish_within(COMMAND_LIMIT)
    }

    /// Run to completion in a process group of its own, with stdout and stderr captured. Past
    /// `limit` the whole group is killed (a script's own clean-up does not run then, so what it
    /// started in the background goes too) and the test fails.
    fn finish_within(&mut self, limit: Duration) -> Output;
}

impl Finish for Command {
    fn finish_within(&mut self, limit: Duration) -> Output {
        let mut child = self
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {self:?}: {e}"));
        let drain = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                bytes
            })
        };
        let stdout = drain(Box::new(child.stdout.take().expect("piped")));
        let stderr = drain(Box::new(child.stderr.take().expect("piped")));
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
                let _ = child.wait();
                panic!("{self:?} ran past {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Output { status, stdout: stdout.join().expect("stdout"), stderr: stderr.join().expect("stderr") }
    }
}

/// A child process that is stopped (SIGTERM, then SIGKILL) when dropped; its log is printed
/// when the test is failing.
pub struct Process {
    pub name: &'static str,
    pub child: Child,
    pub log: PathBuf,
}

impl Process {
    /// Start `command` with stderr (and stdout, unless `pipe_stdout`) in `<name>.log`.
    pub fn spawn(name: &'static str, command: &mut Command, logs: &Path, pipe_stdout: bool) -> Self {
        let log = logs.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let stdout = if pipe_stdout { Stdio::piped() } else { Stdio::from(file.try_clone().unwrap()) };
        let child = command
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Self { name, child, log }
    }

    /// `bulwark-localnet` on free ports, running the suite's build, and its first line (which
    /// names its URLs: `url_in`).
    pub fn localnet(logs: &Path, args: &[&str]) -> (Self, String) {
        let mut node = Self::spawn(
            "bulwark-localnet",
            Command::new(binary("bulwark-localnet")).args(["--port", "0"]).args(args).args(program_args()),
            logs,
            true,
        );
        let banner = node.first_line();
        (node, banner)
    }

    /// Read stdout until the first line, then keep draining it (the node prints program output
    /// there) so the process never blocks on a full pipe.
    pub fn first_line(&mut self) -> String {
        let stdout = self.child.stdout.take().expect("piped");
        let (send, receive) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = send.send(line);
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        receive.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| panic!("{} printed nothing", self.name))
    }

    /// Ask the process to stop and wait for it (at most 20 s, then kill it).
    pub fn terminate(&mut self) -> ExitStatus {
        if let Ok(Some(status)) = self.child.try_wait() {
            return status;
        }
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        self.child.wait().expect("reaped")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let status = self.terminate();
        if std::thread::panicking() {
            eprintln!(
                "{} exited with {status}; its log:\n{}",
                self.name,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

/// The first word of `line` that starts with `scheme` (e.g. "http://").
pub fn url_in(line: &str, scheme: &str) -> String {
    line.split_whitespace()
        .find(|w| w.starts_with(scheme))
        .unwrap_or_else(|| panic!("no {scheme} URL in {line:?}"))
        .to_string()
}
