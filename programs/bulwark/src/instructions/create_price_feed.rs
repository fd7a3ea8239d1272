use anchor_lang::prelude::*;

use crate::constants::{MAX_ORACLE_EXPONENT, PRICE_FEED_SEED};
use crate::error::BulwarkError;
use crate::state::{account_space, PriceFeed};

#[derive(Accounts)]
#[instruction(feed_id: u64)]
pub struct CreatePriceFeed<'info> {
    pub authority: Signer<'info>,
    #[account(mut)]
    pub payer: Signer<'info>,
    #[account(
        init,
        payer = payer,
        space = account_space::<PriceFeed>(),
        seeds = [PRICE_FEED_SEED, authority.key().as_ref(), &feed_id.to_le_bytes()],
        bump,
    )]
    pub price_feed: AccountLoader<'info, PriceFeed>,
    pub system_program: Program<'info, System>,
}

/// Create a manual feed; it holds no price until its first update. Compute: see `docs/compute.md`.
pub fn handler(ctx: Context<CreatePriceFeed>, feed_id: u64, exponent: i32, ema_window_seconds: u32) -> Result<()> {
    require!(exponent.unsigned_abs() <= MAX_ORACLE_EXPONENT as u32, BulwarkError::InvalidParameter);
    require!(ema_window_seconds > 0, BulwarkError::InvalidParameter);
    let mut feed = ctx.accounts.price_feed.load_init()?;
    feed.authority = ctx.accounts.authority.key();
    feed.feed_id = feed_id;
    feed.exponent = exponent;
    feed.ema_window_seconds = ema_window_seconds;
    feed.bump = ctx.bumps.price_feed;
    Ok(())
}
