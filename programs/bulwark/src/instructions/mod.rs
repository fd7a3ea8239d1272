// Handlers are called by path (`deposit::handler`); the globs re-export the accounts structs
// and the client modules Anchor generates beside them.
#![allow(ambiguous_glob_reexports)]

pub mod auto_deleverage;
pub mod cancel_order;
pub mod close_margin_account;
pub mod create_insurance_stake;
pub mod create_margin_account;
pub mod create_market;
pub mod create_price_feed;
pub mod deposit;
pub mod initialize_clearinghouse;
pub mod liquidate_against_book;
pub mod liquidate_takeover;
pub mod market_status;
pub mod param_changes;
pub mod place_order;
pub mod refresh_collateral_price;
pub mod request_unstake;
pub mod set_delegate;
pub mod set_status;
pub mod stake_insurance;
pub mod sweep_fees;
pub mod unstake_insurance;
pub mod update_funding;
pub mod update_liquidation_status;
pub mod update_price_feed;
pub mod withdraw;

pub use auto_deleverage::*;
pub use cancel_order::*;
pub use close_margin_account::*;
pub use create_insurance_stake::*;
pub use create_margin_account::*;
pub use create_market::*;
pub use create_price_feed::*;
pub use deposit::*;
pub use initialize_clearinghouse::*;
pub use liquidate_against_book::*;
pub use liquidate_takeover::*;
pub use market_status::*;
pub use param_changes::*;
pub use place_order::*;
pub use refresh_collateral_price::*;
pub use request_unstake::*;
pub use set_delegate::*;
pub use set_status::*;
pub use stake_insurance::*;
pub use sweep_fees::*;
pub use unstake_insurance::*;
pub use update_funding::*;
pub use update_liquidation_status::*;
pub use update_price_feed::*;
pub use withdraw::*;
