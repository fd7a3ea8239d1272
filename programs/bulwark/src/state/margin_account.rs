use anchor_lang::prelude::*;

use crate::constants::MAX_POSITIONS;

/// `MarginAccount::status_flags` bits.
pub const ACCOUNT_FLAG_BEING_LIQUIDATED: u8 = 1 << 0;
pub const ACCOUNT_FLAG_BANKRUPT: u8 = 1 << 1;

/// Byte offsets (after the 8-byte discriminator) that keepers filter on with memcmp.
pub const MARGIN_ACCOUNT_CLEARINGHOUSE_OFFSET: usize = 8;
pub const MARGIN_ACCOUNT_OWNER_OFFSET: usize = 8 + 32;
pub const MARGIN_ACCOUNT_STATUS_FLAGS_OFFSET: usize = 8 + 32 * 3 + 8 + 8 + 2;

/// 128-bit signed value stored as two `u64` halves, so the containing struct stays 8-aligned
/// (a native `i128` makes the struct 16-aligned on x86_64 while account data is 8-aligned).
#[zero_copy]
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PodI128 {
    pub lo: u64,
    pub hi: u64,
}
const_assert_size!(PodI128, 16);

impl PodI128 {
    pub fn get(&self) -> i128 {
        ((self.hi as u128) << 64 | self.lo as u128) as i128
    }

    pub fn set(&mut self, value: i128) {
        let bits = value as u128;
        self.lo = bits as u64;
        self.hi = (bits >> 64) as u64;
    }

    pub fn new(value: i128) -> Self {
        let mut v = Self::default();
        v.set(value);
        v
    }
}

/// One perp position. An empty slot has `base_lots == 0` and no open orders.
#[zero_copy]
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PerpPosition {
    /// Signed size in base lots: long > 0, short < 0.
    pub base_lots: i64,
    /// Signed quote paid to open (collateral native units): negative for a long's cost.
    pub quote_entry: i64,
    /// Base lots reserved by resting bids / asks (their worst case counts in margin).
    pub open_bid_lots: i64,
    pub open_ask_lots: i64,
    /// Market cumulative funding per lot at the last settlement.
    pub last_cumulative_funding: PodI128,
    pub market_index: u16,
    pub open_order_count: u8,
    pub padding: [u8; 5],
}
const_assert_size!(PerpPosition, 56);

impl PerpPosition {
    /// A free slot: no base, no unsettled quote, no resting orders.
    pub fn is_empty(&self) -> bool {
        self.base_lots == 0
            && self.quote_entry == 0
            && self.open_order_count == 0
            && self.open_bid_lots == 0
            && self.open_ask_lots == 0
    }
}

/// A trader's account inside one clearinghouse.
/// PDA: `["margin_account", clearinghouse, owner, sub_account_id (u16 LE)]`.
#[account(zero_copy)]
#[derive(Debug)]
pub struct MarginAccount {
    pub clearinghouse: Pubkey,
    pub owner: Pubkey,
    /// May deposit and (with trading) place and cancel orders; never withdraw or close.
    pub delegate: Pubkey,
    pub collateral_balance: u64,
    pub last_active_slot: u64,
    pub sub_account_id: u16,
    /// `ACCOUNT_FLAG_*`, at `MARGIN_ACCOUNT_STATUS_FLAGS_OFFSET`.
    pub status_flags: u8,
    pub bump: u8,
    pub padding: [u8; 4],
    /// Slot at which the account was first seen liquidatable (0 when it is not).
    pub liquidatable_since_slot: u64,
    pub positions: [PerpPosition; MAX_POSITIONS],
    /// The last slot an instruction saw the account liquidatable (0 when it was last seen
    /// healthy). The ADL grace clock counts only while sightings are no further apart than
    /// the grace period: an account nobody looked at may have recovered in between.
    pub liquidatable_seen_slot: u64,
    /// ADL rounds open on this account (at most one): while one is, it cannot be closed, and
    /// no second round opens on it, so its insurance is set aside once.
    pub open_adl_rounds: u8,
    pub padding2: [u8; 7],
    pub reserved: [u8; 112],
}
const_assert_size!(MarginAccount, 32 * 3 + 8 + 8 + 8 + 8 + 56 * MAX_POSITIONS + 8 + 8 + 112);

impl MarginAccount {
    pub fn is_owner_or_delegate(&self, signer: &Pubkey) -> bool {
        *signer == self.owner || (self.delegate != Pubkey::default() && *signer == self.delegate)
    }

    pub fn open_positions(&self) -> impl Iterator<Item = &PerpPosition> {
        self.positions.iter().filter(|p| !p.is_empty())
    }

    pub fn is_empty(&self) -> bool {
        self.collateral_balance == 0 && self.open_positions().next().is_none()
    }
}

const _: () = assert!(MARGIN_ACCOUNT_CLEARINGHOUSE_OFFSET == 8 + core::mem::offset_of!(MarginAccount, clearinghouse));
const _: () = assert!(MARGIN_ACCOUNT_OWNER_OFFSET == 8 + core::mem::offset_of!(MarginAccount, owner));
const _: () = assert!(MARGIN_ACCOUNT_STATUS_FLAGS_OFFSET == 8 + core::mem::offset_of!(MarginAccount, status_flags));
