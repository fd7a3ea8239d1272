//! Liquidation sizing and pricing (DESIGN.md §7.1): when an account may be liquidated, how many
//! lots restore it to maintenance plus a buffer, what the fee is and how it is split, and the
//! price band a liquidation against the book may fill within.

use crate::constants::BPS_DENOMINATOR;
use crate::math::margin::Health;
use crate::math::perp::{base_value, PerpSpec};
use crate::math::safe::{to_u64, MathError, MathResult, SafeMath};

const BPS: i128 = BPS_DENOMINATOR as i128;

/// `equity >= maintenance × (1 + buffer)`: the level a liquidation restores.
pub fn meets_buffer(health: &Health, buffer_bps: u32) -> MathResult<bool> {
    let target = health.maintenance_requirement.safe_mul(BPS.safe_add(buffer_bps as i128)?)?;
    Ok(health.equity.safe_mul(BPS)? >= target)
}

/// Liquidatable: below maintenance, or already being liquidated and not yet back above the
/// buffer (so a liquidation in progress is not stopped by a tick of recovery).
pub fn is_liquidatable(health: &Health, being_liquidated: bool, buffer_bps: u32) -> MathResult<bool> {
    Ok(!health.meets_maintenance() || (being_liquidated && !meets_buffer(health, buffer_bps)?))
}

/// Collateral atoms a close of `close_lots` out of `base_lots` moves at `price`:
/// `|value(q) − value(q − close)|`. Using the marginal value (not `value(close)`) makes the
/// closer's equity move by exactly the cash it is paid over the oracle, with no rounding slip.
pub fn marginal_close_value(base_lots: i64, close_lots: u64, price: i64, spec: &PerpSpec) -> MathResult<u64> {
    let close = i64::try_from(close_lots).map_err(|_| MathError::overflow())?;
    if close > base_lots.checked_abs().ok_or_else(MathError::overflow)? {
        return Err(MathError::overflow());
    }
    let after = if base_lots > 0 { base_lots - close } else { base_lots + close };
    let delta = base_value(base_lots, price, spec)?.safe_sub(base_value(after, price, spec)?)?;
    to_u64(delta.abs())
}

/// Lots to close so that, after the close's cost, equity is back at maintenance plus the
/// buffer. `close_cost_bps` is everything closing one unit of notional can cost the account at
/// worst: the liquidation fee, plus for a close against the book the band's distance from the
/// oracle and the taker fee. Closing `x` of `q` lots worth `notional` (at the oracle) lowers
/// equity by at most `c·x·N/q` and the requirement by at least `m·x·N/q` (the base maintenance
/// ratio; a size premium only lowers it further), so it suffices that
/// `x ≥ BPS·q·((BPS+b)·M − BPS·E) / (N·((BPS+b)·m − BPS·c))`, rounded up, capped at `q`. When a
/// close costs as much as it frees (`(BPS+b)·m ≤ BPS·c`) no partial close converges: the whole
/// position goes. Returns 0 when the account already meets the buffer.
pub fn liquidation_lots(
    health: &Health,
    buffer_bps: u32,
    position_lots: u64,
    position_notional: i128,
    maintenance_margin_bps: u32,
    close_cost_bps: u32,
) -> MathResult<u64> {
    let scaled_buffer = BPS.safe_add(buffer_bps as i128)?;
    let shortfall = health.maintenance_requirement.safe_mul(scaled_buffer)?.safe_sub(health.equity.safe_mul(BPS)?)?;
    if shortfall <= 0 || position_lots == 0 {
        return Ok(0);
    }
    let per_unit =
        scaled_buffer.safe_mul(maintenance_margin_bps as i128)?.safe_sub(BPS.safe_mul(close_cost_bps as i128)?)?;
    if per_unit <= 0 || position_notional <= 0 {
        return Ok(position_lots);
    }
    let lots = BPS
        .safe_mul(position_lots as i128)?
        .safe_mul(shortfall)?
        .safe_div_ceil(position_notional.safe_mul(per_unit)?)?;
    Ok(lots.min(position_lots as i128) as u64)
}

