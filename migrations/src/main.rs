//! `bulwark-migrate`: run a deployment file against a cluster and print the addresses.

use std::path::PathBuf;

use anyhow::Context;
use bulwark_migrations::{migrate, DeploymentConfig};
use bulwark_sdk::chain::rpc::RpcChain;
use clap::Parser;
use solana_commitment_config::CommitmentConfig;
use solana_signer::Signer as _;

#[derive(Parser, Debug)]
#[command(
    name = "bulwark-migrate",
    version,
    about = "Create or update a Bulwark clearinghouse, collateral mint, feeds and markets from a TOML file"
)]
struct Cli {
    /// The deployment file (see migrations/localnet.toml).
    config: PathBuf,
    /// Cluster JSON-RPC URL.
    #[arg(long, env = "BULWARK_RPC_URL", default_value = "http://127.0.0.1:8899")]
    url: String,
    /// Admin keypair: pays, administers, publishes the manual feeds and mints created collateral.
    #[arg(long, env = "BULWARK_KEYPAIR")]
    keypair: Option<PathBuf>,
    /// Write the deployment (addresses and actions) as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Request an airdrop of this many SOL first when the signer holds less (localnet, devnet).
    #[arg(long)]
    airdrop: Option<u64>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = DeploymentConfig::load(&cli.config)?;
    let keypair_path = cli.keypair.unwrap_or_else(bulwark_sdk::keypair::default_keypair_path);
    let signer = bulwark_sdk::keypair::read_keypair_file(&keypair_path)?;
    let chain = RpcChain::new(cli.url.clone(), CommitmentConfig::confirmed());
    if let Some(sol) = cli.airdrop {
        let lamports = sol.checked_mul(1_000_000_000).context("--airdrop: too many SOL")?;
        let balance = chain.client.get_balance(&signer.pubkey()).await.context("getBalance")?;
        if balance < lamports {
            // Public faucets refuse often; the deployment may still have enough to go on.
            let airdrop = async {
                let signature = chain.client.request_airdrop(&signer.pubkey(), lamports - balance).await?;
                chain.client.poll_for_signature(&signature).await
            };
            if let Err(e) = airdrop.await {
                eprintln!("warning: the airdrop failed ({e}); going on with {balance} lamports");
            }
        }
    }
    println!("bulwark-migrate: {} on {} as {}", cli.config.display(), cli.url, signer.pubkey());
    let base_dir = cli.config.parent().map(PathBuf::from).unwrap_or_default();
    let deployment = migrate(&chain, &signer, &config, &base_dir).await?;
    println!("program        {}", deployment.program);
    println!("clearinghouse  {}", deployment.clearinghouse);
    println!("collateral     {} ({} decimals)", deployment.collateral_mint, deployment.collateral_decimals);
    for (name, key) in &deployment.feeds {
        println!("feed {name:<10}{key}");
    }
    for m in &deployment.markets {
        println!(
            "market {} {:<8}{} (oracle {}{})",
            m.index,
            m.name,
            m.market,
            m.oracle,
            if m.active { "" } else { ", pending" }
        );
    }
    if deployment.pending {
        println!("a change is waiting for its timelock: run again after it");
    }
    if let Some(out) = &cli.out {
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(out, serde_json::to_string_pretty(&deployment)?)
            .with_context(|| format!("writing {}", out.display()))?;
        println!("wrote {}", out.display());
    }
    Ok(())
}
