//! The parts of the waterfall every closing path shares: liquidation flags, bankruptcy cover
//! from the insurance vault, and the rule that no account is left flat with a debt.

use anchor_lang::prelude::*;

use crate::error::BulwarkError;
use crate::events::{emit_event, BadDebtRecordedV1, InsurancePayoutV1, LiquidationStatusV1};
use crate::math::adl::shortfall;
use crate::math::liquidation::is_liquidatable;
use crate::math::margin::Health;
use crate::math::perp::insurance_share;
use crate::math::safe::{to_i64, to_u64, SafeMath};
use crate::state::{
    Clearinghouse, MarginAccount, Market, WaterfallParams, ACCOUNT_FLAG_BANKRUPT, ACCOUNT_FLAG_BEING_LIQUIDATED,
};

/// No base in any market (a slot may still carry a debt or resting orders).
pub fn is_flat(account: &MarginAccount) -> bool {
    account.positions.iter().all(|p| p.base_lots == 0)
}

/// The debt a flat account carries (0 while it holds any base): what insurance would pay.
pub fn flat_debt(account: &MarginAccount) -> u128 {
    if !is_flat(account) {
        return 0;
    }
    let debt: u128 = account.positions.iter().map(|p| p.quote_entry.min(0).unsigned_abs() as u128).sum();
    debt.saturating_sub(account.collateral_balance as u128)
}

/// Re-derive the liquidation flags from `health`: being-liquidated while liquidatable (it
/// stays on until the account is back above the buffer), bankrupt while equity is negative,
/// and the slot the account was first seen liquidatable (the ADL grace clock). The clock
/// restarts when the previous sighting is more than the grace period old (nobody can say the
/// account stayed liquidatable in between) and clears when the account is seen healthy.
/// Returns whether anything changed.
pub fn update_liquidation_status(
    key: Pubkey,
    account: &mut MarginAccount,
    health: &Health,
    waterfall: &WaterfallParams,
    slot: u64,
) -> Result<bool> {
    let flagged = account.status_flags & ACCOUNT_FLAG_BEING_LIQUIDATED != 0;
    let liquidatable = is_liquidatable(health, flagged, waterfall.liquidation_buffer_bps).map_err(crate::math_err)?;
    let mut flags = account.status_flags & !(ACCOUNT_FLAG_BEING_LIQUIDATED | ACCOUNT_FLAG_BANKRUPT);
    if liquidatable {
        flags |= ACCOUNT_FLAG_BEING_LIQUIDATED;
    }
    if health.equity < 0 {
        flags |= ACCOUNT_FLAG_BANKRUPT;
    }
    let unseen_too_long = slot.saturating_sub(account.liquidatable_seen_slot) > waterfall.adl_grace_slots;
    let since = match (liquidatable, account.liquidatable_since_slot) {
        (false, _) => 0,
        (true, 0) => slot,
        (true, _) if unseen_too_long => slot,
        (true, since) => since,
    };
    let seen = if liquidatable { slot } else { 0 };
    let changed = flags != account.status_flags
        || since != account.liquidatable_since_slot
        || seen != account.liquidatable_seen_slot;
    account.status_flags = flags;
    account.liquidatable_since_slot = since;
    account.liquidatable_seen_slot = seen;
    if changed {
        emit_event(LiquidationStatusV1 {
            margin_account: key,
            status_flags: flags,
            liquidatable_since_slot: since,
            equity: to_i64(health.equity).map_err(crate::math_err)?,
            maintenance_requirement: to_i64(health.maintenance_requirement).map_err(crate::math_err)?,
        });
    }
    Ok(changed)
}

/// Refuse a liquidation that would leave a deficit the insurance vault cannot pay: that account
/// belongs to ADL.
pub fn require_coverable(clearinghouse: &Clearinghouse, health: &Health) -> Result<()> {
    if health.equity < 0 {
        require!(
            health.equity.unsigned_abs() <= clearinghouse.insurance_available() as u128,
            BulwarkError::InsufficientInsurance
        );
    }
    Ok(())
}

/// If `account` is flat, settle its debts: first from its own balance, then from the insurance
/// vault, so it ends at zero. Errors when insurance cannot pay (the caller's instruction then
/// fails; the account stays with its position for ADL). Returns what insurance pays, which the
/// caller moves from the insurance vault into the collateral vault. The caller also books the
/// change of the account's balance in `total_collateral_balance`.
pub fn cover_flat_deficit(
    clearinghouse_key: Pubkey,
    clearinghouse: &mut Clearinghouse,
    key: Pubkey,
    account: &mut MarginAccount,
) -> Result<u64> {
    Ok(settle_flat_debt(clearinghouse_key, clearinghouse, None, key, account)?.0)
}

/// `cover_flat_deficit` for the end of an ADL round, the one place a debt may outlast every
/// payer: what insurance cannot pay is written off as bad debt on the clearinghouse and
/// `market` (never taken from anyone's principal). Returns (insurance payout, written off).
pub fn cover_flat_deficit_or_write_off(
    clearinghouse_key: Pubkey,
    clearinghouse: &mut Clearinghouse,
    market: &mut Market,
    key: Pubkey,
    account: &mut MarginAccount,
) -> Result<(u64, u64)> {
    settle_flat_debt(clearinghouse_key, clearinghouse, Some(market), key, account)
}

