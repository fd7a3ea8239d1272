//! State transitions shared by instructions. Handlers validate accounts and call in here.

pub mod collateral;
pub mod collateral_oracle;
pub mod params;