/// The worst cost, in bps of the notional closed, of a liquidation against the book: it may
/// fill as far as the band from the oracle, then pays the liquidation fee and the taker fee.
pub fn book_close_cost_bps(band_bps: u32, liquidation_fee_bps: u32, taker_fee_bps: u32) -> u32 {
    band_bps.saturating_add(liquidation_fee_bps).saturating_add(taker_fee_bps)
}

/// The liquidation fee actually charged: the schedule's fee, but never more than the equity
/// the account has left (so a liquidator is never paid out of the insurance vault).
pub fn capped_liquidation_fee(scheduled_fee: u64, equity_available: i128) -> u64 {
    if equity_available <= 0 {
        return 0;
    }
    (scheduled_fee as u128).min(equity_available as u128) as u64
}

/// The liquidation fee on `notional`, rounded up (the liquidated account owes it).
pub fn liquidation_fee(notional: u64, fee_bps: u32) -> MathResult<u64> {
    to_u64((notional as i128).safe_mul(fee_bps as i128)?.safe_div_ceil(BPS)?)
}

/// How a liquidation fee is shared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeeSplit {
    /// To the liquidator (takeover) or the cranker (book liquidation).
    pub liquidator: u64,
    pub insurance: u64,
}

/// Takeover: the insurance vault takes `insurance_share_bps` (rounded down), the liquidator
/// the rest, as its discount on the position it takes on.
pub fn split_takeover_fee(fee: u64, insurance_share_bps: u32) -> MathResult<FeeSplit> {
    let insurance = to_u64((fee as i128).safe_mul(insurance_share_bps as i128)?.safe_div_floor(BPS)?)?;
    Ok(FeeSplit { liquidator: fee - insurance, insurance })
}

/// Book liquidation: the cranker takes no risk, so it gets a bounded reward
/// (`reward_bps` of the fee, at most `max_reward`), the insurance vault the rest.
pub fn split_book_fee(fee: u64, reward_bps: u32, max_reward: u64) -> MathResult<FeeSplit> {
    let reward = to_u64((fee as i128).safe_mul(reward_bps as i128)?.safe_div_floor(BPS)?)?.min(max_reward);
    Ok(FeeSplit { liquidator: reward, insurance: fee - reward })
}

/// The worst price, in ticks, a liquidation against the book accepts: `band_bps` through the
/// oracle price, rounded toward the oracle (a seller's floor rounds up, a buyer's cap down).
pub fn band_limit_ticks(oracle_price: i64, tick_size: u64, band_bps: u32, selling: bool) -> MathResult<u64> {
    let tick = tick_size as i128;
    let ticks = if selling {
        (oracle_price as i128).safe_mul(BPS.safe_sub(band_bps as i128)?)?.safe_div_ceil(BPS.safe_mul(tick)?)?
    } else {
        (oracle_price as i128).safe_mul(BPS.safe_add(band_bps as i128)?)?.safe_div_floor(BPS.safe_mul(tick)?)?
    };
    to_u64(ticks.max(1))
}

/// The worst price, in ticks, at which a liquidation against the book may close `lots` without
/// making a deficit: filling every lot there loses at most the account's positive equity,
/// after a bound on the taker fee (twice its fee on the oracle value, since no fill is further
/// than the fill band, itself under 100%). With no equity to spare the fills must pay for the
/// taker fee themselves, so a deficit a price move made is never deepened by the close. The
/// caller takes the tighter of this and the band. Rounded away from the oracle's good side
/// (a seller's floor up, a buyer's cap down) and never below one tick.
pub fn no_deficit_limit_ticks(
    oracle_price: i64,
    equity: i128,
    lots: u64,
    taker_fee_bps: u32,
    selling: bool,
    spec: &PerpSpec,
) -> MathResult<u64> {
    let signed_lots = i64::try_from(lots).map_err(|_| MathError::overflow())?;
    if signed_lots == 0 {
        return band_limit_ticks(oracle_price, spec.tick_size, 0, selling);
    }
    let value = base_value(signed_lots, oracle_price, spec)?.abs();
    let fee_bound = value.safe_mul(2)?.safe_mul(taker_fee_bps as i128)?.safe_div_ceil(BPS)?;
    let room = equity.max(0).safe_sub(fee_bound)?;
    // Price distance per lot that `room` pays for: room · tick / (lots · atoms per lot-tick),
    // floored (toward less room, whichever its sign).
    let per_price = (signed_lots as i128).safe_mul(spec.quote_per_lot_tick as i128)?;
    let distance = room.safe_mul(spec.tick_size as i128)?.safe_div_floor(per_price)?;
    let tick = spec.tick_size as i128;
    let ticks = if selling {
        (oracle_price as i128).safe_sub(distance)?.safe_div_ceil(tick)?
    } else {
        (oracle_price as i128).safe_add(distance)?.safe_div_floor(tick)?
    };
    to_u64(ticks.max(1))
}

