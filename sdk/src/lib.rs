//! Bulwark's client SDK. Everything risk-related calls the program crate's own functions
//! (`bulwark::math`, `bulwark::controller::pricing`), so off-chain health is on-chain health.

pub mod adl;
pub mod health;
pub mod pda;

pub use bulwark;
