//! The keeper's view of a clearinghouse is the SDK's snapshot.

pub use bulwark_sdk::snapshot::{health, MarketView, Snapshot};
