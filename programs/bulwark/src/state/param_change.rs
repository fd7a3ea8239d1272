use anchor_lang::prelude::*;

use crate::math::circuit_breaker::BreakerParams;
use crate::state::{Clearinghouse, CollateralOracleConfig, Market, MarketParams, WaterfallParams};

/// A change to clearinghouse parameters. Risk-raising changes wait the timelock; risk-lowering
/// ones apply at once (DESIGN.md §9).
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub enum ParamChange {
    SetAdmin {
        admin: Pubkey,
    },
    SetGuardian {
        guardian: Pubkey,
    },
    SetTimelock {
        seconds: i64,
    },
    SetWithdrawalBreaker {
        window_seconds: i64,
        max_net_outflow_bps: u32,
        min_outflow_allowance: u64,
    },
    SetCollateralOracle {
        config: CollateralOracleConfig,
    },
    /// A market's margin, liquidation and open-interest parameters.
    SetMarketRisk {
        market_index: u16,
        risk: MarketRisk,
    },
    /// Liquidation, insurance and ADL parameters.
    SetWaterfall {
        params: WaterfallParams,
    },
}

/// The market parameters a `SetMarketRisk` change sets.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarketRisk {
    pub initial_margin_bps: u32,
    pub maintenance_margin_bps: u32,
    pub size_premium_bps: u32,
    pub size_premium_unit_lots: u64,
    pub liquidation_fee_bps: u32,
    pub max_open_interest_lots: u64,
}

impl MarketRisk {
    pub fn of(params: &MarketParams) -> Self {
        Self {
            initial_margin_bps: params.initial_margin_bps,
            maintenance_margin_bps: params.maintenance_margin_bps,
            size_premium_bps: params.size_premium_bps,
            size_premium_unit_lots: params.size_premium_unit_lots,
            liquidation_fee_bps: params.liquidation_fee_bps,
            max_open_interest_lots: params.max_open_interest_lots,
        }
    }

    pub fn applied_to(&self, params: &MarketParams) -> MarketParams {
        MarketParams {
            initial_margin_bps: self.initial_margin_bps,
            maintenance_margin_bps: self.maintenance_margin_bps,
            size_premium_bps: self.size_premium_bps,
            size_premium_unit_lots: self.size_premium_unit_lots,
            liquidation_fee_bps: self.liquidation_fee_bps,
            max_open_interest_lots: self.max_open_interest_lots,
            ..*params
        }
    }

    /// At least as conservative as `current` in every dimension: margins no lower, the size
    /// premium no weaker, the liquidation fee no lower, the open-interest cap no higher.
    pub fn is_at_least_as_strict_as(&self, current: &MarketRisk) -> bool {
        let premium_no_weaker = match (current.size_premium_unit_lots, self.size_premium_unit_lots) {
            (_, 0) => current.size_premium_unit_lots == 0 || current.size_premium_bps == 0,
            (0, _) => true,
            // bps per lot: new_bps / new_unit >= cur_bps / cur_unit
            (cur_unit, new_unit) => {
                self.size_premium_bps as u128 * cur_unit as u128 >= current.size_premium_bps as u128 * new_unit as u128
            }
        };
        self.initial_margin_bps >= current.initial_margin_bps
            && self.maintenance_margin_bps >= current.maintenance_margin_bps
            && self.liquidation_fee_bps >= current.liquidation_fee_bps
            && self.max_open_interest_lots <= current.max_open_interest_lots
            && premium_no_weaker
    }
}

impl ParamChange {
    /// Whether applying `self` to `clearinghouse` could raise risk. Anything that changes who
    /// holds a role or where a price comes from raises risk; so does a shorter timelock or a
    /// looser circuit breaker.
    pub fn raises_risk(&self, clearinghouse: &Clearinghouse, market: Option<&Market>) -> bool {
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
            ParamChange::SetMarketRisk { risk, .. } => {
                market.is_none_or(|m| !risk.is_at_least_as_strict_as(&MarketRisk::of(&m.params)))
            }
            // Every knob here cuts both ways (a shorter cooldown lets stakers leave ahead of a
            // payout, a shorter grace forces positions out sooner): always timelocked.
            ParamChange::SetWaterfall { .. } => true,
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
            ParamChange::SetMarketRisk { .. } => 6,
            ParamChange::SetWaterfall { .. } => 7,
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

#[cfg(test)]
mod tests {
    use super::*;

    const RISK: MarketRisk = MarketRisk {
        initial_margin_bps: 1_000,
        maintenance_margin_bps: 500,
        size_premium_bps: 10,
        size_premium_unit_lots: 100,
        liquidation_fee_bps: 250,
        max_open_interest_lots: 1_000,
    };

    #[test]
    fn market_risk_strictness() {
        assert!(RISK.is_at_least_as_strict_as(&RISK));
        assert!(MarketRisk { initial_margin_bps: 1_100, ..RISK }.is_at_least_as_strict_as(&RISK));
        assert!(!MarketRisk { initial_margin_bps: 900, ..RISK }.is_at_least_as_strict_as(&RISK));
        assert!(!MarketRisk { maintenance_margin_bps: 499, ..RISK }.is_at_least_as_strict_as(&RISK));
        assert!(!MarketRisk { liquidation_fee_bps: 200, ..RISK }.is_at_least_as_strict_as(&RISK));
        assert!(!MarketRisk { max_open_interest_lots: 1_001, ..RISK }.is_at_least_as_strict_as(&RISK));
        // Premium per lot: 10 bps / 100 lots; 20 / 200 is the same, 10 / 200 is weaker, none is weaker.
        assert!(
            MarketRisk { size_premium_bps: 20, size_premium_unit_lots: 200, ..RISK }.is_at_least_as_strict_as(&RISK)
        );
        assert!(!MarketRisk { size_premium_unit_lots: 200, ..RISK }.is_at_least_as_strict_as(&RISK));
        assert!(!MarketRisk { size_premium_unit_lots: 0, ..RISK }.is_at_least_as_strict_as(&RISK));
        let none = MarketRisk { size_premium_unit_lots: 0, size_premium_bps: 0, ..RISK };
        assert!(RISK.is_at_least_as_strict_as(&none));
    }
}
