//! The SBF build, from a bare machine: upstream LLVM's BPF backend (a pinned nightly) and
//! `sbpf-linker`, with a std patched for `target_os = "solana"`. No platform-tools needed.
//!
//! Writes `<target>/deploy/bulwark.so` (SBPF v0: what every cluster and solana-program-test
//! 3.1 load) and `<target>/deploy/bulwark-sbpf-v3.so` (SBPF v3, for runtimes that enable it).

use std::path::{Path, PathBuf};
use std::process::Command;

use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol};

/// The nightly whose LLVM (23) `sbpf-linker` 0.2.6 is built against.
pub const NIGHTLY: &str = "nightly-2026-08-21";
pub const SBPF_LINKER_VERSION: &str = "0.2.6";
/// SBF stack frame size: LLVM refuses to compile a function whose frame is larger.
pub const STACK_FRAME_BYTES: i32 = 4096;

/// An SBPF version the build emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    V0,
    V3,
}

impl Arch {
    fn name(self) -> &'static str {
        match self {
            Arch::V0 => "v0",
            Arch::V3 => "v3",
        }
    }
    /// v0 has no signed division, sign extension or 32-bit jumps: BPF CPU v2 at most.
    fn cpu(self) -> &'static str {
        match self {
            Arch::V0 => "v2",
            Arch::V3 => "v4",
        }
    }
    fn deploy_name(self) -> &'static str {
        match self {
            Arch::V0 => "bulwark.so",
            Arch::V3 => "bulwark-sbpf-v3.so",
        }
    }
}

/// What a finished build looks like, for the report.
pub struct BuiltProgram {
    pub arch: Arch,
    pub path: PathBuf,
    pub bytes: usize,
    pub instructions: usize,
    /// Deepest stack slot any function stores to below its frame pointer.
    pub largest_stack_frame: i32,
    /// Runtime functions the program calls (v0 lists them by name in its relocations).
    pub syscalls: Vec<String>,
    /// v0 only: outgoing stack-argument stores moved past the frame gap.
    pub stack_argument_stores_moved: usize,
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    let status = cmd.status().map_err(|e| format!("{shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed: {status}"))
    }
}

fn output(cmd: &mut Command) -> Result<String, String> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| format!("{shown}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{shown} failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A `rustup` command with the environment cargo gives `cargo run` children removed, so the
/// pinned nightly is used exactly where named.
fn rustup() -> Command {
    let mut cmd = Command::new("rustup");
    cmd.env_remove("RUSTUP_TOOLCHAIN").env_remove("CARGO").env_remove("RUSTC");
    cmd
}

/// Install the pinned nightly with rust-src when missing (`RUSTUP_AUTO_INSTALL=0` machines
/// never do it implicitly).
fn ensure_nightly() -> Result<PathBuf, String> {
    let sysroot = || output(rustup().args(["run", NIGHTLY, "rustc", "--print", "sysroot"]));
    let sysroot = match sysroot() {
        Ok(s) if Path::new(&s).join("lib/rustlib/src/rust/library/std").is_dir() => s,
        _ => {
            eprintln!("installing {NIGHTLY} with rust-src (rustup)");
            run(rustup().args(["toolchain", "install", NIGHTLY, "--profile", "minimal", "-c", "rust-src"]))?;
            sysroot()?
        }
    };
    Ok(PathBuf::from(sysroot))
}

fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo"))
}

/// Install `sbpf-linker` (built against the nightly's LLVM) when missing or another version.
fn ensure_linker(nightly_sysroot: &Path) -> Result<PathBuf, String> {
    let linker = cargo_home().join("bin/sbpf-linker");
    let version = Command::new(&linker)
        .arg("-V")
        .env("LD_LIBRARY_PATH", nightly_sysroot.join("lib"))
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    if !version.contains(&format!("sbpf-linker {SBPF_LINKER_VERSION}")) {
        eprintln!("installing sbpf-linker {SBPF_LINKER_VERSION} (cargo install; a few minutes)");
        run(rustup().args([
            "run",
            NIGHTLY,
            "cargo",
            "install",
            "sbpf-linker",
            "--version",
            SBPF_LINKER_VERSION,
            "--locked",
            "--quiet",
        ]))?;
    }
    Ok(linker)
}

