//! Pyth legacy (v2) price accounts, read straight from their `#[repr(C)]` layout.
//!
//! Bulwark does not link `pyth-sdk-solana`: its 0.10 release only builds against
//! `solana-program` 2.3.0, which would put a second Solana SDK into the program. The layout
//! below is the one that crate and Pyth's `oracle.h` define (magic, version 2, account type 3).

use anchor_lang::prelude::*;
use bytemuck::{Pod, Zeroable};

use crate::error::BulwarkError;
use crate::math::oracle::RawPrice;

/// Pyth oracle program on Solana mainnet-beta; the `devnet` feature selects the devnet one.
#[cfg(not(feature = "devnet"))]
pub const PYTH_ORACLE_PROGRAM_ID: Pubkey = pubkey!("FsJ3A3u2vn5cTVofAjvy6y5kwABJAqYWpe4975bi2epH");
#[cfg(feature = "devnet")]
pub const PYTH_ORACLE_PROGRAM_ID: Pubkey = pubkey!("gSbePebfvPy7tRqimPoVecS2UsBvYv46ynrzWocc92s");

pub const PYTH_MAGIC: u32 = 0xa1b2_c3d4;
pub const PYTH_VERSION_2: u32 = 2;
pub const PYTH_ACCOUNT_TYPE_PRICE: u32 = 3;
pub const PYTH_STATUS_TRADING: u32 = 1;

/// The first 240 bytes of a legacy price account: everything before the publisher components.
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub struct LegacyPriceHeader {
    pub magic: u32,
    pub version: u32,
    pub account_type: u32,
    pub size: u32,
    pub price_type: u32,
    pub exponent: i32,
    pub num_components: u32,
    pub num_quoters: u32,
    pub last_slot: u64,
    pub valid_slot: u64,
    pub ema_price: i64,
    pub ema_price_numerator: i64,
    pub ema_price_denominator: i64,
    pub ema_conf: i64,
    pub ema_conf_numerator: i64,
    pub ema_conf_denominator: i64,
    pub timestamp: i64,
    pub min_publishers: u8,
    pub drv2: u8,
    pub drv3: u16,
    pub drv4: u32,
    pub product_account: [u8; 32],
    pub next_price_account: [u8; 32],
    pub prev_slot: u64,
    pub prev_price: i64,
    pub prev_conf: u64,
    pub prev_timestamp: i64,
    pub agg_price: i64,
    pub agg_conf: u64,
    pub agg_status: u32,
    pub agg_corporate_action: u32,
    pub agg_publish_slot: u64,
}
const_assert_size!(LegacyPriceHeader, 240);

pub fn decode_header(data: &[u8]) -> Result<LegacyPriceHeader> {
    let len = core::mem::size_of::<LegacyPriceHeader>();
    require!(data.len() >= len, BulwarkError::OracleInvalidData);
    let header = bytemuck::pod_read_unaligned::<LegacyPriceHeader>(&data[..len]);
    require!(
        header.magic == PYTH_MAGIC
            && header.version == PYTH_VERSION_2
            && header.account_type == PYTH_ACCOUNT_TYPE_PRICE,
        BulwarkError::OracleInvalidData
    );
    Ok(header)
}

/// The aggregate when it is trading; otherwise the previous aggregate with its own (older)
/// time and slot, which the staleness check then judges (as `pyth-sdk-solana` does).
pub fn decode(data: &[u8]) -> Result<RawPrice> {
    let h = decode_header(data)?;
    let (price, conf, publish_time, publish_slot) = if h.agg_status == PYTH_STATUS_TRADING {
        (h.agg_price, h.agg_conf, h.timestamp, h.agg_publish_slot)
    } else {
        (h.prev_price, h.prev_conf, h.prev_timestamp, h.prev_slot)
    };
    Ok(RawPrice { price, conf, ema_price: h.ema_price, exponent: h.exponent, publish_time, publish_slot })
}
