use anchor_lang::prelude::*;

use crate::math::circuit_breaker::BreakerParams;
use crate::state::{Clearinghouse, CollateralOracleConfig};

/// A change to clearinghouse parameters. Risk-raising changes wait the timelock; risk-lowering
/// ones apply at once (DESIGN.md §9).
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub enum ParamChange {
    SetAdmin { admin: Pubkey },
    SetGuardian { guardian: Pubkey },
    SetTimelock { seconds: i64 },
    SetWithdrawalBreaker { window_seconds: i64, max_net_outflow_bps: u32, min_outflow_allowance: u64 },
    SetCollateralOracle { config: CollateralOracleConfig },
}

impl ParamChange {
    /// Whether applying `self` to `clearinghouse` could raise risk. Anything that changes who
    /// holds a role or where a price comes from raises risk; so does a shorter timelock or a
    /// looser circuit breaker.
    pub fn raises_risk(&self, clearinghouse: &Clearinghouse) -> bool {
        match self {
            ParamChange::SetAdmin { .. } | ParamChange::SetGuardian { .. } => true,
            ParamChange::SetTimelock { seconds } => *seconds < clearinghouse.timelock_seconds,
            ParamChange::SetWithdrawalBreaker { window_seconds, max_net_outflow_bps, min_outflow_allowance } => {
                let proposed = BreakerParams {
                    window_seconds: *window_seconds,
                    max_net_outflow_bps: *max_net_outflow_bps,
                    min_outflow_allowance: *min_outflow_allowance,
                };
                !proposed.is_at_least_as_strict_as(&clearinghouse.withdrawal_breaker.params())
            }
            ParamChange::SetCollateralOracle { .. } => true,
        }
    }

    /// Stable numeric kind, used in events.
    pub fn kind(&self) -> u8 {
        match self {
            ParamChange::SetAdmin { .. } => 1,
            ParamChange::SetGuardian { .. } => 2,
            ParamChange::SetTimelock { .. } => 3,
            ParamChange::SetWithdrawalBreaker { .. } => 4,
            ParamChange::SetCollateralOracle { .. } => 5,
        }
    }
}

/// Room for the largest `ParamChange`, Borsh-encoded.
pub const PARAM_CHANGE_PAYLOAD_CAPACITY: usize = 256;

/// The one parameter change that may wait in the timelock at a time.
#[zero_copy]
#[derive(Debug)]
pub struct PendingParamChange {
    pub proposed_unix: i64,
    /// Earliest time anyone may execute it.
    pub executable_unix: i64,
    pub payload: [u8; PARAM_CHANGE_PAYLOAD_CAPACITY],
    pub payload_len: u16,
    /// 0 when nothing is pending, otherwise `ParamChange::kind`.
    pub kind: u8,
    pub padding: [u8; 5],
}
const_assert_size!(PendingParamChange, 16 + PARAM_CHANGE_PAYLOAD_CAPACITY + 8);

impl PendingParamChange {
    pub fn is_pending(&self) -> bool {
        self.kind != 0
    }
}
