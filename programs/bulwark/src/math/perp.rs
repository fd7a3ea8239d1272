//! Perp position math: fill quotes, valuation at a price, size-scaled margin ratios, fees,
//! realisation of PnL, funding, and liquidation / bankruptcy prices.
//!
//! Units: lots (signed i64 for positions), collateral atoms for every amount, prices in
//! `PRICE_PRECISION` collateral per whole base unit. A market fixes `quote_per_lot_tick`, the
//! collateral atoms one lot is worth per tick of price, so fill quotes are exact integers.

use crate::constants::BPS_DENOMINATOR;
use crate::math::margin::PositionValuation;
use crate::math::safe::{to_i64, to_u64, MathError, MathResult, SafeMath};

/// What the margin math needs to know about a market.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PerpSpec {
    pub tick_size: u64,
    pub quote_per_lot_tick: u64,
    pub initial_margin_bps: u32,
    pub maintenance_margin_bps: u32,
    pub size_premium_bps: u32,
    pub size_premium_unit_lots: u64,
}

/// Collateral atoms per lot per tick for a contract: `lot × tick × 10^cd / (10^bd × 1e6)`;
/// `None` unless exact (tick and lot sizes must be chosen so fills never round).
pub fn quote_per_lot_tick(
    base_lot_size: u64,
    tick_size: u64,
    base_decimals: u8,
    collateral_decimals: u8,
) -> Option<u64> {
    let numerator = (base_lot_size as u128)
        .checked_mul(tick_size as u128)?
        .checked_mul(10u128.checked_pow(collateral_decimals as u32)?)?;
    let denominator =
        10u128.checked_pow(base_decimals as u32)?.checked_mul(crate::constants::PRICE_PRECISION as u128)?;
    if numerator == 0 || numerator % denominator != 0 {
        return None;
    }
    u64::try_from(numerator / denominator).ok()
}

/// Exact quote of a fill of `lots` at `price_ticks`.
pub fn fill_quote(lots: u64, price_ticks: u64, quote_per_lot_tick: u64) -> MathResult<u64> {
    to_u64((lots as u128).safe_mul(price_ticks as u128)?.safe_mul(quote_per_lot_tick as u128)?)
}

/// Signed value of `base_lots` at `price`, rounded down (a long's value down, a short's
/// liability up: both favour the clearinghouse).
pub fn base_value(base_lots: i64, price: i64, spec: &PerpSpec) -> MathResult<i128> {
    (base_lots as i128)
        .safe_mul(price as i128)?
        .safe_mul(spec.quote_per_lot_tick as i128)?
        .safe_div_floor(spec.tick_size as i128)
}

/// A margin ratio grown by the size premium: `+size_premium_bps` per `size_premium_unit_lots`
/// of position, capped at 100%.
pub fn scaled_margin_ratio_bps(base_ratio_bps: u32, abs_lots: u64, spec: &PerpSpec) -> MathResult<u32> {
    let premium = if spec.size_premium_unit_lots == 0 {
        0
    } else {
        (abs_lots as u128).safe_mul(spec.size_premium_bps as u128)?.safe_div(spec.size_premium_unit_lots as u128)?
    };
    let ratio = (base_ratio_bps as u128).safe_add(premium)?.min(BPS_DENOMINATOR as u128);
    Ok(ratio as u32)
}

/// Funding owed to (+) or by (−) a position since its last settlement.
pub fn funding_owed(base_lots: i64, cumulative_now: i128, cumulative_last: i128) -> MathResult<i128> {
    (base_lots as i128)
        .safe_mul(cumulative_now.safe_sub(cumulative_last)?)?
        .checked_neg()
        .ok_or_else(MathError::overflow)
}

/// Value a position at `price` for the margin math.
#[allow(clippy::too_many_arguments)]
pub fn value_position(
    base_lots: i64,
    quote_entry: i64,
    open_bid_lots: i64,
    open_ask_lots: i64,
    unsettled_funding: i128,
    price: i64,
    spec: &PerpSpec,
) -> MathResult<PositionValuation> {
    let value = base_value(base_lots, price, spec)?;
    // Worst case if every resting order filled: the larger of all bids or all asks.
    let long_worst = (base_lots as i128).safe_add(open_bid_lots as i128)?.abs();
    let short_worst = (base_lots as i128).safe_sub(open_ask_lots as i128)?.abs();
    let worst_lots = long_worst.max(short_worst);
    let extra_lots = worst_lots.safe_sub((base_lots as i128).abs())?.max(0);
    let extra_notional = base_value(to_i64(extra_lots)?, price, spec)?.abs();
    let initial = scaled_margin_ratio_bps(spec.initial_margin_bps, worst_lots as u64, spec)?;
    let maintenance = scaled_margin_ratio_bps(spec.maintenance_margin_bps, base_lots.unsigned_abs(), spec)?;
    Ok(PositionValuation {
        notional: value.abs(),
        unrealized_pnl: value.safe_add(quote_entry as i128)?,
        unsettled_funding,
        open_order_notional: extra_notional,
        initial_ratio_bps: initial,
        maintenance_ratio_bps: maintenance,
    })
}

