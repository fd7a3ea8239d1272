//! Bulwark's bootstrap: a deployment file (TOML) in, a clearinghouse with its collateral mint,
//! manual oracle feeds and markets out, on any cluster. Idempotent: it creates what is missing,
//! applies risk-lowering changes, proposes risk-raising ones behind the timelock, executes them
//! once due and activates markets whose listing timelock has passed.

pub mod config;
pub mod deploy;

pub use config::DeploymentConfig;
pub use deploy::{migrate, Deployment};

/// The default Solana CLI keypair path (`~/.config/solana/id.json`).
pub fn default_keypair_path() -> std::path::PathBuf {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from).unwrap_or_default();
    home.join(".config/solana/id.json")
}
