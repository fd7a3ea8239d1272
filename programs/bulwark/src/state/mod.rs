//! Account layouts. Every account is zero-copy `#[repr(C)]` Pod with explicit padding,
//! reserved bytes for upgrades and a compile-time size assertion.

pub mod adl_round;
pub mod clearinghouse;
pub mod insurance_stake;
pub mod margin_account;
pub mod market;
pub mod oracle_config;
pub mod order_book;
pub mod param_change;
pub mod price_feed;

pub use adl_round::*;
pub use clearinghouse::*;
pub use insurance_stake::*;
pub use margin_account::*;
pub use market::*;
pub use oracle_config::*;
pub use order_book::*;
pub use param_change::*;
pub use price_feed::*;

/// Account size including Anchor's 8-byte discriminator.
pub const fn account_space<T>() -> usize {
    8 + core::mem::size_of::<T>()
}
