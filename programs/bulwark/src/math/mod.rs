//! Pure risk math. No Anchor types cross these signatures: the SDK, keeper and sim call the
//! very same functions, so off-chain health is on-chain health.

pub mod adl;
pub mod circuit_breaker;
pub mod insurance;
pub mod liquidation;
pub mod margin;
pub mod oracle;
pub mod perp;
pub mod redemption;
pub mod safe;

pub use safe::{MathError, MathResult};
