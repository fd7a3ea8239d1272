//! Collateral balance changes: the only place margin balances and the clearinghouse's totals
//! and circuit-breaker window move.

use anchor_lang::prelude::*;

use crate::error::BulwarkError;
use crate::math::circuit_breaker::{current_window, record_deposit, try_withdraw};
use crate::math::margin::{health_after_withdrawal, Health};
use crate::math::safe::SafeMath;
use crate::state::{Clearinghouse, MarginAccount};

/// Credit a deposit; returns the account's new balance.
pub fn credit_deposit(
    clearinghouse: &mut Clearinghouse,
    account: &mut MarginAccount,
    amount: u64,
    clock: &Clock,
) -> Result<u64> {
    require!(amount > 0, BulwarkError::ZeroAmount);
    account.collateral_balance = account.collateral_balance.safe_add(amount).map_err(crate::math_err)?;
    clearinghouse.total_collateral_balance =
        clearinghouse.total_collateral_balance.safe_add(amount).map_err(crate::math_err)?;

    let breaker = &mut clearinghouse.withdrawal_breaker;
    // Open the window on the balance before this deposit, then count the deposit as inflow.
    let window = current_window(
        &breaker.window(),
        &breaker.params(),
        clock.unix_timestamp,
        clearinghouse.total_collateral_balance - amount,
    );
    breaker.set_window(&record_deposit(&window, amount).map_err(crate::math_err)?);
    account.last_active_slot = clock.slot;
    // The ADL grace clock is left alone: a deposit that restores the account clears it the
    // next time the account is seen healthy (`update_liquidation_status`, anyone may call it);
    // one that does not must not buy another grace period.
    Ok(account.collateral_balance)
}

/// Debit a withdrawal after the balance, margin (`health` before it) and circuit-breaker checks;
/// returns the new balance and the window's net outflow.
pub fn debit_withdrawal(
    clearinghouse: &mut Clearinghouse,
    account: &mut MarginAccount,
    amount: u64,
    health: &Health,
    clock: &Clock,
) -> Result<(u64, u64)> {
    require!(amount > 0, BulwarkError::ZeroAmount);
    require!(amount <= account.collateral_balance, BulwarkError::InsufficientCollateral);

    let after = health_after_withdrawal(health, amount).map_err(crate::math_err)?;
    require!(after.meets_initial(), BulwarkError::InitialMarginBreached);

    let breaker = &mut clearinghouse.withdrawal_breaker;
    let window = current_window(
        &breaker.window(),
        &breaker.params(),
        clock.unix_timestamp,
        clearinghouse.total_collateral_balance,
    );
    let window = try_withdraw(&window, &breaker.params(), amount)
        .map_err(crate::math_err)?
        .ok_or(BulwarkError::WithdrawalCircuitBreakerTripped)?;
    breaker.set_window(&window);

    account.collateral_balance -= amount;
    clearinghouse.total_collateral_balance =
        clearinghouse.total_collateral_balance.safe_sub(amount).map_err(crate::math_err)?;
    account.last_active_slot = clock.slot;
    Ok((account.collateral_balance, window.outflow.saturating_sub(window.inflow)))
}
