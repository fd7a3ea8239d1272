//! Market-level state: TWAPs, open interest and funding.

use anchor_lang::prelude::*;

use crate::constants::{MAX_FUNDING_PERIODS_PER_UPDATE, MIN_FUNDING_SAMPLES_PER_PERIOD};
use crate::error::BulwarkError;
use crate::math::liquidation::band_limit_ticks;
use crate::math::oracle::update_ema;
use crate::math::perp::funding_per_lot;
use crate::math::safe::SafeMath;
use crate::state::{Market, OrderBook, SIDE_ASK, SIDE_BID};

/// The book's mark: the mid of the best bid and ask, each first clamped to the fill band
/// around the oracle (a far order says nothing about where the perp trades, and cannot steer
/// funding further than the band), or the oracle price when the book is one-sided.
pub fn mark_sample(book: &OrderBook, market: &Market, oracle_price: i64, fill_band_bps: u32) -> Result<i64> {
    let (Some(bid), Some(ask)) = (book.best_price(SIDE_BID), book.best_price(SIDE_ASK)) else {
        return Ok(oracle_price);
    };
    let tick = market.params.tick_size;
    let low = band_limit_ticks(oracle_price, tick, fill_band_bps, true).map_err(crate::math_err)?;
    let high = band_limit_ticks(oracle_price, tick, fill_band_bps, false).map_err(crate::math_err)?;
    let mid_ticks = (bid.clamp(low, high.max(low)) as u128 + ask.clamp(low, high.max(low)) as u128) / 2;
    let price = mid_ticks.safe_mul(tick as u128).map_err(crate::math_err)?;
    Ok(i64::try_from(price).map_err(|_| BulwarkError::MathOverflow)?)
}

/// Fold the samples in force since the last update into the funding-period TWAPs, each
/// weighted by how long it stood (at most `window / MIN_FUNDING_SAMPLES_PER_PERIOD`, so one
/// sample left standing cannot carry a period), then make `oracle_price` and `mark` the
/// samples in force from now on.
pub fn update_twaps(market: &mut Market, oracle_price: i64, mark: i64, now_unix: i64) -> Result<()> {
    let window = market.params.funding_period_seconds;
    if market.twap_last_update_unix == 0 || market.last_oracle_sample == 0 {
        market.oracle_twap = if market.oracle_twap == 0 { oracle_price } else { market.oracle_twap };
        market.mark_twap = if market.mark_twap == 0 { mark } else { market.mark_twap };
        market.funding_samples = market.funding_samples.saturating_add(1);
    } else {
        let elapsed = now_unix.saturating_sub(market.twap_last_update_unix);
        let weight = elapsed.min(window.safe_div(MIN_FUNDING_SAMPLES_PER_PERIOD as i64).map_err(crate::math_err)?);
        market.oracle_twap =
            update_ema(market.oracle_twap, market.last_oracle_sample, weight, window).map_err(crate::math_err)?;
        market.mark_twap =
            update_ema(market.mark_twap, market.last_mark_sample, weight, window).map_err(crate::math_err)?;
        if elapsed > 0 {
            market.funding_samples = market.funding_samples.saturating_add(1);
        }
    }
    market.last_oracle_sample = oracle_price;
    market.last_mark_sample = mark;
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
    let periods = now_unix.saturating_sub(market.last_funding_unix).safe_div(period).map_err(crate::math_err)?;
    require!(periods >= 1, BulwarkError::FundingNotDue);
    let periods = periods.min(MAX_FUNDING_PERIODS_PER_UPDATE);
    let spec = crate::controller::pricing::perp_spec(market);
    // Too few samples in the period: the TWAPs say too little about it to charge anyone.
    let per_period = if market.funding_samples < MIN_FUNDING_SAMPLES_PER_PERIOD {
        0
    } else {
        funding_per_lot(market.mark_twap, market.oracle_twap, market.params.max_funding_rate_bps, &spec)
            .map_err(crate::math_err)?
    };
    market.funding_samples = 0;
    let added = per_period.safe_mul(periods as i128).map_err(crate::math_err)?;
    let cumulative = market.cumulative_funding_per_lot.get().safe_add(added).map_err(crate::math_err)?;
    market.cumulative_funding_per_lot.set(cumulative);
    // Periods beyond the cap are skipped rather than charged in a burst.
    market.last_funding_unix = if now_unix - market.last_funding_unix >= (MAX_FUNDING_PERIODS_PER_UPDATE + 1) * period {
        // The last whole period boundary at or before now (elapsed ≥ 0, period > 0).
        let elapsed = now_unix.saturating_sub(market.last_funding_unix);
        let whole_periods = elapsed.safe_div(period).map_err(crate::math_err)?;
        market
            .last_funding_unix
            .safe_add(whole_periods.safe_mul(period).map_err(crate::math_err)?)
            .map_err(crate::math_err)?
    } else {
        market.last_funding_unix + periods * period
    };
    Ok((added, periods))
}
