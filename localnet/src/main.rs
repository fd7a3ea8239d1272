//! `bulwark-localnet`: serve a local Solana JSON-RPC node with Bulwark loaded.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bulwark_localnet::{Localnet, NodeConfig};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(name = "bulwark-localnet", version, about = "A local Solana JSON-RPC node with Bulwark loaded natively")]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "BULWARK_LOCALNET_BIND", default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Port to listen on (0 picks a free one; the chosen address is printed).
    #[arg(long, env = "BULWARK_LOCALNET_PORT", default_value_t = 8899)]
    port: u16,
    /// Wall-clock milliseconds per slot.
    #[arg(long, env = "BULWARK_LOCALNET_SLOT_MS", default_value_t = 400, value_parser = clap::value_parser!(u64).range(10..))]
    slot_ms: u64,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "bulwark_localnet=info,solana=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let config = NodeConfig { slot_duration: Duration::from_millis(cli.slot_ms) };
        let localnet = Localnet::start(SocketAddr::new(cli.bind, cli.port), config).await?;
        // One line on stdout that scripts and tests wait for.
        println!(
            "bulwark-localnet listening on {} (program {}, faucet {})",
            localnet.url(),
            bulwark::ID,
            localnet.node.faucet()
        );
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
