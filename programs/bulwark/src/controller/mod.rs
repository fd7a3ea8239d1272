//! State transitions shared by instructions. Handlers validate accounts and call in here.

pub mod adl;
pub mod collateral;
pub mod collateral_oracle;
pub mod liquidation;
pub mod market;
pub mod orders;
pub mod params;
pub mod position;
pub mod pricing;
pub mod vault;
pub mod waterfall;
