//! `bulwark-keeper`: run the keeper against a cluster over JSON-RPC.

use anyhow::Context;
use clap::Parser;
use solana_commitment_config::CommitmentConfig;
use solana_signer::Signer;
use tokio::sync::watch;

use bulwark_keeper::config::Cli;
use bulwark_keeper::{Keeper, Metrics};
use bulwark_sdk::chain::rpc::RpcChain;
use bulwark_sdk::chain::Chain as _;

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let config = Cli::parse().resolve()?;
    // Text (colour only when standard output, the stream written, is a terminal) or JSON lines.
    bulwark_keeper::logging::init(config.log_format);
    let authority = bulwark_sdk::keypair::read_keypair_file(&config.keypair_path)?;
    tracing::info!(
        rpc = %bulwark_keeper::config::redacted_url(&config.rpc_url),
        clearinghouse = %config.clearinghouse,
        keeper = %authority.pubkey(),
        margin_account = %bulwark_sdk::pda::margin_account(&config.clearinghouse, &authority.pubkey(), config.sub_account_id),
        takeover = config.takeover,
        min_sol = config.min_sol_lamports as f64 / 1e9,
        "starting"
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    // Healthy while scans succeed: unhealthy at once when one fails after its retries, and
    // after `unhealthy_after_scans` periods without one (a cycle may legitimately wait out
    // every retry of a crank, so that much is allowed on top).
    let slowest_crank = config.confirm_timeout.as_secs() as i64 * (config.max_retries as i64 + 1);
    let periods = (config.scan_interval.as_secs() as i64).max(1) * config.unhealthy_after_scans as i64;
    let metrics = Metrics::new(periods + slowest_crank);
    let server = match config.metrics_addr {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
            tracing::info!(%addr, "serving /metrics and /health");
            let mut stop = stop_rx.clone();
            let shutdown = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            Some(tokio::spawn(bulwark_keeper::metrics::serve(listener, metrics.clone(), shutdown)))
        }
        None => None,
    };

    let chain = RpcChain::new(config.rpc_url.clone(), CommitmentConfig::confirmed());
    // A clearinghouse that is not there is said in a sentence, not as the program error of the
    // margin account's creation.
    let rpc = bulwark_keeper::config::redacted_url(&config.rpc_url);
    match chain.load::<bulwark::state::Clearinghouse>(&config.clearinghouse).await {
        Ok(Some(_)) => {}
        Ok(None) => anyhow::bail!(
            "no clearinghouse at {} on {rpc}: check --clearinghouse (or BULWARK_CLEARINGHOUSE); bulwark-localnet keeps \
             state in memory, so after a restart rerun the migrations and use the clearinghouse they print",
            config.clearinghouse
        ),
        Err(e) => anyhow::bail!(
            "cannot read the clearinghouse {} on {rpc}: {}",
            config.clearinghouse,
            bulwark_keeper::config::redact(&e.describe(), &config.rpc_url)
        ),
    }
    let mut keeper = Keeper::new(chain, config, authority, metrics);
    // Before the first transaction: a wallet without SOL is named, with how to fund it.
    keeper.check_sol_balance().await;
    let url = keeper.config.rpc_url.clone();
    keeper.ensure_margin_account().await.map_err(|e| {
        anyhow::anyhow!(
            "creating the keeper's margin account: {}",
            bulwark_keeper::config::redact(&format!("{e:#}"), &url)
        )
    })?;

    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested; finishing the current cycle");
        let _ = stop_tx.send(true);
    });
    keeper.run(stop_rx).await;
    if let Some(server) = server {
        server.await??;
    }
    Ok(())
}
