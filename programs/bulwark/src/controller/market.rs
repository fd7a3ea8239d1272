//! Market-level state: TWAPs, open interest and funding.

use anchor_lang::prelude::*;

use crate::constants::MAX_FUNDING_PERIODS_PER_UPDATE;
use crate::error::BulwarkError;
use crate::math::oracle::update_ema;
use crate::math::perp::funding_per_lot;
use crate::math::safe::SafeMath;
use crate::state::{Market, OrderBook, SIDE_ASK, SIDE_BID};

/// The book's mark: the mid of the best bid and ask, or the oracle price when the book is
/// one-sided (an empty side says nothing about where the perp trades).
pub fn mark_sample(book: &OrderBook, market: &Market, oracle_price: i64) -> Result<i64> {
    match (book.best_price(SIDE_BID), book.best_price(SIDE_ASK)) {
        (Some(bid), Some(ask)) => {
            let mid_ticks = (bid as u128 + ask as u128) / 2;
            let price = mid_ticks.safe_mul(market.params.tick_size as u128).map_err(crate::math_err)?;
            Ok(i64::try_from(price).map_err(|_| BulwarkError::MathOverflow)?)
        }
        _ => Ok(oracle_price),
    }
}

/// Fold the current oracle price and mark into the funding-period TWAPs.
pub fn update_twaps(market: &mut Market, oracle_price: i64, mark: i64, now_unix: i64) -> Result<()> {
    let window = market.params.funding_period_seconds;
    let elapsed =
        if market.twap_last_update_unix == 0 { window } else { now_unix.saturating_sub(market.twap_last_update_unix) };
    market.oracle_twap = update_ema(market.oracle_twap, oracle_price, elapsed, window).map_err(crate::math_err)?;
    market.mark_twap = update_ema(market.mark_twap, mark, elapsed, window).map_err(crate::math_err)?;
    market.twap_last_update_unix = now_unix;
    Ok(())
}

/// Track open interest (Σ long lots) across one account's change from `before` to `after`.
pub fn record_open_interest(market: &mut Market, before: i64, after: i64) -> Result<()> {
    let delta = (after.max(0) as i128) - (before.max(0) as i128);
    let oi = (market.open_interest_long_lots as i128).safe_add(delta).map_err(crate::math_err)?;
    market.open_interest_long_lots = u64::try_from(oi).map_err(|_| BulwarkError::MathOverflow)?;
    Ok(())
}

/// Advance funding by the whole periods elapsed (at most `MAX_FUNDING_PERIODS_PER_UPDATE`);
/// returns the per-lot payment added and the number of periods.
pub fn accrue_funding(market: &mut Market, now_unix: i64) -> Result<(i128, i64)> {
    let period = market.params.funding_period_seconds;
    let periods = now_unix.saturating_sub(market.last_funding_unix) / period;
    require!(periods >= 1, BulwarkError::FundingNotDue);
    let periods = periods.min(MAX_FUNDING_PERIODS_PER_UPDATE);
    let spec = crate::controller::pricing::perp_spec(market);
    let per_period = funding_per_lot(market.mark_twap, market.oracle_twap, market.params.max_funding_rate_bps, &spec)
        .map_err(crate::math_err)?;
    let added = per_period.safe_mul(periods as i128).map_err(crate::math_err)?;
    let cumulative = market.cumulative_funding_per_lot.get().safe_add(added).map_err(crate::math_err)?;
    market.cumulative_funding_per_lot.set(cumulative);
    // Periods beyond the cap are skipped rather than charged in a burst.
    market.last_funding_unix = if now_unix - market.last_funding_unix >= (MAX_FUNDING_PERIODS_PER_UPDATE + 1) * period {
        now_unix - (now_unix - market.last_funding_unix) % period
    } else {
        market.last_funding_unix + periods * period
    };
    Ok((added, periods))
}
