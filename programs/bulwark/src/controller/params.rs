//! Timelocked parameter changes (DESIGN.md §9).

use anchor_lang::prelude::*;

use crate::constants::{MAX_TIMELOCK_SECONDS, PARAM_CHANGE_EXECUTION_WINDOW_SECONDS};
use crate::error::BulwarkError;
use crate::events::{emit_event, ParamChangeAppliedV1, ParamChangeCancelledV1, ParamChangeProposedV1};
use crate::math::circuit_breaker::BreakerParams;
use crate::math::safe::SafeMath;
use crate::state::{Clearinghouse, Market, ParamChange, PendingParamChange, PARAM_CHANGE_PAYLOAD_CAPACITY};

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

/// Reject values no clearinghouse should ever hold, whichever path applies them.
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
            crate::instructions::create_market::validate_params(
                &risk.applied_to(&market.params),
                clearinghouse.collateral_decimals,
            )?;
        }
        ParamChange::SetWaterfall { params } => params.validate()?,
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
    if !change.raises_risk(clearinghouse, market.as_deref()) {
        // A tighter breaker while a risk-raising change waits could shut exits for exactly
        // the time users need to leave.
        if matches!(change, ParamChange::SetWithdrawalBreaker { .. }) {
            require!(!clearinghouse.pending_change.is_pending(), BulwarkError::ParamChangePending);
        }
        apply(clearinghouse, market.as_deref_mut(), &change);
        emit_event(ParamChangeAppliedV1 { clearinghouse: clearinghouse_key, kind: change.kind(), via_timelock: false });
        return Ok(());
    }
    require!(!clearinghouse.pending_change.is_pending(), BulwarkError::ParamChangePending);
    let mut payload = [0u8; PARAM_CHANGE_PAYLOAD_CAPACITY];
    let mut cursor: &mut [u8] = &mut payload;
    change.serialize(&mut cursor).map_err(|_| BulwarkError::InvalidParameter)?;
    let payload_len = PARAM_CHANGE_PAYLOAD_CAPACITY - cursor.len();
    let executable_unix = now.safe_add(clearinghouse.timelock_seconds).map_err(crate::math_err)?;
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

fn take_pending(clearinghouse: &mut Clearinghouse) -> Result<ParamChange> {
    let pending = clearinghouse.pending_change;
    require!(pending.is_pending(), BulwarkError::NoPendingParamChange);
    let len = (pending.payload_len as usize).min(PARAM_CHANGE_PAYLOAD_CAPACITY);
    let change = ParamChange::try_from_slice(&pending.payload[..len]).map_err(|_| BulwarkError::ParamChangeCorrupt)?;
    clearinghouse.pending_change = bytemuck::Zeroable::zeroed();
    Ok(change)
}

/// Anyone may execute a pending change once its timelock has elapsed.
pub fn execute(
    clearinghouse_key: Pubkey,
    clearinghouse: &mut Clearinghouse,
    mut market: Option<&mut Market>,
    now: i64,
) -> Result<()> {
    require!(clearinghouse.pending_change.is_pending(), BulwarkError::NoPendingParamChange);
    let executable = clearinghouse.pending_change.executable_unix;
    require!(now >= executable, BulwarkError::TimelockNotElapsed);
    require!(now <= executable.saturating_add(PARAM_CHANGE_EXECUTION_WINDOW_SECONDS), BulwarkError::ParamChangeExpired);
    let change = take_pending(clearinghouse)?;
    // Re-validate: the world may have changed while it waited.
    target_market(&change, &clearinghouse_key, market.as_deref())?;
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
