//! Timelocked parameter changes (DESIGN.md §9).

use anchor_lang::prelude::*;

use crate::constants::{MAX_TIMELOCK_SECONDS, PARAM_CHANGE_EXECUTION_WINDOW_SECONDS};
use crate::error::BulwarkError;
use crate::events::{
    emit_event, ParamChangeAppliedV1, ParamChangeCancelledV1, ParamChangeDelayedV1, ParamChangeProposedV1,
};
use crate::math::circuit_breaker::BreakerParams;
use crate::math::safe::SafeMath;
use crate::state::{
    maintenance_over_fees_bps, Clearinghouse, Market, ParamChange, PendingParamChange, MARKET_STATUS_PAUSED,
    PARAM_CHANGE_PAYLOAD_CAPACITY,
};

/// The market a `SetMarketRisk` change targets, checked against the change.
fn target_market<'a>(
    change: &ParamChange,
    clearinghouse_key: &Pubkey,
    market: Option<&'a Market>,
) -> Result<Option<&'a Market>> {
    let ParamChange::SetMarketRisk { market_index, .. } = change else { return Ok(None) };
    let market = market.ok_or(BulwarkError::MissingMarketAccount)?;
    require!(market.clearinghouse == *clearinghouse_key && market.index == *market_index, BulwarkError::MarketMismatch);
    Ok(Some(market))
}

/// Reject values no clearinghouse should ever hold, whichever path applies them: each
/// parameter's bounds, and the bands below every market's maintenance margin.
pub fn validate(change: &ParamChange, clearinghouse: &Clearinghouse, market: Option<&Market>) -> Result<()> {
    match change {
        ParamChange::SetAdmin { admin } => require!(*admin != Pubkey::default(), BulwarkError::InvalidParameter),
        ParamChange::SetGuardian { guardian } => {
            require!(*guardian != Pubkey::default(), BulwarkError::InvalidParameter)
        }
        ParamChange::SetTimelock { seconds } => {
            require!((0..=MAX_TIMELOCK_SECONDS).contains(seconds), BulwarkError::InvalidParameter)
        }
        ParamChange::SetWithdrawalBreaker { window_seconds, max_net_outflow_bps, min_outflow_allowance } => {
            let params = BreakerParams {
                window_seconds: *window_seconds,
                max_net_outflow_bps: *max_net_outflow_bps,
                min_outflow_allowance: *min_outflow_allowance,
            };
            require!(params.is_valid(), BulwarkError::InvalidParameter)
        }
        ParamChange::SetCollateralOracle { config } => config.validate()?,
        ParamChange::SetMarketRisk { risk, .. } => {
            let market = market.ok_or(BulwarkError::MissingMarketAccount)?;
            let params = risk.applied_to(&market.params);
            crate::instructions::create_market::validate_params(&params, clearinghouse.collateral_decimals)?;
            clearinghouse
                .waterfall
                .check_bands_below_maintenance(params.maintenance_margin_bps, maintenance_over_fees_bps(&params))?;
        }
        // The program cannot load every market here: the waterfall is checked against the
        // clearinghouse's all-time summary of their maintenance margins and fees.
        ParamChange::SetWaterfall { params } => {
            params.validate()?;
            clearinghouse.check_waterfall_against_markets(params)?;
        }
    }
    Ok(())
}

