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
    /// Admin keypair: pays, administers, publishes the manual feeds and mints created collateral
    /// [default: ~/.config/solana/id.json].
    #[arg(long, env = "BULWARK_KEYPAIR")]
    keypair: Option<PathBuf>,
    /// Write the deployment (addresses and actions) as JSON here [default: not written].
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// Also write the addresses as shell exports here (`BULWARK_RPC_URL`,
    /// `BULWARK_CLEARINGHOUSE`, `BULWARK_FEED_<NAME>`, `BULWARK_MARKET_<NAME>`, and
    /// `BULWARK_DEPLOYMENT` naming the --out file): after `. PATH`, `bulwark` and
    /// `bulwark-keeper` find this deployment without more flags [default: not written].
    #[arg(long, value_name = "PATH")]
    env_out: Option<PathBuf>,
    /// Request an airdrop of this many SOL first when the signer holds less (localnet, devnet)
    /// [default: no airdrop].
    #[arg(long, value_name = "SOL")]
    airdrop: Option<u64>,
}

/// A deployment name as a shell variable suffix: `btc-usd` → `BTC_USD`.
fn env_name(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect()
}

/// A value in single quotes for a POSIX shell (a quote inside becomes `'\''`).
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

/// The deployment as `export NAME='value'` lines.
fn env_file(url: &str, deployment: &bulwark_migrations::Deployment, json: Option<&std::path::Path>) -> String {
    let mut lines = vec![
        format!("export BULWARK_RPC_URL={}", quoted(url)),
        format!("export BULWARK_CLEARINGHOUSE={}", quoted(&deployment.clearinghouse)),
        format!("export BULWARK_COLLATERAL_MINT={}", quoted(&deployment.collateral_mint)),
    ];
    // The CLI reads market and feed names from the JSON file.
    if let Some(json) = json {
        lines.push(format!("export BULWARK_DEPLOYMENT={}", quoted(&json.display().to_string())));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut export = |lines: &mut Vec<String>, variable: String, value: String| {
        // `btc-usd` and `btc.usd` are one variable: the first keeps it, the other is said.
        if seen.insert(variable.clone()) {
            lines.push(format!("export {variable}={}", quoted(&value)));
        } else {
            eprintln!("warning: {variable} names two entries; the env file keeps the first");
        }
    };
    for (name, key) in &deployment.feeds {
        export(&mut lines, format!("BULWARK_FEED_{}", env_name(name)), key.clone());
    }
    for m in &deployment.markets {
        export(&mut lines, format!("BULWARK_MARKET_{}", env_name(&m.name)), m.index.to_string());
    }
    lines.join("\n") + "\n"
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
        println!("feed {name:<18} {key}");
    }
    for m in &deployment.markets {
        println!(
            "market {} {:<16} {} (oracle {}{})",
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
    if let Some(out) = &cli.env_out {
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let json = cli.out.as_ref().map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()));
        std::fs::write(out, env_file(&cli.url, &deployment, json.as_deref()))
            .with_context(|| format!("writing {}", out.display()))?;
        println!("wrote {} (load it with `. {}`)", out.display(), out.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_names_become_shell_variables() {
        assert_eq!(env_name("btc-usd"), "BTC_USD");
        assert_eq!(env_name("BTC-PERP"), "BTC_PERP");
        assert_eq!(env_name("usde.health 2"), "USDE_HEALTH_2");
        assert_eq!(quoted("http://h:1/?a=b"), "'http://h:1/?a=b'");
        assert_eq!(quoted("it's"), "'it'\\''s'");
    }
}
