use anchor_lang::prelude::*;

use crate::math::circuit_breaker::BreakerParams;
use crate::state::{Clearinghouse, CollateralOracleConfig, Market, MarketParams, WaterfallParams};

/// A change to clearinghouse parameters. Any change that could make a healthy account
/// liquidatable, take more of a user's money or weaken a safeguard waits the timelock; only
/// changes that purely lower risk apply at once (DESIGN.md §9).
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

    /// Whether `self` may replace `current` at once: it may only raise the initial margin and
    /// lower the open-interest cap. Those limit new risk but never make an open position
    /// liquidatable nor charge anyone more. Any other difference — the maintenance margin
    /// either way (up liquidates accounts, down raises risk), the size premium either way, the
    /// liquidation fee either way — waits the timelock.
    pub fn only_limits_new_risk(&self, current: &MarketRisk) -> bool {
        let no_premium = |r: &MarketRisk| r.size_premium_unit_lots == 0 || r.size_premium_bps == 0;
        let same_premium = (self.size_premium_bps == current.size_premium_bps
            && self.size_premium_unit_lots == current.size_premium_unit_lots)
            || (no_premium(self) && no_premium(current));
        self.initial_margin_bps >= current.initial_margin_bps
            && self.maintenance_margin_bps == current.maintenance_margin_bps
            && self.liquidation_fee_bps == current.liquidation_fee_bps
            && self.max_open_interest_lots <= current.max_open_interest_lots
            && same_premium
    }
}

impl ParamChange {
    /// Whether applying `self` to `clearinghouse` could raise risk, and so must wait the
    /// timelock. Anything that changes who holds a role or where a price comes from raises
    /// risk; so does a shorter timelock, a looser circuit breaker, and any market change other
    /// than a higher initial margin or a lower open-interest cap.
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
                market.is_none_or(|m| !risk.only_limits_new_risk(&MarketRisk::of(&m.params)))
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
    fn only_a_higher_initial_margin_or_a_lower_cap_applies_at_once() {
        assert!(RISK.only_limits_new_risk(&RISK));
        assert!(MarketRisk { initial_margin_bps: 1_100, ..RISK }.only_limits_new_risk(&RISK));
        assert!(MarketRisk { max_open_interest_lots: 999, ..RISK }.only_limits_new_risk(&RISK));
        assert!(MarketRisk { initial_margin_bps: 2_000, max_open_interest_lots: 1, ..RISK }.only_limits_new_risk(&RISK));
        assert!(!MarketRisk { initial_margin_bps: 900, ..RISK }.only_limits_new_risk(&RISK));
        assert!(!MarketRisk { max_open_interest_lots: 1_001, ..RISK }.only_limits_new_risk(&RISK));
        // Maintenance either way: up makes accounts liquidatable, down raises risk.
        assert!(!MarketRisk { maintenance_margin_bps: 501, ..RISK }.only_limits_new_risk(&RISK));
        assert!(!MarketRisk { maintenance_margin_bps: 499, ..RISK }.only_limits_new_risk(&RISK));
        // The liquidation fee either way: up takes more from the liquidated, down pays less
        // to those who take the risk.
        assert!(!MarketRisk { liquidation_fee_bps: 251, ..RISK }.only_limits_new_risk(&RISK));
        assert!(!MarketRisk { liquidation_fee_bps: 249, ..RISK }.only_limits_new_risk(&RISK));
        // The size premium grows maintenance too: any change of it waits, even an equivalent
        // rate (20 / 200 rounds differently from 10 / 100).
        assert!(!MarketRisk { size_premium_bps: 20, ..RISK }.only_limits_new_risk(&RISK));
        assert!(!MarketRisk { size_premium_bps: 20, size_premium_unit_lots: 200, ..RISK }.only_limits_new_risk(&RISK));
        assert!(!MarketRisk { size_premium_unit_lots: 200, ..RISK }.only_limits_new_risk(&RISK));
        assert!(!MarketRisk { size_premium_unit_lots: 0, ..RISK }.only_limits_new_risk(&RISK));
        // "No premium" has two spellings.
        let none = MarketRisk { size_premium_unit_lots: 0, size_premium_bps: 0, ..RISK };
        assert!(MarketRisk { size_premium_unit_lots: 100, ..none }.only_limits_new_risk(&none));
        assert!(MarketRisk { size_premium_bps: 10, ..none }.only_limits_new_risk(&none));
    }
}