pub fn apply(clearinghouse: &mut Clearinghouse, market: Option<&mut Market>, change: &ParamChange) {
    match change {
        ParamChange::SetAdmin { admin } => clearinghouse.admin = *admin,
        ParamChange::SetGuardian { guardian } => clearinghouse.guardian = *guardian,
        ParamChange::SetTimelock { seconds } => clearinghouse.timelock_seconds = *seconds,
        ParamChange::SetWithdrawalBreaker { window_seconds, max_net_outflow_bps, min_outflow_allowance } => {
            clearinghouse.withdrawal_breaker.set_params(&BreakerParams {
                window_seconds: *window_seconds,
                max_net_outflow_bps: *max_net_outflow_bps,
                min_outflow_allowance: *min_outflow_allowance,
            })
        }
        ParamChange::SetCollateralOracle { config } => {
            let old = clearinghouse.collateral_oracle;
            let same_sources = old.mode == config.mode
                && old.market.source == config.market.source
                && old.market.feed == config.market.feed
                && old.redemption_rate_feed == config.redemption_rate_feed
                && old.redemption_health_feed == config.redemption_health_feed;
            clearinghouse.collateral_oracle = *config;
            // A new source starts with no history; a re-tuned one keeps its mode and its
            // hard-band timer (executing a tweak must not buy a depeg another grace period).
            if !same_sources {
                clearinghouse.collateral_oracle_state = Default::default();
            }
        }
        ParamChange::SetMarketRisk { risk, .. } => {
            if let Some(market) = market {
                market.params = risk.applied_to(&market.params);
                clearinghouse.record_market_risk(&market.params);
            }
        }
        ParamChange::SetWaterfall { params } => clearinghouse.waterfall = *params,
    }
}

/// Apply a risk-lowering change now, or park a risk-raising one behind the timelock.
pub fn propose(
    clearinghouse_key: Pubkey,
    clearinghouse: &mut Clearinghouse,
    mut market: Option<&mut Market>,
    change: ParamChange,
    now: i64,
) -> Result<()> {
    target_market(&change, &clearinghouse_key, market.as_deref())?;
    validate(&change, clearinghouse, market.as_deref())?;
    let is_breaker = matches!(change, ParamChange::SetWithdrawalBreaker { .. });
    if !change.raises_risk(clearinghouse, market.as_deref()) {
        // A tighter breaker while a risk-raising change waits could shut exits for exactly
        // the time users need to leave; one applied just before a proposal would do the same,
        // so it also holds risk-raising proposals off for a timelock (see below).
        if let ParamChange::SetWithdrawalBreaker { window_seconds, max_net_outflow_bps, min_outflow_allowance } = change
        {
            require!(!clearinghouse.pending_change.is_pending(), BulwarkError::ParamChangePending);
            let proposed = BreakerParams { window_seconds, max_net_outflow_bps, min_outflow_allowance };
            if proposed != clearinghouse.withdrawal_breaker.params() {
                clearinghouse.breaker_tightened_unix = now;
            }
        }
        apply(clearinghouse, market.as_deref_mut(), &change);
        emit_event(ParamChangeAppliedV1 { clearinghouse: clearinghouse_key, kind: change.kind(), via_timelock: false });
        return Ok(());
    }
    require!(!clearinghouse.pending_change.is_pending(), BulwarkError::ParamChangePending);
    // Users get the whole timelock under the breaker that stood before the change was known.
    // (Loosening the breaker itself narrows nothing.)
    if !is_breaker && clearinghouse.breaker_tightened_unix != 0 {
        let quiet_until =
            clearinghouse.breaker_tightened_unix.safe_add(clearinghouse.timelock_seconds).map_err(crate::math_err)?;
        require!(now >= quiet_until, BulwarkError::BreakerRecentlyTightened);
    }
    let mut payload = [0u8; PARAM_CHANGE_PAYLOAD_CAPACITY];
    let mut cursor: &mut [u8] = &mut payload;
    change.serialize(&mut cursor).map_err(|_| BulwarkError::InvalidParameter)?;
    let payload_len = PARAM_CHANGE_PAYLOAD_CAPACITY - cursor.len();
    let executable_unix = now.safe_add(clearinghouse.timelock_seconds).map_err(crate::math_err)?;
    clearinghouse.target_market_paused_since_unix = 0;
    clearinghouse.pending_change = PendingParamChange {
        proposed_unix: now,
        executable_unix,
        payload,
        payload_len: payload_len as u16,
        kind: change.kind(),
        padding: [0; 5],
    };
    emit_event(ParamChangeProposedV1 { clearinghouse: clearinghouse_key, kind: change.kind(), executable_unix });
    Ok(())
}

fn read_pending(pending: &PendingParamChange) -> Result<ParamChange> {
    require!(pending.is_pending(), BulwarkError::NoPendingParamChange);
    let len = (pending.payload_len as usize).min(PARAM_CHANGE_PAYLOAD_CAPACITY);
    Ok(ParamChange::try_from_slice(&pending.payload[..len]).map_err(|_| BulwarkError::ParamChangeCorrupt)?)
}