/// FNV-1a of the patch: names the patched toolchain, so a changed patch gets a fresh copy and
/// a fresh std build.
fn patch_id(patch: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in patch {
        hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")[..10].to_string()
}

/// A copy of the nightly (hard links where possible) whose std source carries Bulwark's
/// `target_os = "solana"` patch; `-Zbuild-std` compiles std from the sysroot's source.
fn ensure_patched_toolchain(nightly_sysroot: &Path, patch_path: &Path) -> Result<PathBuf, String> {
    let patch = std::fs::read(patch_path).map_err(|e| format!("{}: {e}", patch_path.display()))?;
    let cache = std::env::var_os("BULWARK_TOOLCHAIN_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/bulwark/toolchains"));
    let dir = cache.join(format!("{NIGHTLY}-solana-{}", patch_id(&patch)));
    if dir.join(".patched").is_file() {
        return Ok(dir);
    }
    eprintln!("preparing the patched std in {}", dir.display());
    std::fs::create_dir_all(&cache).map_err(|e| e.to_string())?;
    let staging = cache.join(format!(".staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    if run(Command::new("cp").arg("-al").arg(nightly_sysroot).arg(&staging)).is_err() {
        let _ = std::fs::remove_dir_all(&staging);
        run(Command::new("cp").arg("-a").arg(nightly_sysroot).arg(&staging))?;
    }
    // The library source is replaced by a real copy: patching a hard link would patch the
    // nightly itself.
    let library = staging.join("lib/rustlib/src/rust/library");
    std::fs::remove_dir_all(&library).map_err(|e| e.to_string())?;
    run(Command::new("cp").arg("-r").arg(nightly_sysroot.join("lib/rustlib/src/rust/library")).arg(&library))?;
    run(Command::new("patch").args(["-p1", "--quiet", "-d"]).arg(&library).arg("-i").arg(patch_path))?;
    std::fs::write(staging.join(".patched"), patch_id(&patch)).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&staging, &dir).map_err(|e| e.to_string())?;
    Ok(dir)
}

/// Build one SBPF version and copy it to `<target>/deploy`.
fn build_arch(root: &Path, toolchain: &Path, target: &Path, arch: Arch) -> Result<BuiltProgram, String> {
    let sbf = root.join("programs/bulwark/sbf");
    let link_args = [
        format!("--arch={}", arch.name()),
        format!("--llvm-args=--bpf-stack-size={STACK_FRAME_BYTES}"),
        // Instructions SBPF lacks in every version this builds for.
        "--llvm-args=--disable-movsx".into(),
        "--llvm-args=--disable-ldsx".into(),
        "--llvm-args=--disable-gotox".into(),
        "--llvm-args=--disable-bswap".into(),
        "--llvm-args=--disable-gotol".into(),
        // The deploy copy is made here, from the right target dir.
        "--deploy=false".into(),
    ];
    let mut flags = vec![
        format!("-Ctarget-cpu={}", arch.cpu()),
        "-Cpasses=lower-atomic".into(),
        "-Cjump-tables=no".into(),
        "-Ctarget-feature=+allows-misaligned-mem-access".into(),
        format!("-Clinker={}", sbf.join("link.sh").display()),
    ];
    flags.extend(link_args.iter().map(|a| format!("-Clink-arg={a}")));
    let target_dir = target.join(format!("sbf-{}", arch.name()));
    let mut cmd = Command::new(toolchain.join("bin/cargo"));
    cmd.current_dir(root)
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env("RUSTC", toolchain.join("bin/rustc"))
        .env("RUSTC_BOOTSTRAP_SYNTHETIC_TARGET", "1")
        .env("CARGO_ENCODED_RUSTFLAGS", flags.join("\u{1f}"))
        .env("LD_LIBRARY_PATH", toolchain.join("lib"))
        .env("PATH", format!("{}:{}", cargo_home().join("bin").display(), std::env::var("PATH").unwrap_or_default()))
        .args(["build", "--locked", "--quiet", "-p", "bulwark", "--release", "--target"])
        .arg(sbf.join("bpfel-solana.json"))
        .args(["-Zbuild-std=std,panic_abort", "-Zjson-target-spec", "--target-dir"])
        .arg(&target_dir);
    eprintln!("building SBPF {} in {}", arch.name(), target_dir.display());
    // Quiet unless it fails: the nightly warns about the unstable target feature on every
    // build, which says nothing to someone building the program.
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        return Err(format!("the SBPF {} build failed ({})", arch.name(), out.status));
    }
    let built = target_dir.join("bpfel-solana/release/libbulwark.so");
    let mut elf = std::fs::read(&built).map_err(|e| format!("{}: {e}", built.display()))?;
    let stack_argument_stores_moved = if arch == Arch::V0 { move_stack_argument_stores(&mut elf)? } else { 0 };
    let deploy = target.join("deploy");
    std::fs::create_dir_all(&deploy).map_err(|e| e.to_string())?;
    let path = deploy.join(arch.deploy_name());
    std::fs::write(&path, &elf).map_err(|e| format!("{}: {e}", path.display()))?;
    // v3 encodes memory access differently; its frames are the v0 build's, from the same IR.
    let (instructions, largest_stack_frame) = match arch {
        Arch::V0 => scan_text(&elf)?,
        Arch::V3 => (text_range(&elf)?.1 / 8, 0),
    };
    Ok(BuiltProgram {
        arch,
        path,
        bytes: elf.len(),
        instructions,
        largest_stack_frame,
        syscalls: syscalls(&elf)?,
        stack_argument_stores_moved,
    })
}

