//! Bulwark's client SDK. Everything risk-related calls the program crate's own functions
//! (`bulwark::math`, `bulwark::controller`, `bulwark::oracle`), so off-chain health is
//! on-chain health.
//!
//! - `pda`, `ix`: addresses and typed instruction builders.
//! - `accounts`, `events`, `book`: decoding accounts, events and the order book.
//! - `oracle`, `health`, `adl`: prices, margin, liquidation and bankruptcy prices, ADL ranking.
//! - `insurance`: a stake's value and its unstake request (cooling down, claimable, lapsed).
//! - `chain`: the `Chain` trait with an RPC backend (feature `rpc`, default) and an embedded
//!   bank backend (feature `embedded`), and `send_and_confirm`.
//! - `snapshot`: one scan of a clearinghouse (accounts, books, oracle prices).
//! - `errors`: program errors by code (from the IDL).
//! - `token`: the SPL Token instructions clients need.
//! - `units`, `keypair`: exact decimal amounts and prices; Solana CLI keypair files.

pub mod accounts;
pub mod adl;
pub mod book;
pub mod chain;
pub mod compute;
pub mod errors;
pub mod events;
pub mod health;
pub mod insurance;
pub mod ix;
pub mod keypair;
pub mod oracle;
pub mod pda;
pub mod snapshot;
pub mod token;
pub mod units;

pub use bulwark;
