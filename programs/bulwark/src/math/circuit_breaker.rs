//! Withdrawal circuit breaker: caps the net collateral outflow per time window, so a bug or a
//! compromised price cannot drain the vault in one burst (DESIGN.md §9).

use crate::constants::{BPS_DENOMINATOR, MAX_BREAKER_WINDOW_SECONDS, MIN_BREAKER_OUTFLOW_BPS};
use crate::math::safe::{to_u64, MathResult, SafeMath};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerParams {
    pub window_seconds: i64,
    /// Net outflow allowed per window, as a share of the balance at the window's start.
    pub max_net_outflow_bps: u32,
    /// Absolute allowance per window, so a young clearinghouse is not frozen by its small TVL.
    pub min_outflow_allowance: u64,
}

impl BreakerParams {
    pub fn is_valid(&self) -> bool {
        self.window_seconds > 0
            && self.window_seconds <= MAX_BREAKER_WINDOW_SECONDS
            && self.max_net_outflow_bps >= MIN_BREAKER_OUTFLOW_BPS
            && (self.max_net_outflow_bps as i64) <= BPS_DENOMINATOR
    }

    /// True when `self` allows no more outflow than `other` (a risk-lowering change).
    pub fn is_at_least_as_strict_as(&self, other: &BreakerParams) -> bool {
        self.max_net_outflow_bps <= other.max_net_outflow_bps
            && self.min_outflow_allowance <= other.min_outflow_allowance
            && self.window_seconds >= other.window_seconds
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct BreakerWindow {
    pub window_start: i64,
    pub start_balance: u64,
    pub outflow: u64,
    pub inflow: u64,
}

/// The window in force at `now`: the current one, or a fresh one opened on `total_balance`.
pub fn current_window(
    window: &BreakerWindow,
    params: &BreakerParams,
    now_unix: i64,
    total_balance: u64,
) -> BreakerWindow {
    let expired = now_unix.saturating_sub(window.window_start) >= params.window_seconds;
    if expired || window.window_start == 0 {
        BreakerWindow { window_start: now_unix, start_balance: total_balance, outflow: 0, inflow: 0 }
    } else {
        *window
    }
}

/// Net outflow the window allows in total.
pub fn window_allowance(window: &BreakerWindow, params: &BreakerParams) -> MathResult<u64> {
    let share = (window.start_balance as u128)
        .safe_mul(params.max_net_outflow_bps as u128)?
        .safe_div(BPS_DENOMINATOR as u128)?;
    Ok(to_u64(share)?.max(params.min_outflow_allowance))
}

/// Record a withdrawal of `amount`, or return `Ok(None)` when it would trip the breaker.
pub fn try_withdraw(window: &BreakerWindow, params: &BreakerParams, amount: u64) -> MathResult<Option<BreakerWindow>> {
    let outflow = window.outflow.safe_add(amount)?;
    let net_outflow = outflow.saturating_sub(window.inflow);
    if net_outflow > window_allowance(window, params)? {
        return Ok(None);
    }
    Ok(Some(BreakerWindow { outflow, ..*window }))
}

pub fn record_deposit(window: &BreakerWindow, amount: u64) -> MathResult<BreakerWindow> {
    Ok(BreakerWindow { inflow: window.inflow.safe_add(amount)?, ..*window })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: BreakerParams =
        BreakerParams { window_seconds: 3_600, max_net_outflow_bps: 2_000, min_outflow_allowance: 100 };

    #[test]
    fn trips_at_the_allowance_and_resets_with_the_window() {
        let w = current_window(&BreakerWindow::default(), &PARAMS, 1_000, 10_000);
        assert_eq!(w, BreakerWindow { window_start: 1_000, start_balance: 10_000, outflow: 0, inflow: 0 });
        assert_eq!(window_allowance(&w, &PARAMS).unwrap(), 2_000);
        let w = try_withdraw(&w, &PARAMS, 1_500).unwrap().unwrap();
        assert_eq!(try_withdraw(&w, &PARAMS, 501).unwrap(), None);
        let w = try_withdraw(&w, &PARAMS, 500).unwrap().unwrap();
        assert_eq!(w.outflow, 2_000);
        // Deposits in the window offset withdrawals.
        let w = record_deposit(&w, 300).unwrap();
        let w = try_withdraw(&w, &PARAMS, 300).unwrap().unwrap();
        assert_eq!(try_withdraw(&w, &PARAMS, 1).unwrap(), None);
        // Same window one second before expiry; a new one at expiry.
        assert_eq!(current_window(&w, &PARAMS, 4_599, 7_000), w);
        let fresh = current_window(&w, &PARAMS, 4_600, 7_000);
        assert_eq!(fresh, BreakerWindow { window_start: 4_600, start_balance: 7_000, outflow: 0, inflow: 0 });
        assert_eq!(window_allowance(&fresh, &PARAMS).unwrap(), 1_400);
    }

    #[test]
    fn minimum_allowance_applies_to_small_balances() {
        let w = current_window(&BreakerWindow::default(), &PARAMS, 5, 10);
        assert_eq!(window_allowance(&w, &PARAMS).unwrap(), 100);
        assert!(try_withdraw(&w, &PARAMS, 100).unwrap().is_some());
        assert!(try_withdraw(&w, &PARAMS, 101).unwrap().is_none());
        assert!(try_withdraw(&BreakerWindow { outflow: u64::MAX, ..w }, &PARAMS, 1).is_err());
    }

    #[test]
    fn strictness_ordering() {
        let looser = BreakerParams { max_net_outflow_bps: 2_500, ..PARAMS };
        assert!(PARAMS.is_at_least_as_strict_as(&looser));
        assert!(!looser.is_at_least_as_strict_as(&PARAMS));
        let shorter = BreakerParams { window_seconds: 60, ..PARAMS };
        assert!(!shorter.is_at_least_as_strict_as(&PARAMS));
        assert!(!BreakerParams { window_seconds: 0, ..PARAMS }.is_valid());
        assert!(!BreakerParams { max_net_outflow_bps: 10_001, ..PARAMS }.is_valid());
        // A "tightening" that would freeze exits is not a valid breaker.
        assert!(!BreakerParams { max_net_outflow_bps: 499, ..PARAMS }.is_valid());
        assert!(!BreakerParams { window_seconds: i64::MAX, ..PARAMS }.is_valid());
        assert!(PARAMS.is_valid());
    }
}
