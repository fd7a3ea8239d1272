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
    let cache = std::env::var_os("BULWARK_TOOLCHAIN_CACHE").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/bulwark/toolchains")
    });
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
    // No fuzz: a hunk applies where it was written or the build stops.
    run(Command::new("patch").args(["-p1", "--quiet", "--fuzz=0", "-d"]).arg(&library).arg("-i").arg(patch_path))?;
    std::fs::write(staging.join(".patched"), patch_id(&patch)).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&staging, &dir).map_err(|e| e.to_string())?;
    Ok(dir)
}

/// Build one SBPF version and copy it to `<target>/deploy`. `cargo_args` are passed on to
/// `cargo build` (e.g. `--features devnet`).
fn build_arch(
    root: &Path,
    toolchain: &Path,
    target: &Path,
    arch: Arch,
    cargo_args: &[String],
) -> Result<BuiltProgram, String> {
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
    // Panic locations name source files: map the machine's own paths to fixed ones, so the
    // bytes do not depend on where the toolchain, the registry or the checkout live.
    for (from, to) in [(toolchain.to_path_buf(), "/rustc"), (cargo_home(), "/cargo"), (root.to_path_buf(), "/bulwark")]
    {
        flags.push(format!("--remap-path-prefix={}={to}", from.display()));
    }
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
        .arg(&target_dir)
        .args(cargo_args);
    eprintln!("building SBPF {} in {}", arch.name(), target_dir.display());
    // Quiet unless it fails: the nightly warns about the unstable target feature on every
    // build, which says nothing to someone building the program.
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        eprintln!("{stderr}");
        return Err(format!("the SBPF {} build failed ({})", arch.name(), out.status));
    }
    // What LLVM or the linker warn about is shown; the nightly's note on the unstable target
    // feature is not.
    for line in stderr.lines().filter(|l| l.contains("llvm") || l.contains("linker stderr")) {
        eprintln!("  {line}");
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

/// One decoded instruction slot.
#[derive(Clone, Copy, Debug)]
struct Insn {
    /// Byte offset in the file.
    at: usize,
    opcode: u8,
    dst: u8,
    src: u8,
    offset: i16,
    imm: i32,
}

/// Every instruction of the code range.
fn instructions(elf: &[u8], (start, size): (usize, usize)) -> Vec<Insn> {
    let mut out = Vec::new();
    let mut at = start;
    while at + 8 <= start + size {
        let b = &elf[at..at + 8];
        out.push(Insn {
            at,
            opcode: b[0],
            dst: b[1] & 0x0f,
            src: b[1] >> 4,
            offset: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        });
        // `lddw` takes two slots.
        at += if b[0] == LDDW { 16 } else { 8 };
    }
    out
}

const FRAME_POINTER: u8 = 10;
const LDDW: u8 = 0x18;
const STORES: [u8; 8] = [0x62, 0x6a, 0x72, 0x7a, 0x63, 0x6b, 0x73, 0x7b];
const LOADS: [u8; 4] = [0x61, 0x69, 0x71, 0x79];
const MOV64_REG: u8 = 0xbf;
const ADD64_IMM: u8 = 0x07;

/// SBPF v0 leaves a gap of one frame after every stack frame (agave's loader enables stack
/// frame gaps for v0), but `sbpf-linker` places a call's stack arguments right above the
/// caller's frame, where the callee would find them without gaps: each store at a positive
/// offset from the frame pointer is an outgoing argument, and the callee reads it one gap
/// further on. Nothing else may touch memory above the frame pointer in v0
/// (`check_frame_pointer_use` makes sure), so this moves exactly those stores.
fn move_stack_argument_stores(elf: &mut [u8]) -> Result<usize, String> {
    let (start, size) = text_range(elf)?;
    shift_stack_argument_stores(&mut elf[start..start + size])
}

/// `move_stack_argument_stores` on raw code.
fn shift_stack_argument_stores(code_bytes: &mut [u8]) -> Result<usize, String> {
    let code = instructions(code_bytes, (0, code_bytes.len()));
    check_frame_pointer_use(&code)?;
    let mut moved = 0;
    for insn in &code {
        if STORES.contains(&insn.opcode) && insn.dst == FRAME_POINTER && insn.offset > 0 {
            let shifted = i16::try_from(i32::from(insn.offset) + STACK_FRAME_BYTES)
                .map_err(|_| format!("stack argument store at {:#x} out of range", insn.at))?;
            code_bytes[insn.at + 2..insn.at + 4].copy_from_slice(&shifted.to_le_bytes());
            moved += 1;
        }
    }
    Ok(moved)
}

/// The assumptions the stack-argument move rests on, checked on the linked code rather than
/// trusted: memory above the frame pointer is only stored to (outgoing arguments, within the
/// next frame), never loaded from; nothing writes the frame pointer; a pointer copied from it
/// is only moved down into the frame. A linker or compiler change that breaks one of these
/// fails the build instead of producing a program that misreads its arguments.
fn check_frame_pointer_use(code: &[Insn]) -> Result<(), String> {
    for (i, insn) in code.iter().enumerate() {
        let at = insn.at;
        if STORES.contains(&insn.opcode) && insn.dst == FRAME_POINTER && i32::from(insn.offset) >= STACK_FRAME_BYTES {
            return Err(format!("store at r10{:+} ({at:#x}) reaches past the next stack frame", insn.offset));
        }
        if LOADS.contains(&insn.opcode) && insn.src == FRAME_POINTER && insn.offset > 0 {
            return Err(format!("load from r10{:+} ({at:#x}): above the frame pointer", insn.offset));
        }
        // ALU instructions (classes 4 and 7), `lddw` and loads write their destination.
        let writes_dst =
            matches!(insn.opcode & 0x07, 0x04 | 0x07) || insn.opcode == LDDW || LOADS.contains(&insn.opcode);
        if writes_dst && insn.dst == FRAME_POINTER {
            return Err(format!("instruction {:#04x} at {at:#x} writes the frame pointer", insn.opcode));
        }
        if insn.opcode == MOV64_REG && insn.src == FRAME_POINTER {
            if let Some(next) = code.get(i + 1) {
                if next.opcode == ADD64_IMM && next.dst == insn.dst && next.imm >= 0 {
                    return Err(format!("pointer r10{:+} at {:#x} points above the frame", next.imm, next.at));
                }
            }
        }
    }
    Ok(())
}

/// Instruction count and the deepest frame-pointer-relative store: the largest stack frame
/// any function uses. Loads are left out: a callee reads its stack arguments from the bottom
/// of its own frame region, which its locals never reach.
fn scan_text(elf: &[u8]) -> Result<(usize, i32), String> {
    let code = instructions(elf, text_range(elf)?);
    let deepest = code
        .iter()
        .filter(|i| STORES.contains(&i.opcode) && i.dst == FRAME_POINTER && i.offset < 0)
        .map(|i| -i32::from(i.offset))
        .max()
        .unwrap_or(0);
    Ok((code.len(), deepest))
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
pub fn build(root: &Path, target: &Path, cargo_args: &[String]) -> Result<Vec<BuiltProgram>, String> {
    let nightly = ensure_nightly()?;
    ensure_linker(&nightly)?;
    let toolchain = ensure_patched_toolchain(&nightly, &root.join("programs/bulwark/sbf/std-solana.patch"))?;
    let mut built = Vec::new();
    for arch in [Arch::V0, Arch::V3] {
        let program = build_arch(root, &toolchain, target, arch, cargo_args)?;
        // A program may call the runtime only; anything else (a libc name, a compiler
        // builtin left unresolved) fails at load time on a cluster.
        if let Some(bad) = program.syscalls.iter().find(|n| *n != "abort" && !n.starts_with("sol_")) {
            return Err(format!("{} imports `{bad}`, which no Solana runtime provides", program.path.display()));
        }
        built.push(program);
    }
    let v0 = std::fs::read(&built[0].path).map_err(|e| e.to_string())?;
    if v0.windows(b".invalid".len()).any(|w| w == b".invalid") {
        eprintln!(
            "note: security.txt still names the placeholder contacts (bulwark.invalid): set the deployment's own \
             in programs/bulwark/src/lib.rs before deploying to a public cluster"
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    fn insn(opcode: u8, dst: u8, src: u8, offset: i16, imm: i32) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = opcode;
        b[1] = dst | (src << 4);
        b[2..4].copy_from_slice(&offset.to_le_bytes());
        b[4..8].copy_from_slice(&imm.to_le_bytes());
        b
    }

    fn code(insns: &[[u8; 8]]) -> Vec<u8> {
        insns.concat()
    }

    #[test]
    fn outgoing_argument_stores_move_one_frame_up_and_nothing_else_moves() {
        let mut bytes = code(&[
            insn(0x7b, 10, 1, -8, 0),    // stxdw [r10-8], r1: a local, stays
            insn(0x7b, 10, 2, 8, 0),     // stxdw [r10+8], r2: the sixth argument
            insn(0x7a, 10, 0, 16, 7),    // stdw [r10+16], 7: the seventh
            insn(0x79, 3, 10, -4088, 0), // ldxdw r3, [r10-4088]: an incoming argument, stays
            insn(0x85, 0, 0, 0, 12),     // call
        ]);
        assert_eq!(shift_stack_argument_stores(&mut bytes).unwrap(), 2);
        let after = instructions(&bytes, (0, bytes.len()));
        let offsets: Vec<i16> = after.iter().map(|i| i.offset).collect();
        assert_eq!(offsets, vec![-8, 8 + 4096, 16 + 4096, -4088, 0]);
    }

    #[test]
    fn lddw_takes_two_slots_and_its_second_half_is_not_read_as_a_store() {
        // The second slot of lddw looks like a positive r10 store; it must not move.
        let mut bytes = code(&[insn(0x18, 1, 0, 0, 1), insn(0x7b, 10, 0, 8, 0), insn(0x95, 0, 0, 0, 0)]);
        assert_eq!(shift_stack_argument_stores(&mut bytes).unwrap(), 0);
        assert_eq!(instructions(&bytes, (0, bytes.len())).len(), 2);
    }

    #[test]
    fn code_breaking_the_assumptions_fails_the_build() {
        let refused = |insns: &[[u8; 8]]| shift_stack_argument_stores(&mut code(insns)).unwrap_err();
        assert!(refused(&[insn(0x79, 1, 10, 8, 0)]).contains("above the frame pointer"));
        assert!(refused(&[insn(0x7b, 10, 1, 4096, 0)]).contains("past the next stack frame"));
        assert!(refused(&[insn(0x07, 10, 0, 0, 64)]).contains("writes the frame pointer"));
        assert!(refused(&[insn(0xbf, 10, 1, 0, 0)]).contains("writes the frame pointer"));
        assert!(refused(&[insn(0xbf, 2, 10, 0, 0), insn(0x07, 2, 0, 0, 16)]).contains("points above the frame"));
        // Moving a pointer down into the frame is what locals do.
        let mut fine = code(&[insn(0xbf, 2, 10, 0, 0), insn(0x07, 2, 0, 0, -16)]);
        assert_eq!(shift_stack_argument_stores(&mut fine).unwrap(), 0);
    }

    #[test]
    fn the_patch_id_names_the_patch() {
        assert_eq!(patch_id(b"a"), patch_id(b"a"));
        assert_ne!(patch_id(b"a"), patch_id(b"b"));
        assert_eq!(patch_id(b"").len(), 10);
    }
}
