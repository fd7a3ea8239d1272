use anchor_lang::prelude::*;

use crate::error::BulwarkError;
use crate::math::oracle::RawPrice;
use crate::state::PriceFeed;

/// Decode a `PriceFeed` account (discriminator checked; the owner is checked by the caller).
pub fn decode(data: &[u8]) -> Result<RawPrice> {
    let feed = load(data)?;
    Ok(RawPrice {
        price: feed.price,
        conf: feed.conf,
        ema_price: feed.ema_price,
        exponent: feed.exponent,
        publish_time: feed.publish_time,
        publish_slot: feed.publish_slot,
    })
}

/// Copy a `PriceFeed` out of raw account bytes.
pub fn load(data: &[u8]) -> Result<PriceFeed> {
    let disc = PriceFeed::DISCRIMINATOR;
    let body_len = core::mem::size_of::<PriceFeed>();
    require!(data.len() >= disc.len() + body_len, BulwarkError::OracleInvalidData);
    require!(&data[..disc.len()] == disc, BulwarkError::OracleInvalidData);
    Ok(bytemuck::pod_read_unaligned::<PriceFeed>(&data[disc.len()..disc.len() + body_len]))
}