/// Taker fee on `quote`, rounded up.
pub fn taker_fee(quote: u64, fee_bps: u32) -> MathResult<i128> {
    (quote as i128).safe_mul(fee_bps as i128)?.safe_div_ceil(BPS_DENOMINATOR as i128)
}

/// Maker fee on `quote`: a fee (positive) rounds up, a rebate (negative) rounds toward zero.
pub fn maker_fee(quote: u64, fee_bps: i32) -> MathResult<i128> {
    (quote as i128).safe_mul(fee_bps as i128)?.safe_div_ceil(BPS_DENOMINATOR as i128)
}

/// Insurance's share of a net fee, rounded down (the rest stays in the fee pool).
pub fn insurance_share(net_fee: i128, share_bps: u32) -> MathResult<i128> {
    if net_fee <= 0 {
        return Ok(0);
    }
    net_fee.safe_mul(share_bps as i128)?.safe_div_floor(BPS_DENOMINATOR as i128)
}

/// How a fill changes one side's position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FillEffect {
    pub base_lots_after: i64,
    pub quote_entry_after: i64,
    /// PnL realised by the closing part of the fill (before fees).
    pub realized_pnl: i128,
}

/// Apply a fill of `signed_lots` (buy > 0) for `cash` (−quote on a buy, +quote on a sell).
/// The closing part realises its share of the entry quote (rounded down); a flip opens the rest
/// at the fill price. The sum of `quote_entry_after + realized_pnl` always moves by exactly
/// `cash`, so no atom is created or lost.
pub fn apply_fill(base_lots: i64, quote_entry: i64, signed_lots: i64, cash: i64) -> MathResult<FillEffect> {
    let base_after = base_lots.safe_add(signed_lots)?;
    if base_lots == 0 || (base_lots > 0) == (signed_lots > 0) {
        return Ok(FillEffect {
            base_lots_after: base_after,
            quote_entry_after: quote_entry.safe_add(cash)?,
            realized_pnl: 0,
        });
    }
    let fill_lots = signed_lots.unsigned_abs() as i128;
    let closing_lots = fill_lots.min(base_lots.unsigned_abs() as i128);
    let basis_closed = (quote_entry as i128).safe_mul(closing_lots)?.safe_div_floor(base_lots.unsigned_abs() as i128)?;
    let cash_closing = (cash as i128).safe_mul(closing_lots)?.safe_div_floor(fill_lots)?;
    let cash_opening = (cash as i128).safe_sub(cash_closing)?;
    let quote_after = (quote_entry as i128).safe_sub(basis_closed)?.safe_add(cash_opening)?;
    Ok(FillEffect {
        base_lots_after: base_after,
        quote_entry_after: to_i64(quote_after)?,
        realized_pnl: basis_closed.safe_add(cash_closing)?,
    })
}

/// One funding period's payment per lot, in collateral atoms: the premium of the mark TWAP over
/// the oracle TWAP, clamped to `max_rate_bps` of the oracle TWAP, on one lot's value. Positive:
/// longs pay shorts. Rounded toward zero; longs and shorts use the same index, so funding is
/// exactly zero-sum.
pub fn funding_per_lot(mark_twap: i64, oracle_twap: i64, max_rate_bps: u32, spec: &PerpSpec) -> MathResult<i128> {
    if oracle_twap <= 0 || mark_twap <= 0 {
        return Ok(0);
    }
    let bound = (oracle_twap as i128).safe_mul(max_rate_bps as i128)?.safe_div(BPS_DENOMINATOR as i128)?;
    let premium = ((mark_twap as i128).safe_sub(oracle_twap as i128)?).clamp(-bound, bound);
    premium.safe_mul(spec.quote_per_lot_tick as i128)?.safe_div(spec.tick_size as i128)
}

