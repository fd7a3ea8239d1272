//! Bulwark run natively inside solana-program-test: one binary, one module per area.
#![allow(deprecated)] // solana-program-test 3.1 marks its API "Agave Unstable".

mod adl;
mod adl_rounds;
mod admin;
mod collateral;
mod collateral_replay;
mod compute_budgets;
mod economic_checks;
mod hardening;
mod insurance;
mod layout;
mod liquidation;
mod oracles;
mod trading;
mod trading_properties;
mod waterfall_properties;