/// The code's file offset and size: v0 names it `.text`; a v3 file has no section headers,
/// and its code is the executable segment.
fn text_range(elf: &[u8]) -> Result<(usize, usize), String> {
    let file = object::File::parse(elf).map_err(|e| format!("not an ELF: {e}"))?;
    if let Some(text) = file.section_by_name(".text") {
        let (offset, size) = text.file_range().ok_or(".text has no file range")?;
        return Ok((offset as usize, size as usize));
    }
    const PF_X: u32 = 1;
    file.segments()
        .find(|segment| matches!(segment.flags(), object::SegmentFlags::Elf { p_flags } if p_flags & PF_X != 0))
        .map(|segment| {
            let (offset, size) = segment.file_range();
            (offset as usize, size as usize)
        })
        .ok_or_else(|| "no code section or segment".to_string())
}

/// Every instruction slot of `.text`, as (byte offset, opcode, registers, offset field).
fn instructions(elf: &[u8], (start, size): (usize, usize)) -> Vec<(usize, u8, u8, i16)> {
    let mut out = Vec::new();
    let mut at = start;
    while at + 8 <= start + size {
        let (opcode, registers) = (elf[at], elf[at + 1]);
        out.push((at, opcode, registers, i16::from_le_bytes([elf[at + 2], elf[at + 3]])));
        // `lddw` takes two slots.
        at += if opcode == 0x18 { 16 } else { 8 };
    }
    out
}

const FRAME_POINTER: u8 = 10;
const STORES: [u8; 8] = [0x62, 0x6a, 0x72, 0x7a, 0x63, 0x6b, 0x73, 0x7b];

/// SBPF v0 leaves a gap of one frame after every stack frame (agave's loader enables stack
/// frame gaps for v0), but `sbpf-linker` places a call's stack arguments right above the
/// caller's frame, where the callee would find them without gaps: each store at a positive
/// offset from the frame pointer is an outgoing argument, and the callee reads it one gap
/// further on. Nothing else may touch memory above the frame pointer in v0, so this moves
/// exactly those stores.
fn move_stack_argument_stores(elf: &mut [u8]) -> Result<usize, String> {
    let range = text_range(elf)?;
    let mut moved = 0;
    for (at, opcode, registers, offset) in instructions(elf, range) {
        if STORES.contains(&opcode) && registers & 0x0f == FRAME_POINTER && offset > 0 {
            let shifted = i16::try_from(i32::from(offset) + STACK_FRAME_BYTES)
                .map_err(|_| format!("stack argument store at {at:#x} out of range"))?;
            elf[at + 2..at + 4].copy_from_slice(&shifted.to_le_bytes());
            moved += 1;
        }
    }
    Ok(moved)
}

/// Instruction count and the deepest frame-pointer-relative store: the largest stack frame
/// any function uses. Loads are left out: a callee reads its stack arguments from the bottom
/// of its own frame region, which its locals never reach.
fn scan_text(elf: &[u8]) -> Result<(usize, i32), String> {
    let range = text_range(elf)?;
    let mut deepest = 0i32;
    let mut count = 0;
    for (_, opcode, registers, offset) in instructions(elf, range) {
        count += 1;
        if STORES.contains(&opcode) && registers & 0x0f == FRAME_POINTER && offset < 0 {
            deepest = deepest.max(-i32::from(offset));
        }
    }
    Ok((count, deepest))
}

/// Names of the runtime functions a v0 program imports (undefined dynamic symbols).
fn syscalls(elf: &[u8]) -> Result<Vec<String>, String> {
    let file = object::File::parse(elf).map_err(|e| format!("not an ELF: {e}"))?;
    let mut names: Vec<String> = file
        .dynamic_symbols()
        .filter(|s| s.is_undefined())
        .filter_map(|s| s.name().ok().map(str::to_string))
        .filter(|n| !n.is_empty())
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// Build both SBPF versions; returns them v0 first.
pub fn build(root: &Path, target: &Path) -> Result<Vec<BuiltProgram>, String> {
    let nightly = ensure_nightly()?;
    ensure_linker(&nightly)?;
    let toolchain = ensure_patched_toolchain(&nightly, &root.join("programs/bulwark/sbf/std-solana.patch"))?;
    let mut built = Vec::new();
    for arch in [Arch::V0, Arch::V3] {
        let program = build_arch(root, &toolchain, target, arch)?;
        // A program may call the runtime only; anything else (a libc name, a compiler
        // builtin left unresolved) fails at load time on a cluster.
        if let Some(bad) = program.syscalls.iter().find(|n| *n != "abort" && !n.starts_with("sol_")) {
            return Err(format!("{} imports `{bad}`, which no Solana runtime provides", program.path.display()));
        }
        built.push(program);
    }
    Ok(built)
}

pub fn report(program: &BuiltProgram) -> String {
    let mut line = format!(
        "SBPF {}: {} ({} bytes, {} instructions",
        program.arch.name(),
        program.path.display(),
        program.bytes,
        program.instructions,
    );
    if program.arch == Arch::V0 {
        line.push_str(&format!(
            ", deepest stack slot {} of {STACK_FRAME_BYTES} bytes, {} syscalls imported, {} stack-argument stores moved past the frame gap",
            program.largest_stack_frame,
            program.syscalls.len(),
            program.stack_argument_stores_moved
        ));
    }
    line.push(')');
    line
}