/// Price at which equity equals the maintenance requirement for a single position, holding
/// everything else fixed. `other_equity` is the account's equity without this position's PnL
/// (balance, other positions, funding) and `other_maintenance` the other requirements.
/// `None` when no positive price does it (e.g. the account can never be liquidated).
pub fn liquidation_price(
    base_lots: i64,
    quote_entry: i64,
    other_equity: i128,
    other_maintenance: i128,
    spec: &PerpSpec,
) -> MathResult<Option<i64>> {
    if base_lots == 0 {
        return Ok(None);
    }
    let ratio = scaled_margin_ratio_bps(spec.maintenance_margin_bps, base_lots.unsigned_abs(), spec)? as i128;
    // equity(p) = E + Q + q·k·p, requirement(p) = M + |q|·k·p·ratio, k = qplt/tick per price unit.
    // Solve E + Q − M = k·p·(|q|·ratio − q·BPS)/BPS.
    let q = base_lots as i128;
    let coefficient = q.abs().safe_mul(ratio)?.safe_sub(q.safe_mul(BPS_DENOMINATOR as i128)?)?;
    solve_price(other_equity.safe_add(quote_entry as i128)?.safe_sub(other_maintenance)?, coefficient, spec)
}

/// Price at which the account's equity is zero (the position alone absorbs it).
pub fn bankruptcy_price(
    base_lots: i64,
    quote_entry: i64,
    other_equity: i128,
    spec: &PerpSpec,
) -> MathResult<Option<i64>> {
    if base_lots == 0 {
        return Ok(None);
    }
    let coefficient =
        (base_lots as i128).safe_mul(BPS_DENOMINATOR as i128)?.checked_neg().ok_or_else(MathError::overflow)?;
    solve_price(other_equity.safe_add(quote_entry as i128)?, coefficient, spec)
}

