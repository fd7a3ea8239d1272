//! Account health: equity against initial and maintenance requirements (DESIGN.md §5).
//!
//! Positions arrive here already valued (notional and PnL in collateral native units, at the
//! validated oracle price converted to collateral); this module only aggregates and compares,
//! rounding every requirement up and every credit down.

use crate::constants::BPS_DENOMINATOR;
use crate::math::safe::{MathResult, SafeMath};

/// One position valued at the oracle price, in collateral native units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PositionValuation {
    /// |base| × price, in collateral native units.
    pub notional: i128,
    pub unrealized_pnl: i128,
    /// Funding owed to (positive) or by (negative) the account but not yet settled.
    pub unsettled_funding: i128,
    /// Worst-case extra notional from resting orders, counted in the initial requirement only.
    pub open_order_notional: i128,
    /// Ratios already including any size premium.
    pub initial_ratio_bps: u32,
    pub maintenance_ratio_bps: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Health {
    pub equity: i128,
    pub initial_requirement: i128,
    pub maintenance_requirement: i128,
}

impl Health {
    pub fn meets_initial(&self) -> bool {
        self.equity >= self.initial_requirement
    }

    pub fn meets_maintenance(&self) -> bool {
        self.equity >= self.maintenance_requirement
    }

    /// Collateral that can leave the account while it stays at or above the initial requirement.
    pub fn free_collateral(&self) -> i128 {
        self.equity.saturating_sub(self.initial_requirement).max(0)
    }
}

fn checked_abs(v: i128) -> MathResult<i128> {
    v.checked_abs().ok_or_else(crate::math::safe::MathError::overflow)
}

fn requirement(notional: i128, ratio_bps: u32) -> MathResult<i128> {
    checked_abs(notional)?.safe_mul(ratio_bps as i128)?.safe_div_ceil(BPS_DENOMINATOR as i128)
}

/// Equity and requirements of an account holding `collateral_balance` and `positions`.
pub fn account_health(collateral_balance: u64, positions: &[PositionValuation]) -> MathResult<Health> {
    let mut health = Health { equity: collateral_balance as i128, ..Health::default() };
    for position in positions {
        health.equity = health.equity.safe_add(position.unrealized_pnl)?.safe_add(position.unsettled_funding)?;
        let initial_notional = checked_abs(position.notional)?.safe_add(checked_abs(position.open_order_notional)?)?;
        health.initial_requirement =
            health.initial_requirement.safe_add(requirement(initial_notional, position.initial_ratio_bps)?)?;
        health.maintenance_requirement =
            health.maintenance_requirement.safe_add(requirement(position.notional, position.maintenance_ratio_bps)?)?;
    }
    Ok(health)
}

/// Whether a fill an account took part in left it acceptably healthy: at or above its initial
/// requirement, or — for a fill that reduces risk — with equity not negative and the
/// equity/maintenance ratio not lowered (`E₁·M₀ ≥ E₀·M₁`). A fill that opens risk from a flat
/// account (`M₀ = 0`) therefore needs the initial requirement; one that ends flat needs only
/// `E₁ ≥ 0`. This is what stops a fill at the band's edge from pushing value out of an account
/// toward bankruptcy, and a deficit onto insurance, whoever chose the price.
pub fn fill_keeps_health(before: &Health, after: &Health) -> MathResult<bool> {
    if after.meets_initial() {
        return Ok(true);
    }
    if after.equity < 0 {
        return Ok(false);
    }
    let lhs = after.equity.safe_mul(before.maintenance_requirement)?;
    let rhs = before.equity.safe_mul(after.maintenance_requirement)?;
    Ok(lhs >= rhs && !(before.maintenance_requirement == 0 && after.maintenance_requirement > 0))
}

