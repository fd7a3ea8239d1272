//! Fixed-point precisions, PDA seeds and hard bounds shared by the program and its clients.

/// Prices are integers in units of 1e-6 of the quote per base (USD per token for oracle
/// prices, collateral per base token for market prices).
pub const PRICE_PRECISION: i64 = 1_000_000;
pub const PRICE_DECIMALS: i32 = 6;
/// Ratios in basis points.
pub const BPS_DENOMINATOR: i64 = 10_000;

pub const CLEARINGHOUSE_SEED: &[u8] = b"clearinghouse";
pub const COLLATERAL_VAULT_SEED: &[u8] = b"collateral_vault";
pub const INSURANCE_VAULT_SEED: &[u8] = b"insurance_vault";
pub const MARGIN_ACCOUNT_SEED: &[u8] = b"margin_account";
pub const PRICE_FEED_SEED: &[u8] = b"price_feed";

/// Positions a margin account can hold at once; bounds every per-account loop.
pub const MAX_POSITIONS: usize = 8;

/// Upper bound on a timelock so a typo cannot freeze parameter changes for years.
pub const MAX_TIMELOCK_SECONDS: i64 = 30 * 24 * 60 * 60;
/// Circuit-breaker bounds: a window longer than a day or an allowance under 5% of the balance
/// would let a "tightening" freeze every exit.
pub const MAX_BREAKER_WINDOW_SECONDS: i64 = 24 * 60 * 60;
pub const MIN_BREAKER_OUTFLOW_BPS: u32 = 500;
/// A timelocked change must be executed within this long after it becomes executable.
pub const PARAM_CHANGE_EXECUTION_WINDOW_SECONDS: i64 = 7 * 24 * 60 * 60;
/// Publish times further in the future than this are not trusted as fresh.
pub const MAX_ORACLE_FUTURE_SKEW_SECONDS: i64 = 10;
/// Upper bound on oracle exponents accepted at the edge (|expo| <= 18 keeps 10^|expo| in i128).
pub const MAX_ORACLE_EXPONENT: i32 = 18;

pub const MARKET_SEED: &[u8] = b"market";
pub const ORDER_BOOK_SEED: &[u8] = b"order_book";

/// Resting orders per side of one book; keeps the book under the 10 KiB CPI allocation limit.
pub const MAX_ORDERS_PER_SIDE: usize = 32;
/// Resting orders one margin account may hold in one market.
pub const MAX_OPEN_ORDERS_PER_MARKET: u8 = 16;
/// Maker orders one `place_order` may touch (fills, self-trade cancels, expired removals).
pub const MAX_MAKER_TOUCHES_PER_ORDER: usize = 8;
/// Expired orders one `prune_expired_orders` may remove.
pub const MAX_PRUNES_PER_CALL: usize = 8;
/// Markets one clearinghouse may list.
pub const MAX_MARKETS: u16 = 64;
/// Funding periods one `update_funding` call may catch up on.
pub const MAX_FUNDING_PERIODS_PER_UPDATE: i64 = 24;
/// How many slots a refreshed collateral price stays usable (0: same slot only).
pub const COLLATERAL_PRICE_MAX_AGE_SLOTS: u64 = 0;
/// In market or broken redemption mode, while the collateral's market print is unusable,
/// risk-reducing actions may use the last good price for this long after it was seen ...
pub const COLLATERAL_LAST_GOOD_MAX_AGE_SECONDS: i64 = 15 * 60;
/// ... as a band of ± this much around it.
pub const COLLATERAL_LAST_GOOD_HAIRCUT_BPS: u32 = 500;

pub const INSURANCE_STAKE_SEED: &[u8] = b"insurance_stake";
/// Bounds on waterfall parameters.
pub const MAX_ADL_GRACE_SLOTS: u64 = 1_000_000;
pub const MAX_UNSTAKE_COOLDOWN_SECONDS: i64 = 30 * 24 * 60 * 60;
pub const MAX_BOOK_LIQUIDATION_BAND_BPS: u32 = 5_000;
/// Counterparties one `auto_deleverage` may fill against (each is valued in full).
pub const MAX_ADL_COUNTERPARTIES: usize = 6;
/// After its cooldown, an unstake request may be claimed for this long, then it lapses (so a
/// staker cannot hold a ready request and leave the moment a payout looms).
pub const UNSTAKE_CLAIM_WINDOW_SECONDS: i64 = 24 * 60 * 60;
/// A vault whose share is worth less than this fraction of an atom counts as wiped out.
pub const MIN_INSURANCE_ATOMS_PER_MILLION_SHARES: u128 = 1;