fn take_pending(clearinghouse: &mut Clearinghouse) -> Result<ParamChange> {
    let change = read_pending(&clearinghouse.pending_change)?;
    clearinghouse.pending_change = bytemuck::Zeroable::zeroed();
    Ok(change)
}

/// Anyone may execute a pending change once its timelock has elapsed, unless the clearinghouse
/// is paused: users cannot exit while it is, so a change never lands during a pause (and the
/// paused time does not count toward its timelock, see `on_unpause`).
pub fn execute(
    clearinghouse_key: Pubkey,
    clearinghouse: &mut Clearinghouse,
    mut market: Option<&mut Market>,
    now: i64,
) -> Result<()> {
    require!(clearinghouse.pending_change.is_pending(), BulwarkError::NoPendingParamChange);
    require!(!clearinghouse.is_paused(), BulwarkError::ClearinghousePaused);
    let executable = clearinghouse.pending_change.executable_unix;
    require!(now >= executable, BulwarkError::TimelockNotElapsed);
    require!(now <= executable.saturating_add(PARAM_CHANGE_EXECUTION_WINDOW_SECONDS), BulwarkError::ParamChangeExpired);
    let change = take_pending(clearinghouse)?;
    // Re-validate: the world may have changed while it waited.
    let target = target_market(&change, &clearinghouse_key, market.as_deref())?;
    // Nobody can trade out of a paused market: a change to it waits until it resumes, and a
    // change to the whole clearinghouse until no market is paused.
    require!(target.is_none_or(|m| m.status != MARKET_STATUS_PAUSED), BulwarkError::MarketPaused);
    require!(target.is_some() || clearinghouse.paused_market_count == 0, BulwarkError::MarketPaused);
    validate(&change, clearinghouse, market.as_deref())?;
    apply(clearinghouse, market.as_deref_mut(), &change);
    emit_event(ParamChangeAppliedV1 { clearinghouse: clearinghouse_key, kind: change.kind(), via_timelock: true });
    Ok(())
}

pub fn cancel(clearinghouse_key: Pubkey, clearinghouse: &mut Clearinghouse) -> Result<()> {
    let change = take_pending(clearinghouse)?;
    emit_event(ParamChangeCancelledV1 { clearinghouse: clearinghouse_key, kind: change.kind() });
    Ok(())
}

/// The guardian paused the clearinghouse: remember since when.
pub fn on_pause(clearinghouse: &mut Clearinghouse, now: i64) {
    clearinghouse.paused_since_unix = now;
}

/// The guardian resumed the clearinghouse: a pending change's timelock is pushed back by the
/// time it spent paused (since it was proposed), so users get all of it, unpaused, to exit.
pub fn on_unpause(clearinghouse_key: Pubkey, clearinghouse: &mut Clearinghouse, now: i64) -> Result<()> {
    let paused_since = clearinghouse.paused_since_unix;
    clearinghouse.paused_since_unix = 0;
    delay_pending(clearinghouse_key, &mut clearinghouse.pending_change, paused_since, now)
}

