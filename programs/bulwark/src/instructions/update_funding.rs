use anchor_lang::prelude::*;

use crate::constants::MIN_FUNDING_SAMPLES_PER_PERIOD;
use crate::controller::market::{accrue_funding, mark_sample, update_twaps};
use crate::controller::pricing::{collateral_price, market_price};
use crate::error::BulwarkError;
use crate::events::{emit_event, FundingSampledV1, FundingUpdatedV1};
use crate::math::oracle::OracleTolerance;
use crate::math::safe::SafeMath;
use crate::state::{Clearinghouse, Market, OrderBook};

#[derive(Accounts)]
pub struct UpdateFunding<'info> {
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
    #[account(mut, has_one = clearinghouse @ BulwarkError::MarketMismatch, has_one = order_book @ BulwarkError::MarketMismatch)]
    pub market: AccountLoader<'info, Market>,
    pub order_book: AccountLoader<'info, OrderBook>,
    /// CHECK: must be the market's configured feed; checked by the oracle reader.
    pub oracle: UncheckedAccount<'info>,
}

/// Permissionless crank: fold the samples in force into the TWAPs and sample the current oracle
/// and mark, then charge every whole funding period elapsed. Between due times it samples
/// only, at most `MIN_FUNDING_SAMPLES_PER_PERIOD` times a period (a period sampled fewer times
/// charges no premium). Positions settle lazily from the cumulative index.
/// Compute: the worst case measured on the bytecode and its budget are in `docs/compute.md`.
pub fn handler(ctx: Context<UpdateFunding>) -> Result<()> {
    let clock = Clock::get()?;
    let ch = ctx.accounts.clearinghouse.load()?;
    let mut market = ctx.accounts.market.load_mut()?;
    require!(market.is_tradable(), BulwarkError::MarketNotTradable);
    let collateral_usd = collateral_price(&ch, &clock)?;
    let price = market_price(&market, &ctx.accounts.oracle, collateral_usd, &clock, OracleTolerance::STRICT)?;
    let book = ctx.accounts.order_book.load()?;
    let mark = mark_sample(&book, &market, price, ch.waterfall.max_fill_deviation_bps)?;
    let now = clock.unix_timestamp;
    let period = market.params.funding_period_seconds;
    if now.saturating_sub(market.last_funding_unix) < period {
        let interval = period.safe_div(MIN_FUNDING_SAMPLES_PER_PERIOD as i64).map_err(crate::math_err)?.max(1);
        require!(now.saturating_sub(market.twap_last_update_unix) >= interval, BulwarkError::FundingNotDue);
        update_twaps(&mut market, price, mark, now)?;
        emit_event(FundingSampledV1 {
            market: ctx.accounts.market.key(),
            oracle_price: price,
            mark,
            samples: market.funding_samples,
        });
        return Ok(());
    }
    update_twaps(&mut market, price, mark, now)?;
    let (added, periods) = accrue_funding(&mut market, now)?;
    emit_event(FundingUpdatedV1 {
        market: ctx.accounts.market.key(),
        funding_per_lot: added as i64,
        periods,
        cumulative_funding_per_lot: market.cumulative_funding_per_lot.get() as i64,
        mark_twap: market.mark_twap,
        oracle_twap: market.oracle_twap,
    });
    Ok(())
}
