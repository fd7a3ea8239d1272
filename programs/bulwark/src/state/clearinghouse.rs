use anchor_lang::prelude::*;

use crate::math::circuit_breaker::{BreakerParams, BreakerWindow};
use crate::state::{CollateralOracleConfig, CollateralOracleState, PendingParamChange};

/// `Clearinghouse::status` values.
pub const CLEARINGHOUSE_ACTIVE: u8 = 0;
pub const CLEARINGHOUSE_PAUSED: u8 = 1;

/// Circuit-breaker parameters and the window in force.
#[zero_copy]
#[derive(Debug, Default)]
pub struct WithdrawalBreaker {
    pub window_seconds: i64,
    pub min_outflow_allowance: u64,
    pub window_start_unix: i64,
    pub window_start_balance: u64,
    pub window_outflow: u64,
    pub window_inflow: u64,
    pub max_net_outflow_bps: u32,
    pub padding: [u8; 4],
}
const_assert_size!(WithdrawalBreaker, 56);

impl WithdrawalBreaker {
    pub fn params(&self) -> BreakerParams {
        BreakerParams {
            window_seconds: self.window_seconds,
            max_net_outflow_bps: self.max_net_outflow_bps,
            min_outflow_allowance: self.min_outflow_allowance,
        }
    }

    pub fn window(&self) -> BreakerWindow {
        BreakerWindow {
            window_start: self.window_start_unix,
            start_balance: self.window_start_balance,
            outflow: self.window_outflow,
            inflow: self.window_inflow,
        }
    }

    pub fn set_params(&mut self, params: &BreakerParams) {
        self.window_seconds = params.window_seconds;
        self.max_net_outflow_bps = params.max_net_outflow_bps;
        self.min_outflow_allowance = params.min_outflow_allowance;
    }

    pub fn set_window(&mut self, window: &BreakerWindow) {
        self.window_start_unix = window.window_start;
        self.window_start_balance = window.start_balance;
        self.window_outflow = window.outflow;
        self.window_inflow = window.inflow;
    }
}

/// One isolated clearinghouse: a collateral, its vaults, its oracle and its risk parameters.
/// PDA: `["clearinghouse", creator, collateral_mint, id (u16 LE)]`; it owns both vaults. The
/// creator is in the seeds so nobody can squat the address a deployment's clients derive.
#[account(zero_copy)]
#[derive(Debug)]
pub struct Clearinghouse {
    /// The first admin; part of the PDA seeds, never changes.
    pub creator: Pubkey,
    pub admin: Pubkey,
    /// May pause and unpause, nothing else.
    pub guardian: Pubkey,
    pub collateral_mint: Pubkey,
    pub collateral_vault: Pubkey,
    pub insurance_vault: Pubkey,
    pub collateral_oracle: CollateralOracleConfig,
    pub collateral_oracle_state: CollateralOracleState,
    pub withdrawal_breaker: WithdrawalBreaker,
    pub pending_change: PendingParamChange,
    pub timelock_seconds: i64,
    /// Σ margin-account collateral balances; with `fee_pool` it must equal the collateral vault.
    pub total_collateral_balance: u64,
    /// Trading fees held in the collateral vault that belong to the protocol.
    pub fee_pool: u64,
    /// Tokens in the insurance vault that the insurance accounting knows about.
    pub insurance_balance: u64,
    pub insurance_total_shares: u64,
    pub margin_account_count: u64,
    pub id: u16,
    pub market_count: u16,
    pub status: u8,
    pub bump: u8,
    pub collateral_decimals: u8,
    pub padding: [u8; 1],
    pub reserved: [u8; 256],
}
const_assert_size!(Clearinghouse, 1080);

impl Clearinghouse {
    /// Seeds (without the bump) the clearinghouse PDA signs with.
    pub fn seed_parts(&self) -> (Pubkey, Pubkey, [u8; 2], [u8; 1]) {
        (self.creator, self.collateral_mint, self.id.to_le_bytes(), [self.bump])
    }

    pub fn is_paused(&self) -> bool {
        self.status == CLEARINGHOUSE_PAUSED
    }
}
