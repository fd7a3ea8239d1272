//! Bulwark's keeper: one scan loop over a clearinghouse's decoded accounts and oracle feeds,
//! with the program's own health and ADL math (through `bulwark-sdk`), cranking liquidations
//! (against the book, or by takeover when configured), insurance cover of bankrupt accounts
//! (the liquidation that closes them draws it), ADL until flat, funding and expired-order
//! pruning.

pub mod config;
pub mod keeper;
pub mod logging;
pub mod metrics;
pub mod plan;
pub mod snapshot;

pub use config::KeeperConfig;
pub use keeper::{CrankSubject, CycleReport, Journal, Keeper, LandedCrank, Outcome};
pub use metrics::Metrics;
