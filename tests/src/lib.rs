//! Native test harness: Bulwark's Anchor entrypoint run inside the real Solana runtime
//! (solana-program-test, `processor!` builtin mode) beside the real SPL Token program.
#![allow(deprecated)] // solana-program-test 3.1 marks its API "Agave Unstable".

pub mod economic;
pub mod fixtures;
pub mod harness;
pub mod invariants;
pub mod token;
pub mod waterfall;

pub use fixtures::*;
pub use harness::*;
pub use waterfall::*;

/// The property tests' seed: fixed, so CI sees the same sequences every run (their coverage
/// assertions cannot flake); `BULWARK_PROPTEST_SEED=<u64>` picks another, `=random` a new one.
pub fn proptest_seed() -> proptest::test_runner::RngSeed {
    use proptest::test_runner::RngSeed;
    match std::env::var("BULWARK_PROPTEST_SEED").ok().as_deref() {
        Some("random") => RngSeed::Random,
        Some(v) => RngSeed::Fixed(v.parse().expect("BULWARK_PROPTEST_SEED: a u64 or \"random\"")),
        None => RngSeed::Fixed(20_251_010),
    }
}
