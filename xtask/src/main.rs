//! Project chores (`cargo xtask <command>`):
//! - `idl [--check]`: regenerate `idl/bulwark.json` on the host, or fail when it is stale;
//! - `sbf [--features …]`: build the program for SBF (`target/deploy/bulwark.so`), installing
//!   what it needs;
//! - `test [cargo test args]`: `sbf`, then the workspace's tests with every bank running that
//!   bytecode.

mod sbf;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The workspace this is run in: the nearest directory up from the current one that holds
/// `programs/bulwark`. Found at run time, not baked in at compile time, because a build cache
/// shared between checkouts may hand one checkout another's binary.
fn workspace_root() -> PathBuf {
    let start = std::env::current_dir().expect("current dir");
    start
        .ancestors()
        .find(|dir| dir.join("programs/bulwark/Cargo.toml").is_file())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| panic!("no Bulwark workspace above {}", start.display()))
}

fn generate_idl() -> Result<String, String> {
    let root = workspace_root();
    // anchor-lang-idl re-invokes cargo with `+$RUSTUP_TOOLCHAIN` (and may try to install that
    // toolchain) when the variable is set, which cargo does for `cargo run` children.
    std::env::remove_var("RUSTUP_TOOLCHAIN");
    // The IDL build sets its own RUSTFLAGS; a separate target dir keeps it from invalidating the
    // main build's artifacts.
    let base = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    std::env::set_var("CARGO_TARGET_DIR", base.join("idl-build"));
    let idl = anchor_lang_idl::build::IdlBuilder::new()
        .program_path(root.join("programs/bulwark"))
        .build()
        .map_err(|e| format!("IDL build failed: {e}"))?;
    let mut json = serde_json::to_string_pretty(&idl).map_err(|e| e.to_string())?;
    json.push('\n');
    Ok(json)
}

/// The build's target directory, absolute (tests read `BULWARK_SO` from other directories):
/// `CARGO_TARGET_DIR` when set, else `<workspace>/target`.
fn target_dir(root: &Path) -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    if dir.is_absolute() {
        dir
    } else {
        std::env::current_dir().expect("current dir").join(dir)
    }
}

fn build_sbf(root: &Path, cargo_args: &[String]) -> Result<PathBuf, String> {
    let started = std::time::Instant::now();
    let built = sbf::build(root, &target_dir(root), cargo_args)?;
    for program in &built {
        println!("{}", sbf::report(program));
    }
    println!("SBF build: {:.0} s", started.elapsed().as_secs_f64());
    Ok(built[0].path.clone())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("test") {
        let root = workspace_root();
        let so = match build_sbf(&root, &[]) {
            Ok(so) => so,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        };
        println!("testing on {}", so.display());
        let mut cargo = std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        // solana-program-test turns its own logging on unless RUST_LOG is set: quiet by default.
        if std::env::var_os("RUST_LOG").is_none() {
            cargo.env("RUST_LOG", "error");
        }
        let status = cargo
            .current_dir(&root)
            .env("BULWARK_SO", &so)
            .args(["test", "--workspace", "--locked"])
            .args(&args[1..])
            .status();
        return match status {
            Ok(s) if s.success() => ExitCode::SUCCESS,
            Ok(_) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("cargo test: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["sbf", ..] => match build_sbf(&workspace_root(), &args[1..]) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        ["idl"] | ["idl", "--check"] => {
            let check = args.len() == 2;
            let path = workspace_root().join("idl/bulwark.json");
            let fresh = match generate_idl() {
                Ok(json) => json,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            };
            if check {
                let committed = std::fs::read_to_string(&path).unwrap_or_default();
                if committed != fresh {
                    eprintln!("idl/bulwark.json is stale: run `cargo run -p xtask -- idl` and commit it");
                    return ExitCode::FAILURE;
                }
                println!("idl/bulwark.json is up to date");
            } else {
                if let Err(e) = std::fs::write(&path, fresh) {
                    eprintln!("writing {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
                println!("wrote {}", path.display());
            }
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: cargo xtask idl [--check] | sbf [cargo build args, e.g. --features devnet] | test [cargo test args]");
            ExitCode::from(2)
        }
    }
}