/// Solve `constant = k · p · coefficient / BPS` for `p`, with `k = qplt / tick_size`.
fn solve_price(constant: i128, coefficient: i128, spec: &PerpSpec) -> MathResult<Option<i64>> {
    if coefficient == 0 {
        return Ok(None);
    }
    let numerator = constant.safe_mul(spec.tick_size as i128)?.safe_mul(BPS_DENOMINATOR as i128)?;
    let denominator = coefficient.safe_mul(spec.quote_per_lot_tick as i128)?;
    let price = numerator.safe_div(denominator)?;
    if price <= 0 {
        return Ok(None);
    }
    Ok(Some(to_i64(price)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::margin::account_health;

    /// BTC-like: 8 base decimals, lot 0.0001 BTC, tick $0.1, 6-decimal collateral: 10 atoms/lot/tick.
    const SPEC: PerpSpec = PerpSpec {
        tick_size: 100_000,
        quote_per_lot_tick: 10,
        initial_margin_bps: 1_000,
        maintenance_margin_bps: 500,
        size_premium_bps: 0,
        size_premium_unit_lots: 0,
    };

    #[test]
    fn contract_sizes() {
        assert_eq!(quote_per_lot_tick(10_000, 100_000, 8, 6), Some(10));
        assert_eq!(quote_per_lot_tick(1, 100_000, 8, 6), None, "fractional atoms are refused");
        assert_eq!(quote_per_lot_tick(0, 100_000, 8, 6), None);
        // 1 lot at 100,000.0 = 1,000,000 ticks -> 10,000,000 atoms = $10 for 0.0001 BTC.
        assert_eq!(fill_quote(1, 1_000_000, 10).unwrap(), 10_000_000);
        assert_eq!(base_value(3, 100_000_000_000, &SPEC).unwrap(), 30_000_000);
        assert_eq!(base_value(-3, 100_000_000_000, &SPEC).unwrap(), -30_000_000);
        // Rounded down either way: a short's liability rounds up.
        assert_eq!(base_value(1, 150_001, &SPEC).unwrap(), 15);
        assert_eq!(base_value(-1, 150_001, &SPEC).unwrap(), -16);
    }

    #[test]
    fn size_premium() {
        let spec = PerpSpec { size_premium_bps: 10, size_premium_unit_lots: 100, ..SPEC };
        assert_eq!(scaled_margin_ratio_bps(1_000, 0, &spec).unwrap(), 1_000);
        assert_eq!(scaled_margin_ratio_bps(1_000, 250, &spec).unwrap(), 1_025);
        assert_eq!(scaled_margin_ratio_bps(1_000, u64::MAX, &spec).unwrap(), 10_000);
    }

    #[test]
    fn fills_open_reduce_close_and_flip_conserve_cash() {
        // Buy 10 lots for 1,000 atoms.
        let open = apply_fill(0, 0, 10, -1_000).unwrap();
        assert_eq!(open, FillEffect { base_lots_after: 10, quote_entry_after: -1_000, realized_pnl: 0 });
        // Sell 3 for 360: realises 360 - 300 = 60.
        let reduce = apply_fill(10, -1_000, -3, 360).unwrap();
        assert_eq!(reduce, FillEffect { base_lots_after: 7, quote_entry_after: -700, realized_pnl: 60 });
        // Sell 10 for 1,000 with 7 long: closes 7 (cash 700, basis -700: 0 realised), opens 3 short.
        let flip = apply_fill(7, -700, -10, 1_000).unwrap();
        assert_eq!(flip, FillEffect { base_lots_after: -3, quote_entry_after: 300, realized_pnl: 0 });
        // Odd splits round down on the realised side and keep the total exact.
        let odd = apply_fill(3, -100, -1, 40).unwrap();
        assert_eq!(odd.realized_pnl, 40 + (-34)); // basis floor(-100/3) = -34
        assert_eq!(odd.quote_entry_after as i128 + odd.realized_pnl, -100 + 40);
        let flip_odd = apply_fill(-2, 7, 3, -10).unwrap();
        assert_eq!(flip_odd.quote_entry_after as i128 + flip_odd.realized_pnl, 7 - 10);
        assert_eq!(flip_odd.base_lots_after, 1);
    }

    #[test]
    fn fees_round_against_the_user() {
        assert_eq!(taker_fee(10_001, 5).unwrap(), 6); // 5.0005
        assert_eq!(maker_fee(10_001, 2).unwrap(), 3);
        assert_eq!(maker_fee(10_001, -2).unwrap(), -2); // rebate 2.0002 -> 2
        assert_eq!(insurance_share(9, 5_000).unwrap(), 4);
        assert_eq!(insurance_share(-3, 5_000).unwrap(), 0);
    }

    #[test]
    fn funding_is_clamped_and_signed() {
        // Mark 1% over oracle at 100,000.0: one lot's value is 10,000,000 atoms -> 100,000.
        assert_eq!(funding_per_lot(101_000_000_000, 100_000_000_000, 10_000, &SPEC).unwrap(), 100_000);
        assert_eq!(funding_per_lot(101_000_000_000, 100_000_000_000, 50, &SPEC).unwrap(), 50_000);
        assert_eq!(funding_per_lot(99_000_000_000, 100_000_000_000, 50, &SPEC).unwrap(), -50_000);
        assert_eq!(funding_owed(4, 150, 100).unwrap(), -200, "a long pays a rising index");
        assert_eq!(funding_owed(-4, 150, 100).unwrap(), 200);
    }

    #[test]
    fn liquidation_and_bankruptcy_prices_solve_the_margin_equations() {
        // 10 lots long bought at 100,000.0 (100,000,000 atoms), 20,000,000 balance (5x).
        let (lots, quote, balance) = (10i64, -100_000_000i64, 20_000_000i128);
        let liq = liquidation_price(lots, quote, balance, 0, &SPEC).unwrap().unwrap();
        let bankrupt = bankruptcy_price(lots, quote, balance, &SPEC).unwrap().unwrap();
        assert_eq!(bankrupt, 80_000_000_000); // 80,000.0: equity 0
        assert_eq!(liq, 84_210_526_315); // 80,000 / 0.95
        let at = |price: i64| {
            let v = value_position(lots, quote, 0, 0, 0, price, &SPEC).unwrap();
            account_health(balance as u64, &[v]).unwrap()
        };
        assert!(at(liq + 10_000).meets_maintenance());
        assert!(!at(liq - 10_000).meets_maintenance());
        assert_eq!(at(bankrupt).equity, 0);
        // A short: liquidation above entry.
        let short_liq = liquidation_price(-10, 100_000_000, balance, 0, &SPEC).unwrap().unwrap();
        assert_eq!(short_liq, 114_285_714_285); // 120,000 / 1.05
        assert_eq!(bankruptcy_price(-10, 100_000_000, balance, &SPEC).unwrap(), Some(120_000_000_000));
        // Unlevered long cannot be liquidated.
        assert_eq!(liquidation_price(10, -100_000_000, 100_000_000, 0, &SPEC).unwrap(), None);
    }

    #[test]
    fn open_orders_count_in_the_initial_requirement() {
        // Flat with 5 lots bid: initial on 5 lots, maintenance on none.
        let v = value_position(0, 0, 5, 0, 0, 100_000_000_000, &SPEC).unwrap();
        assert_eq!((v.notional, v.open_order_notional), (0, 50_000_000));
        // Long 5 with 3 asked: asks reduce, so no extra.
        let v = value_position(5, -50_000_000, 0, 3, 0, 100_000_000_000, &SPEC).unwrap();
        assert_eq!(v.open_order_notional, 0);
        // Long 5 with 8 asked: could flip to 3 short, still under 5.
        let v = value_position(5, -50_000_000, 0, 8, 0, 100_000_000_000, &SPEC).unwrap();
        assert_eq!(v.open_order_notional, 0);
        // Long 5 with 12 asked: could end 7 short, 2 more than now.
        let v = value_position(5, -50_000_000, 0, 12, 0, 100_000_000_000, &SPEC).unwrap();
        assert_eq!(v.open_order_notional, 20_000_000);
    }
}
