use anchor_lang::prelude::*;

/// A price published by its authority: Bulwark's `Manual` oracle source (localnet, devnet,
/// tests) and the redemption attestations of the redemption-aware collateral mode.
/// PDA: `["price_feed", authority, feed_id (u64 LE)]`.
#[account(zero_copy)]
#[derive(Debug)]
pub struct PriceFeed {
    pub authority: Pubkey,
    pub price: i64,
    pub conf: u64,
    /// Time-weighted moving average of `price`, updated on every publish.
    pub ema_price: i64,
    pub publish_time: i64,
    pub publish_slot: u64,
    /// Attested reserves / liabilities in `PRICE_PRECISION` (redemption health feeds).
    pub reserve_ratio: i64,
    pub feed_id: u64,
    /// Averaging window of `ema_price`, seconds.
    pub ema_window_seconds: u32,
    pub exponent: i32,
    /// Attested: redemption is open (1) or suspended (0).
    pub redemption_enabled: u8,
    pub bump: u8,
    pub padding: [u8; 6],
    pub reserved: [u8; 64],
}
const_assert_size!(PriceFeed, 32 + 8 * 7 + 8 + 8 + 64);
