//! `bulwark-localnet`: serve a local Solana JSON-RPC node with Bulwark loaded.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use bulwark_localnet::{Localnet, NodeConfig};
use bulwark_sdk::chain::embedded::ProgramBuild;
use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "bulwark-localnet",
    version,
    about = "A local Solana JSON-RPC node with Bulwark loaded: the SBF bytecode when built, the native build otherwise"
)]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "BULWARK_LOCALNET_BIND", default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Port to listen on (0 picks a free one; the chosen address is printed).
    #[arg(long, env = "BULWARK_LOCALNET_PORT", default_value_t = 8899)]
    port: u16,
    /// Port for WebSocket subscriptions [default: the RPC port + 1, as a validator; a free one
    /// when --port is 0]. The RPC port serves them too.
    #[arg(long, env = "BULWARK_LOCALNET_WS_PORT")]
    ws_port: Option<u16>,
    /// Wall-clock milliseconds per slot.
    #[arg(long, env = "BULWARK_LOCALNET_SLOT_MS", default_value_t = 400, value_parser = clap::value_parser!(u64).range(10..))]
    slot_ms: u64,
    /// The SBF program to run [default: target/deploy/bulwark.so in this directory or the
    /// nearest one above that has it; the native build when there is none].
    #[arg(long, env = "BULWARK_SO", value_name = "PATH")]
    program: Option<PathBuf>,
    /// Run the native build even when an SBF build exists or `BULWARK_SO` names one (no
    /// compute metering).
    #[arg(long)]
    native: bool,
}

/// The build to run: `--program`/`BULWARK_SO` (which must exist), else the workspace's
/// `target/deploy/bulwark.so` when it has been built, else native.
fn program_build(cli: &Cli) -> anyhow::Result<ProgramBuild> {
    if cli.native {
        return Ok(ProgramBuild::Native);
    }
    if let Some(path) = &cli.program {
        anyhow::ensure!(!path.as_os_str().is_empty(), "--program (or BULWARK_SO) is empty: name a bulwark.so");
        return ProgramBuild::sbf(path).map_err(|e| anyhow::anyhow!("--program {}: {e}", path.display()));
    }
    let cwd = std::env::current_dir()?;
    match cwd.ancestors().map(|dir| dir.join("target/deploy/bulwark.so")).find(|so| so.is_file()) {
        Some(so) => Ok(ProgramBuild::sbf(&so)?),
        None => Ok(ProgramBuild::Native),
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // Quiet unless asked: the node's own lines, and only errors from the runtime.
                .unwrap_or_else(|_| "error,bulwark_localnet=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let program = program_build(&cli)?;
        let described = program.describe();
        if matches!(program, ProgramBuild::Native) && !cli.native {
            eprintln!("no target/deploy/bulwark.so here or above: running the native build (`cargo xtask sbf` builds the bytecode)");
        }
        let config = NodeConfig { slot_duration: Duration::from_millis(cli.slot_ms), program };
        let ws_port = cli.ws_port.unwrap_or(if cli.port == 0 { 0 } else { cli.port.saturating_add(1) });
        let localnet =
            Localnet::start_with_ws(SocketAddr::new(cli.bind, cli.port), SocketAddr::new(cli.bind, ws_port), config)
                .await?;
        // One line on stdout that scripts and tests wait for.
        println!(
            "bulwark-localnet listening on {} and {} (program {}: {described}; faucet {})",
            localnet.url(),
            localnet.ws_url(),
            bulwark::ID,
            localnet.node.faucet()
        );
        eprintln!("state lives in memory: stopping the node loses every account (rerun the migrations after a restart)");
        use std::io::Write as _;
        std::io::stdout().flush()?;
        shutdown_signal().await;
        tracing::info!("shutting down");
        localnet.stop().await;
        println!("bulwark-localnet stopped");
        anyhow::Ok(())
    })?;
    // The bank's background threads do not all end with the runtime; the work is done.
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("install SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