/// The guardian moved a market from `previous` to `status`. If a pending `SetMarketRisk`
/// targets it, the market's paused time counts no more than the clearinghouse's (an overlap of
/// both pauses is counted twice, which only lengthens the window).
pub fn on_market_status(
    clearinghouse_key: Pubkey,
    clearinghouse: &mut Clearinghouse,
    market: &Market,
    previous: u8,
    now: i64,
) -> Result<()> {
    // Any paused market holds off a change to the whole clearinghouse: count them.
    let pausing = market.status == MARKET_STATUS_PAUSED && previous != MARKET_STATUS_PAUSED;
    let resuming = previous == MARKET_STATUS_PAUSED && market.status != MARKET_STATUS_PAUSED;
    let pending = read_pending(&clearinghouse.pending_change);
    let clearinghouse_wide = pending.as_ref().is_ok_and(|c| !matches!(c, ParamChange::SetMarketRisk { .. }));
    if pausing {
        if clearinghouse.paused_market_count == 0 {
            clearinghouse.markets_paused_since_unix = now;
        }
        clearinghouse.paused_market_count = clearinghouse.paused_market_count.saturating_add(1);
    } else if resuming {
        clearinghouse.paused_market_count = clearinghouse.paused_market_count.saturating_sub(1);
        if clearinghouse.paused_market_count == 0 {
            let paused_since = clearinghouse.markets_paused_since_unix;
            clearinghouse.markets_paused_since_unix = 0;
            if clearinghouse_wide {
                delay_pending(clearinghouse_key, &mut clearinghouse.pending_change, paused_since, now)?;
            }
        }
    }
    // Never fails on the pending change: the guardian's market controls must always work.
    let targets_market = match pending {
        Ok(ParamChange::SetMarketRisk { market_index, .. }) => market_index == market.index,
        _ => false,
    };
    if !targets_market {
        return Ok(());
    }
    if market.status == MARKET_STATUS_PAUSED {
        clearinghouse.target_market_paused_since_unix = now;
    } else if previous == MARKET_STATUS_PAUSED {
        let paused_since = clearinghouse.target_market_paused_since_unix;
        clearinghouse.target_market_paused_since_unix = 0;
        delay_pending(clearinghouse_key, &mut clearinghouse.pending_change, paused_since, now)?;
    }
    Ok(())
}

/// Push `pending`'s executable time back by the time paused since `paused_since` (or since
/// its proposal, if later).
fn delay_pending(
    clearinghouse_key: Pubkey,
    pending: &mut PendingParamChange,
    paused_since: i64,
    now: i64,
) -> Result<()> {
    if !pending.is_pending() {
        return Ok(());
    }
    let paused_for = now.safe_sub(paused_since.max(pending.proposed_unix)).map_err(crate::math_err)?.max(0);
    if paused_for == 0 {
        return Ok(());
    }
    pending.executable_unix = pending.executable_unix.safe_add(paused_for).map_err(crate::math_err)?;
    emit_event(ParamChangeDelayedV1 {
        clearinghouse: clearinghouse_key,
        kind: pending.kind,
        executable_unix: pending.executable_unix,
        paused_seconds: paused_for,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(proposed: i64, executable: i64) -> Clearinghouse {
        let mut ch: Clearinghouse = bytemuck::Zeroable::zeroed();
        ch.pending_change.kind = 2;
        ch.pending_change.proposed_unix = proposed;
        ch.pending_change.executable_unix = executable;
        ch
    }

    #[test]
    fn paused_time_since_the_proposal_is_added_to_the_timelock() {
        let key = Pubkey::new_unique();
        // Proposed at 1,000 for 2,000; paused 1,500..2,500: executable 1,000 s later.
        let mut ch = pending(1_000, 2_000);
        on_pause(&mut ch, 1_500);
        on_unpause(key, &mut ch, 2_500).unwrap();
        assert_eq!((ch.pending_change.executable_unix, ch.paused_since_unix), (3_000, 0));
        // Paused before the proposal: only the paused time after it counts.
        let mut ch = pending(1_000, 2_000);
        on_pause(&mut ch, 500);
        on_unpause(key, &mut ch, 1_200).unwrap();
        assert_eq!(ch.pending_change.executable_unix, 2_200);
        // Nothing pending: nothing moves.
        let mut ch: Clearinghouse = bytemuck::Zeroable::zeroed();
        on_pause(&mut ch, 10);
        on_unpause(key, &mut ch, 20).unwrap();
        assert_eq!(ch.pending_change.executable_unix, 0);
    }

    #[test]
    fn a_paused_clearinghouse_executes_nothing() {
        let key = Pubkey::new_unique();
        let mut ch = pending(1_000, 2_000);
        ch.status = crate::state::CLEARINGHOUSE_PAUSED;
        let err = execute(key, &mut ch, None, 2_000).unwrap_err();
        assert_eq!(err, BulwarkError::ClearinghousePaused.into());
        assert!(ch.pending_change.is_pending());
    }
}
