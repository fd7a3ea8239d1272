//! Pyth pull-oracle `PriceUpdateV2` accounts (Pyth Solana Receiver), decoded from their Borsh
//! layout: discriminator, write authority, verification level, price message, posted slot.

use anchor_lang::prelude::*;

use crate::error::BulwarkError;
use crate::math::oracle::RawPrice;

pub const PYTH_RECEIVER_PROGRAM_ID: Pubkey = pubkey!("rec5EKMGg6MxZYaMdyBfgwp4d5rB9T1VQH5pJv5LtFJ");
/// `sha256("account:PriceUpdateV2")[..8]`.
pub const PRICE_UPDATE_V2_DISCRIMINATOR: [u8; 8] = [34, 241, 35, 99, 157, 126, 244, 205];

/// Borsh variant indices of `VerificationLevel`.
pub const VERIFICATION_PARTIAL: u8 = 0;
pub const VERIFICATION_FULL: u8 = 1;

/// Fields of a decoded `PriceUpdateV2` that Bulwark uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriceUpdate {
    pub feed_id: [u8; 32],
    pub price: i64,
    pub conf: u64,
    pub exponent: i32,
    pub publish_time: i64,
    pub ema_price: i64,
    pub posted_slot: u64,
}

struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let end = self.at.checked_add(N).ok_or(BulwarkError::OracleInvalidData)?;
        let bytes = self.data.get(self.at..end).ok_or(BulwarkError::OracleInvalidData)?;
        self.at = end;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }
}

/// Decode a `PriceUpdateV2`; only fully verified updates (every guardian signature checked)
/// are accepted.
pub fn decode_update(data: &[u8]) -> Result<PriceUpdate> {
    let mut c = Cursor { data, at: 0 };
    require!(c.take::<8>()? == PRICE_UPDATE_V2_DISCRIMINATOR, BulwarkError::OracleInvalidData);
    let _write_authority = c.take::<32>()?;
    match c.take::<1>()?[0] {
        VERIFICATION_FULL => {}
        VERIFICATION_PARTIAL => return err!(BulwarkError::OracleNotFullyVerified),
        _ => return err!(BulwarkError::OracleInvalidData),
    }
    let feed_id = c.take::<32>()?;
    let price = i64::from_le_bytes(c.take::<8>()?);
    let conf = u64::from_le_bytes(c.take::<8>()?);
    let exponent = i32::from_le_bytes(c.take::<4>()?);
    let publish_time = i64::from_le_bytes(c.take::<8>()?);
    let _prev_publish_time = i64::from_le_bytes(c.take::<8>()?);
    let ema_price = i64::from_le_bytes(c.take::<8>()?);
    let _ema_conf = u64::from_le_bytes(c.take::<8>()?);
    let posted_slot = u64::from_le_bytes(c.take::<8>()?);
    Ok(PriceUpdate { feed_id, price, conf, exponent, publish_time, ema_price, posted_slot })
}

pub fn decode(data: &[u8], expected_feed_id: &[u8; 32]) -> Result<RawPrice> {
    let update = decode_update(data)?;
    require!(update.feed_id == *expected_feed_id, BulwarkError::OracleFeedIdMismatch);
    Ok(RawPrice {
        price: update.price,
        conf: update.conf,
        ema_price: update.ema_price,
        exponent: update.exponent,
        publish_time: update.publish_time,
        publish_slot: update.posted_slot,
    })
}
