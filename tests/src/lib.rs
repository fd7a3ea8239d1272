//! Native test harness: Bulwark's Anchor entrypoint run inside the real Solana runtime
//! (solana-program-test, `processor!` builtin mode) beside the real SPL Token program.
#![allow(deprecated)] // solana-program-test 3.1 marks its API "Agave Unstable".

pub mod fixtures;
pub mod harness;
pub mod invariants;
pub mod token;
pub mod waterfall;

pub use fixtures::*;
pub use harness::*;
pub use waterfall::*;