/// Health after `amount` leaves the account's collateral balance.
pub fn health_after_withdrawal(health: &Health, amount: u64) -> MathResult<Health> {
    Ok(Health { equity: health.equity.safe_sub(amount as i128)?, ..*health })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position(notional: i128, pnl: i128) -> PositionValuation {
        PositionValuation {
            notional,
            unrealized_pnl: pnl,
            unsettled_funding: 0,
            open_order_notional: 0,
            initial_ratio_bps: 1_000,
            maintenance_ratio_bps: 500,
        }
    }

    #[test]
    fn empty_account_is_its_balance() {
        let h = account_health(1_000, &[]).unwrap();
        assert_eq!(h, Health { equity: 1_000, initial_requirement: 0, maintenance_requirement: 0 });
        assert_eq!(h.free_collateral(), 1_000);
        assert!(health_after_withdrawal(&h, 1_000).unwrap().meets_initial());
        assert!(!health_after_withdrawal(&h, 1_001).unwrap().meets_initial());
    }

    #[test]
    fn requirements_round_up_and_sum() {
        // 10% of 10_001 = 1_000.1 -> 1_001; 5% -> 500.05 -> 501. A short counts by |notional|.
        let mut short = position(-10_001, -50);
        short.unsettled_funding = -3;
        short.open_order_notional = 999;
        let h = account_health(2_100, &[position(10_001, 120), short]).unwrap();
        assert_eq!(h.equity, 2_100 + 120 - 50 - 3);
        assert_eq!(h.initial_requirement, 1_001 + 1_100);
        assert_eq!(h.maintenance_requirement, 501 + 501);
        assert!(h.meets_initial());
        assert_eq!(h.free_collateral(), 66);
        assert!(health_after_withdrawal(&h, 66).unwrap().meets_initial());
        assert!(!health_after_withdrawal(&h, 67).unwrap().meets_initial());
        assert!(!Health { equity: -1, ..h }.meets_maintenance());
        assert_eq!(Health { equity: -1, ..h }.free_collateral(), 0);
    }

    #[test]
    fn a_fill_keeps_health_by_initial_margin_or_a_ratio_not_lowered() {
        let h = |equity: i128, initial: i128, maintenance: i128| Health {
            equity,
            initial_requirement: initial,
            maintenance_requirement: maintenance,
        };
        // Above initial after: always fine.
        assert!(fill_keeps_health(&h(600, 1_000, 500), &h(1_000, 1_000, 500)).unwrap());
        // Below initial: the ratio 600/500 = 1.2 may not drop. Selling half at the band floor
        // (equity 600 -> 350, maintenance 500 -> 250: 1.4) keeps it; a worse price does not.
        assert!(fill_keeps_health(&h(600, 1_000, 500), &h(350, 500, 250)).unwrap());
        assert!(fill_keeps_health(&h(600, 1_000, 500), &h(300, 500, 250)).unwrap()); // 1.2 exactly
        assert!(!fill_keeps_health(&h(600, 1_000, 500), &h(299, 500, 250)).unwrap());
        // Closing everything needs only equity >= 0.
        assert!(fill_keeps_health(&h(600, 1_000, 500), &h(0, 0, 0)).unwrap());
        assert!(!fill_keeps_health(&h(600, 1_000, 500), &h(-1, 0, 0)).unwrap());
        // Already bankrupt: a fill must bring equity back to zero or above.
        assert!(!fill_keeps_health(&h(-10, 1_000, 500), &h(-5, 500, 250)).unwrap());
        assert!(fill_keeps_health(&h(-10, 1_000, 500), &h(0, 500, 250)).unwrap());
        // Opening from flat without initial margin is refused, whatever the ratio.
        assert!(!fill_keeps_health(&h(100, 0, 0), &h(99, 200, 100)).unwrap());
        assert!(fill_keeps_health(&h(100, 0, 0), &h(99, 99, 50)).unwrap());
    }

    #[test]
    fn overflow_is_an_error() {
        assert!(account_health(0, &[position(i128::MAX, 0)]).is_err());
        assert!(account_health(0, &[position(i128::MIN, 0)]).is_err());
        assert!(account_health(u64::MAX, &[position(0, i128::MAX)]).is_err());
    }
}
