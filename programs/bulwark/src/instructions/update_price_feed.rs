use anchor_lang::prelude::*;

use crate::error::BulwarkError;
use crate::events::{emit_event, PriceFeedUpdatedV1};
use crate::math::oracle::update_ema;
use crate::state::PriceFeed;

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriceFeedUpdate {
    /// In the feed's exponent. Any value is stored; readers reject non-positive prices.
    pub price: i64,
    pub conf: u64,
    pub redemption_enabled: bool,
    pub reserve_ratio: i64,
}

#[derive(Accounts)]
pub struct UpdatePriceFeed<'info> {
    pub authority: Signer<'info>,
    #[account(mut, has_one = authority @ BulwarkError::NotFeedAuthority)]
    pub price_feed: AccountLoader<'info, PriceFeed>,
}

/// Publish a price stamped with the cluster clock (authorities cannot back- or future-date).
/// Compute: the worst case measured on the bytecode and its budget are in `docs/compute.md`.
pub fn handler(ctx: Context<UpdatePriceFeed>, update: PriceFeedUpdate) -> Result<()> {
    let clock = Clock::get()?;
    let mut feed = ctx.accounts.price_feed.load_mut()?;
    // The average folds in the price that was in force since the last publish, not the new one:
    // a jump is then measured against where the price has been.
    feed.ema_price = if feed.publish_time == 0 {
        update.price
    } else {
        let elapsed = clock.unix_timestamp.saturating_sub(feed.publish_time);
        update_ema(feed.ema_price, feed.price, elapsed, feed.ema_window_seconds as i64).map_err(crate::math_err)?
    };
    feed.price = update.price;
    feed.conf = update.conf;
    feed.publish_time = clock.unix_timestamp;
    feed.publish_slot = clock.slot;
    feed.redemption_enabled = update.redemption_enabled as u8;
    feed.reserve_ratio = update.reserve_ratio;

    emit_event(PriceFeedUpdatedV1 {
        price_feed: ctx.accounts.price_feed.key(),
        price: feed.price,
        conf: feed.conf,
        ema_price: feed.ema_price,
        exponent: feed.exponent,
        publish_time: feed.publish_time,
        redemption_enabled: update.redemption_enabled,
        reserve_ratio: feed.reserve_ratio,
    });
    Ok(())
}
