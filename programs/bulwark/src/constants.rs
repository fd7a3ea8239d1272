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
/// Maker orders one `place_order` may fill.
pub const MAX_MAKER_TOUCHES_PER_ORDER: usize = 8;
/// Resting orders one `place_order` may remove without filling (self-trade, expired, off the
/// band, an empty reduce-only, a maker the fill would leave under margin). Counted apart from
/// fills so a few stale orders at the top cannot make an order, or a book liquidation, fill
/// nothing: a side holds at most `MAX_ORDERS_PER_SIDE`, so two calls always get past them.
pub const MAX_STALE_REMOVALS_PER_ORDER: usize = 16;
/// Of those, orders removed because the fill would leave the maker under margin: each costs a
/// valuation of the maker's whole account, so fewer fit in one instruction's compute. The
/// removals are kept when the instruction ends there, so the next call gets further.
pub const MAX_MARGIN_REFUSALS_PER_ORDER: usize = 3;
/// (market, oracle) pairs one instruction may price: the taker's markets and its makers'.
pub const MAX_PRICED_MARKETS: usize = 16;
/// Resting prices lie within the oracle ± this many fill bands (at most
/// `MAX_RESTING_DEVIATION_BPS`): far enough for real depth, near enough that the book's mark
/// stays meaningful and no price can overflow the mark arithmetic.
pub const RESTING_BAND_FILL_BANDS: u32 = 5;
pub const MAX_RESTING_DEVIATION_BPS: u32 = 5_000;
/// A funding period charges its premium only when the mark was sampled at least this many
/// times in it (`update_funding` samples on demand between periods); fewer, and it charges
/// none, so one sample at a steered moment cannot set a period's funding.
pub const MIN_FUNDING_SAMPLES_PER_PERIOD: u32 = 4;
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
/// ADL takes from winners: liquidators get a few seconds (~10 slots) to act before it may.
pub const MIN_ADL_GRACE_SLOTS: u64 = 10;
pub const MAX_UNSTAKE_COOLDOWN_SECONDS: i64 = 30 * 24 * 60 * 60;
/// The shortest unstake cooldown a clearinghouse may set: a staker who sees a bankruptcy coming
/// stays exposed to it for at least this long after asking to leave.
pub const MIN_UNSTAKE_COOLDOWN_SECONDS: i64 = 60 * 60;
/// A liquidation 25% off the oracle is no longer a price; the band-below-maintenance rule
/// usually binds first.
pub const MAX_BOOK_LIQUIDATION_BAND_BPS: u32 = 2_500;
/// Same for any fill; it must also sit below every market's maintenance margin.
pub const MAX_FILL_DEVIATION_BPS: u32 = 2_500;
/// A liquidation restores at most twice the maintenance requirement: more would close
/// positions (and charge fees) far beyond what safety needs.
pub const MAX_LIQUIDATION_BUFFER_BPS: u32 = 10_000;

// ---- market parameter bounds (checked at listing and on every risk change) ----------------

/// At least 2x leverage always: a higher maintenance margin could only be a way to liquidate
/// every account at once.
pub const MAX_MAINTENANCE_MARGIN_BPS: u32 = 5_000;
/// A liquidation fee above 10% of the closed notional takes far more than the risk it removes.
pub const MAX_LIQUIDATION_FEE_BPS: u32 = 1_000;
/// Taker fee of at most 1%; the maker fee lies within ± the taker fee.
pub const MAX_TAKER_FEE_BPS: u32 = 100;
/// A size premium above 10% per unit of size makes the smallest sizes pay the full notional.
pub const MAX_SIZE_PREMIUM_BPS: u32 = 1_000;
/// Funding periods from a minute to a day: shorter compounds the clamp, longer lets the
/// premium drift unpaid.
pub const MIN_FUNDING_PERIOD_SECONDS: i64 = 60;
pub const MAX_FUNDING_PERIOD_SECONDS: i64 = 24 * 60 * 60;
/// Funding's clamp, scaled to a day, is at most 24% (1% an hour) of the oracle price.
pub const MAX_DAILY_FUNDING_RATE_BPS: u64 = 2_400;

// ---- oracle parameter bounds ----------------------------------------------------------------

/// A price older than an hour (or ~9,000 slots) is not a price to margin against.
pub const MAX_ORACLE_STALENESS_SECONDS: i64 = 60 * 60;
pub const MAX_ORACLE_STALENESS_SLOTS: u64 = 9_000;
/// A feed unsure of its price by more than 10% is refused rather than trusted.
pub const MAX_ORACLE_CONFIDENCE_BPS: u32 = 1_000;
/// Divergence from the feed's moving average; above 50% the guard guards nothing.
pub const MAX_ORACLE_TWAP_DIVERGENCE_BPS: u32 = 5_000;
/// Redemption-aware collateral: a print 20% under redemption is a broken peg, not a band.
pub const MAX_REDEMPTION_HARD_BAND_BPS: u32 = 2_000;
/// The hard-band grace and the attestation's age are bounded by a day.
pub const MAX_HARD_BAND_GRACE_SECONDS: i64 = 24 * 60 * 60;
pub const MAX_ATTESTATION_AGE_SECONDS: i64 = 24 * 60 * 60;
/// Counterparties one `auto_deleverage` may fill against (each is valued in full).
pub const MAX_ADL_COUNTERPARTIES: usize = 6;
pub const ADL_ROUND_SEED: &[u8] = b"adl_round";
/// Winners one ADL round keeps nominated at once (sorted by score); a nomination that ranks
/// below a full queue's last entry is refused, and a filled entry frees its place.
pub const ADL_QUEUE_LEN: usize = 16;
/// Upper bound on an ADL round's nomination window (~1 minute): the target's loss can grow
/// while the window is open, so it must stay short.
pub const MAX_ADL_NOMINATION_SLOTS: u64 = 150;
/// After its cooldown, an unstake request may be claimed for this long at most, then it lapses
/// (so a staker cannot hold a ready request and leave the moment a payout looms).
pub const UNSTAKE_CLAIM_WINDOW_SECONDS: i64 = 60 * 60;
/// The claim window is also at most this fraction (1/n) of the cooldown, so it stays much
/// shorter than the cooldown whatever the cooldown is.
pub const UNSTAKE_CLAIM_WINDOW_COOLDOWN_DIVISOR: i64 = 4;
/// Shares the first stake of a share epoch locks for good (unowned, never redeemable), paid in
/// atoms from that stake when the vault holds less. They keep the share count from ever being
/// tiny, so income cannot inflate one share's price enough to round later stakers' shares away.
pub const INSURANCE_LOCKED_SHARES: u64 = 1_000_000;
/// A vault whose share is worth less than this fraction of an atom counts as wiped out.
pub const MIN_INSURANCE_ATOMS_PER_MILLION_SHARES: u128 = 1;
