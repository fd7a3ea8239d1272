// Handlers are called by path (`deposit::handler`); the globs re-export the accounts structs
// and the client modules Anchor generates beside them.
#![allow(ambiguous_glob_reexports)]

pub mod cancel_order;
pub mod close_margin_account;
pub mod create_margin_account;
pub mod create_market;
pub mod create_price_feed;
pub mod deposit;
pub mod initialize_clearinghouse;
pub mod market_status;
pub mod param_changes;
pub mod place_order;
pub mod refresh_collateral_price;
pub mod set_delegate;
pub mod set_status;
pub mod update_funding;
pub mod update_price_feed;
pub mod withdraw;

pub use cancel_order::*;
pub use close_margin_account::*;
pub use create_margin_account::*;
pub use create_market::*;
pub use create_price_feed::*;
pub use deposit::*;
pub use initialize_clearinghouse::*;
pub use market_status::*;
pub use param_changes::*;
pub use place_order::*;
pub use refresh_collateral_price::*;
pub use set_delegate::*;
pub use set_status::*;
pub use update_funding::*;
pub use update_price_feed::*;
pub use withdraw::*;
