//! Bulwark's crash replay: real market minutes against the program on an embedded bank, with
//! traders, market makers, insurance stakers and the keeper, in each collateral-oracle mode.

pub mod attacker;
pub mod cause;
pub mod hyperliquid;
pub mod policies;
pub mod replay;
pub mod report;
pub mod rng;
pub mod scenario;