fn settle_flat_debt(
    clearinghouse_key: Pubkey,
    clearinghouse: &mut Clearinghouse,
    write_off_in: Option<&mut Market>,
    key: Pubkey,
    account: &mut MarginAccount,
) -> Result<(u64, u64)> {
    if !is_flat(account) {
        return Ok((0, 0));
    }
    let mut payout: u64 = 0;
    for i in 0..account.positions.len() {
        let debt = account.positions[i].quote_entry;
        if debt >= 0 {
            continue;
        }
        let owed = debt.unsigned_abs();
        let from_balance = owed.min(account.collateral_balance);
        account.collateral_balance -= from_balance;
        payout = payout.safe_add(owed - from_balance).map_err(crate::math_err)?;
        account.positions[i].quote_entry = 0;
    }
    if payout == 0 {
        return Ok((0, 0));
    }
    let mut written_off = 0;
    if let Some(market) = write_off_in {
        written_off = payout.saturating_sub(clearinghouse.insurance_available());
        if written_off > 0 {
            payout -= written_off;
            clearinghouse.bad_debt_total =
                clearinghouse.bad_debt_total.safe_add(written_off).map_err(crate::math_err)?;
            market.bad_debt_total = market.bad_debt_total.safe_add(written_off).map_err(crate::math_err)?;
            emit_event(BadDebtRecordedV1 {
                clearinghouse: clearinghouse_key,
                margin_account: key,
                amount: written_off,
                bad_debt_total: clearinghouse.bad_debt_total,
            });
        }
    }
    account.status_flags &= !ACCOUNT_FLAG_BANKRUPT;
    if payout == 0 {
        return Ok((0, written_off));
    }
    require!(payout <= clearinghouse.insurance_available(), BulwarkError::InsufficientInsurance);
    clearinghouse.insurance_balance -= payout;
    clearinghouse.insurance_paid_total =
        clearinghouse.insurance_paid_total.safe_add(payout).map_err(crate::math_err)?;
    emit_event(InsurancePayoutV1 {
        clearinghouse: clearinghouse_key,
        margin_account: key,
        amount: payout,
        insurance_balance_after: clearinghouse.insurance_balance,
    });
    Ok((payout, written_off))
}

/// Add the net change of the touched accounts' balances to the clearinghouse total.
pub fn book_balance_change(clearinghouse: &mut Clearinghouse, change: i128) -> Result<()> {
    let total = (clearinghouse.total_collateral_balance as i128).safe_add(change).map_err(crate::math_err)?;
    clearinghouse.total_collateral_balance = to_u64(total).map_err(crate::math_err)?;
    Ok(())
}

/// Book net trading fees: the market's insurance share to the insurance accounting, the rest to
/// the fee pool. Returns the insurance share, which the caller moves to the insurance vault.
pub fn book_trading_fees(clearinghouse: &mut Clearinghouse, market: &mut Market, net_fees: i128) -> Result<u64> {
    let insurance = insurance_share(net_fees, market.params.insurance_fee_share_bps).map_err(crate::math_err)?;
    let to_pool = to_u64(net_fees.safe_sub(insurance).map_err(crate::math_err)?).map_err(crate::math_err)?;
    let insurance = to_u64(insurance).map_err(crate::math_err)?;
    clearinghouse.fee_pool = clearinghouse.fee_pool.safe_add(to_pool).map_err(crate::math_err)?;
    clearinghouse.insurance_balance = clearinghouse.insurance_balance.safe_add(insurance).map_err(crate::math_err)?;
    market.total_fees = market.total_fees.safe_add(to_pool + insurance).map_err(crate::math_err)?;
    Ok(insurance)
}

/// Whether a target may be deleveraged, and if not, the named reason. The keeper asks the
/// same question before it cranks. The force-out needs the grace clock running for the whole
/// grace period, with the last sighting within one grace period of now.
#[allow(clippy::too_many_arguments)]
pub fn adl_eligibility(
    equity: i128,
    meets_maintenance: bool,
    insurance_balance: u64,
    liquidatable_since_slot: u64,
    liquidatable_seen_slot: u64,
    grace_slots: u64,
    slot: u64,
) -> Result<()> {
    require!(!meets_maintenance, BulwarkError::AdlTargetHealthy);
    if shortfall(equity, insurance_balance).uncovered > 0 {
        return Ok(()); // bankrupt and insurance is short
    }
    let forced_out = liquidatable_since_slot != 0
        && slot.saturating_sub(liquidatable_since_slot) >= grace_slots
        && slot.saturating_sub(liquidatable_seen_slot) <= grace_slots;
    if forced_out {
        return Ok(()); // liquidatable for the whole grace period with nobody taking it
    }
    if equity < 0 {
        return err!(BulwarkError::InsuranceCanCover);
    }
    err!(BulwarkError::AdlGraceNotElapsed)
}
