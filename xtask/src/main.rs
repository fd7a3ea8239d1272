//! Project chores. `cargo run -p xtask -- idl` regenerates `idl/bulwark.json` on the host (no SBF
//! toolchain needed); `cargo run -p xtask -- idl --check` fails when the committed IDL is stale.

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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
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
            eprintln!("usage: cargo run -p xtask -- idl [--check]");
            ExitCode::from(2)
        }
    }
}
