//! Bulwark's bootstrap: a deployment file (TOML) in, a clearinghouse with its collateral mint,
//! manual oracle feeds and markets out, on any cluster. Idempotent: it creates what is missing,
//! applies risk-lowering changes, proposes risk-raising ones behind the timelock, executes them
//! once due and activates markets whose listing timelock has passed.

pub mod config;
pub mod deploy;

pub use config::DeploymentConfig;
pub use deploy::{migrate, Deployment};