/// The worst price, in ticks, a liquidation against the book of `lots` accepts: within the book
/// band of the oracle and nowhere the close would make a deficit (`no_deficit_limit_ticks`),
/// whichever is tighter. The program's limit, and the keeper's when it chooses makers.
#[allow(clippy::too_many_arguments)]
pub fn book_liquidation_limit_ticks(
    oracle_price: i64,
    band_bps: u32,
    equity: i128,
    lots: u64,
    taker_fee_bps: u32,
    selling: bool,
    spec: &PerpSpec,
) -> MathResult<u64> {
    let band = band_limit_ticks(oracle_price, spec.tick_size, band_bps, selling)?;
    let no_deficit = no_deficit_limit_ticks(oracle_price, equity, lots, taker_fee_bps, selling, spec)?;
    Ok(if selling { band.max(no_deficit) } else { band.min(no_deficit) })
}

/// The prices, in ticks, an order may rest at: the oracle ± `RESTING_BAND_FILL_BANDS` fill
/// bands (at most `MAX_RESTING_DEVIATION_BPS`), rounded inward. Returns `(lowest, highest)`.
pub fn resting_band_ticks(oracle_price: i64, tick_size: u64, fill_band_bps: u32) -> MathResult<(u64, u64)> {
    let band = fill_band_bps
        .saturating_mul(crate::constants::RESTING_BAND_FILL_BANDS)
        .min(crate::constants::MAX_RESTING_DEVIATION_BPS);
    Ok((
        band_limit_ticks(oracle_price, tick_size, band, true)?,
        band_limit_ticks(oracle_price, tick_size, band, false)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::margin::account_health;
    use crate::math::perp::value_position;

    /// 1 lot = 1 unit, $1 tick, 1,000,000 atoms per lot per tick; IMR 10%, MMR 5%.
    const SPEC: PerpSpec = PerpSpec {
        tick_size: 1_000_000,
        quote_per_lot_tick: 1_000_000,
        initial_margin_bps: 1_000,
        maintenance_margin_bps: 500,
        size_premium_bps: 0,
        size_premium_unit_lots: 0,
    };

    fn health_at(balance: u64, lots: i64, quote: i64, price: i64) -> Health {
        let v = value_position(lots, quote, 0, 0, 0, price, &SPEC).unwrap();
        account_health(balance, &[v]).unwrap()
    }

    #[test]
    fn buffer_and_liquidatable() {
        let h = Health { equity: 105, initial_requirement: 0, maintenance_requirement: 100 };
        assert!(meets_buffer(&h, 500).unwrap());
        assert!(!meets_buffer(&h, 501).unwrap());
        assert!(!is_liquidatable(&h, true, 500).unwrap());
        assert!(is_liquidatable(&h, true, 600).unwrap(), "flagged and under the buffer");
        assert!(!is_liquidatable(&h, false, 600).unwrap(), "unflagged above maintenance");
        assert!(is_liquidatable(&Health { equity: 99, ..h }, false, 0).unwrap());
    }

    #[test]
    fn liquidation_restores_the_buffer_with_the_fewest_lots() {
        // 100 long bought at $100 (10,000 USD), 950 USD balance; oracle $95: equity 450 USD,
        // maintenance 475 USD. Fee 2.5%, buffer 10%.
        let (balance, quote, price) = (950_000_000u64, -10_000_000_000i64, 95_000_000i64);
        let h = health_at(balance, 100, quote, price);
        assert_eq!((h.equity, h.maintenance_requirement), (450_000_000, 475_000_000));
        let lots = liquidation_lots(&h, 1_000, 100, 9_500_000_000, 500, 250).unwrap();
        // x ≥ 10,000·100·(11,000·475 − 10,000·450)/(9,500·(11,000·500 − 10,000·250)) = 25.4 → 26.
        assert_eq!(lots, 26);
        let after = |x: i64| {
            let value = marginal_close_value(100, x as u64, price, &SPEC).unwrap();
            let fee = liquidation_fee(value, 250).unwrap();
            // Closing at the oracle realises x·(95 − 100); the fee comes off the balance.
            let realised = value as i128 - (x as i128 * 100_000_000);
            let balance = (balance as i128 + realised - fee as i128) as u64;
            health_at(balance, 100 - x, quote / 100 * (100 - x), price)
        };
        assert!(meets_buffer(&after(26), 1_000).unwrap());
        assert!(!meets_buffer(&after(25), 1_000).unwrap(), "one lot fewer is not enough");
        // Healthy: nothing to do. Hopeless: the whole position.
        assert_eq!(liquidation_lots(&health_at(5_000_000_000, 100, quote, price), 1_000, 100, 1, 500, 250).unwrap(), 0);
        let bankrupt = Health { equity: -5, initial_requirement: 0, maintenance_requirement: 475_000_000 };
        assert_eq!(liquidation_lots(&bankrupt, 1_000, 100, 9_500_000_000, 500, 250).unwrap(), 100);
    }

    #[test]
    fn marginal_value_telescopes() {
        let spec = PerpSpec { tick_size: 3, quote_per_lot_tick: 1, ..SPEC };
        // value(q) = floor(q·p/3); closing in pieces adds up to the whole.
        let (q, p) = (10i64, 7i64);
        let whole = marginal_close_value(q, 10, p, &spec).unwrap();
        let parts = marginal_close_value(q, 3, p, &spec).unwrap()
            + marginal_close_value(7, 3, p, &spec).unwrap()
            + marginal_close_value(4, 4, p, &spec).unwrap();
        assert_eq!(whole, parts);
        assert_eq!(whole, 23); // floor(70/3)
        let short_whole = marginal_close_value(-10, 10, p, &spec).unwrap();
        assert_eq!(short_whole, 24, "a short's liability rounds up");
        assert!(marginal_close_value(5, 6, p, &spec).is_err(), "cannot close more than held");
    }

    #[test]
    fn fees_split_and_round_toward_insurance() {
        assert_eq!(liquidation_fee(10_001, 250).unwrap(), 251); // 250.025 up
        assert_eq!(split_takeover_fee(251, 5_000).unwrap(), FeeSplit { liquidator: 126, insurance: 125 });
        assert_eq!(split_book_fee(251, 2_000, 1_000).unwrap(), FeeSplit { liquidator: 50, insurance: 201 });
        assert_eq!(split_book_fee(251, 2_000, 7).unwrap(), FeeSplit { liquidator: 7, insurance: 244 });
    }

    #[test]
    fn sizing_at_the_band_edge_still_reaches_the_buffer() {
        // 100 long bought at $100, $1,090 balance, oracle $93.5: equity $440, maintenance
        // $467.50. Against a bid 2% under the oracle, fee 2.5%, taker 0.1%: cost 4.6%.
        let (balance, quote, price) = (1_090_000_000u64, -10_000_000_000i64, 93_500_000i64);
        let h = health_at(balance, 100, quote, price);
        assert_eq!((h.equity, h.maintenance_requirement), (440_000_000, 467_500_000));
        let cost = book_close_cost_bps(200, 250, 10);
        assert_eq!(cost, 460);
        let oracle_sized = liquidation_lots(&h, 1_000, 100, 9_350_000_000, 500, 250).unwrap();
        let lots = liquidation_lots(&h, 1_000, 100, 9_350_000_000, 500, cost).unwrap();
        assert_eq!((oracle_sized, lots), (27, 89));
        // Filling those lots at the band's exact floor (91.63) and paying both fees meets the
        // buffer (the sizing is conservative: fees are charged on the lower fill quote).
        let after = |x: i64| {
            let fill = 91_630_000i64;
            let quote_in = x as i128 * fill as i128;
            let fee = liquidation_fee(quote_in as u64, 250).unwrap() as i128 + (quote_in * 10 + 9_999) / 10_000;
            let realised = quote_in - x as i128 * 100_000_000;
            let balance = (balance as i128 + realised - fee) as u64;
            health_at(balance, 100 - x, quote / 100 * (100 - x), price)
        };
        assert!(meets_buffer(&after(lots as i64), 1_000).unwrap());
        // Sized at the oracle, the same fill leaves it further from the buffer than before.
        let gap = |h: &Health| h.maintenance_requirement * 11_000 - h.equity * 10_000;
        assert!(!meets_buffer(&after(oracle_sized as i64), 1_000).unwrap());
        assert!(gap(&after(oracle_sized as i64)) > 0 && gap(&h) > 0);
        // A close that costs as much as it frees takes the whole position.
        assert_eq!(liquidation_lots(&h, 1_000, 100, 9_350_000_000, 500, 550).unwrap(), 100);
    }

    #[test]
    fn a_book_close_never_makes_a_deficit() {
        // 100 lots at a $90.5 oracle with $140 of equity and a 10 bps taker fee: the fee bound is
        // 2 × $9.05 = $18.10, so the fills may lose $121.90 over 100 lots: no lower than 89.281,
        // i.e. 90 ticks (the 2% band alone would allow 89, a $18.90 deficit).
        assert_eq!(no_deficit_limit_ticks(90_500_000, 140_000_000, 100, 10, true, &SPEC).unwrap(), 90);
        assert_eq!(band_limit_ticks(90_500_000, 1_000_000, 200, true).unwrap(), 89);
        // A short closing by buying: no higher than 91.719 → 91 ticks.
        assert_eq!(no_deficit_limit_ticks(90_500_000, 140_000_000, 100, 10, false, &SPEC).unwrap(), 91);
        // No equity: the fills must beat the oracle by the fee bound (88 + 0.176 → 89).
        assert_eq!(no_deficit_limit_ticks(88_000_000, -110_000_000, 100, 10, true, &SPEC).unwrap(), 89);
        assert_eq!(no_deficit_limit_ticks(88_000_000, 0, 100, 0, true, &SPEC).unwrap(), 88);
        // Plenty of equity: the band binds instead.
        assert_eq!(no_deficit_limit_ticks(93_500_000, 440_000_000, 89, 10, true, &SPEC).unwrap(), 89);
    }

    #[test]
    fn fees_never_exceed_the_equity_left() {
        assert_eq!(capped_liquidation_fee(250, 1_000), 250);
        assert_eq!(capped_liquidation_fee(250, 100), 100);
        assert_eq!(capped_liquidation_fee(250, 0), 0);
        assert_eq!(capped_liquidation_fee(250, -5), 0);
    }

    #[test]
    fn resting_band_is_five_fill_bands_capped() {
        // $100 oracle, $1 ticks: a 4% fill band rests within 20%.
        assert_eq!(resting_band_ticks(100_000_000, 1_000_000, 400).unwrap(), (80, 120));
        // A 20% fill band would be 100%: capped at 50%.
        assert_eq!(resting_band_ticks(100_000_000, 1_000_000, 2_000).unwrap(), (50, 150));
    }

    #[test]
    fn band_rounds_toward_the_oracle() {
        // $95.5 oracle, $1 ticks, 2% band: a seller accepts down to 93.59 → 94 ticks; a buyer up to 97.41 → 97.
        assert_eq!(band_limit_ticks(95_500_000, 1_000_000, 200, true).unwrap(), 94);
        assert_eq!(band_limit_ticks(95_500_000, 1_000_000, 200, false).unwrap(), 97);
    }
}
