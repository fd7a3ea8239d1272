//! Bulwark's client SDK. Everything risk-related calls the program crate's own functions
//! (`bulwark::math`, `bulwark::controller`, `bulwark::oracle`), so off-chain health is
//! on-chain health.
//!
//! - `pda`, `ix`: addresses and typed instruction builders.
//! - `accounts`, `events`, `book`: decoding accounts, events and the order book.
//! - `oracle`, `health`, `adl`: prices, margin, liquidation and bankruptcy prices, ADL ranking.
//! - `chain`: the `Chain` trait with an RPC backend (feature `rpc`, default) and an embedded
//!   bank backend (feature `embedded`), and `send_and_confirm`.

pub mod accounts;
pub mod adl;
pub mod book;
pub mod chain;
pub mod events;
pub mod health;
pub mod ix;
pub mod oracle;
pub mod pda;

pub use bulwark;
