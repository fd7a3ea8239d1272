use anchor_lang::prelude::*;

use crate::constants::{
    BPS_DENOMINATOR, MAX_ADL_GRACE_SLOTS, MAX_BOOK_LIQUIDATION_BAND_BPS, MAX_UNSTAKE_COOLDOWN_SECONDS,
};
use crate::error::BulwarkError;
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

/// Liquidation, insurance, ADL and fill-band parameters of a clearinghouse (changed only by
/// timelock).
#[zero_copy]
// Plain Borsh derives: see `OracleConfig`.
#[derive(Debug, Default, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize)]
#[borsh(crate = "anchor_lang::prelude::borsh")]
pub struct WaterfallParams {
    /// How long an account may stay liquidatable with nobody taking it before ADL may force
    /// its positions out at the oracle price.
    pub adl_grace_slots: u64,
    /// Wait between an unstake request and the unstake; payouts in between still hit it.
    pub insurance_unstake_cooldown_seconds: i64,
    /// Cap on a book liquidation's crank reward, in collateral atoms.
    pub max_book_liquidation_reward: u64,
    /// A liquidation restores `equity >= maintenance × (1 + buffer)`.
    pub liquidation_buffer_bps: u32,
    /// A liquidation against the book fills only within oracle ± this band.
    pub book_liquidation_band_bps: u32,
    /// Share of a book liquidation's fee paid to the cranker (the rest to insurance).
    pub book_liquidation_reward_bps: u32,
    /// Every fill, of any order, is within oracle ± this band.
    pub max_fill_deviation_bps: u32,
}
const_assert_size!(WaterfallParams, 40);

impl WaterfallParams {
    pub fn validate(&self) -> Result<()> {
        let ok = (1..=MAX_ADL_GRACE_SLOTS).contains(&self.adl_grace_slots)
            && (crate::constants::MIN_UNSTAKE_COOLDOWN_SECONDS..=MAX_UNSTAKE_COOLDOWN_SECONDS)
                .contains(&self.insurance_unstake_cooldown_seconds)
            && self.liquidation_buffer_bps <= BPS_DENOMINATOR as u32
            && (1..=MAX_BOOK_LIQUIDATION_BAND_BPS).contains(&self.book_liquidation_band_bps)
            && self.book_liquidation_reward_bps <= BPS_DENOMINATOR as u32
            && (1..=MAX_BOOK_LIQUIDATION_BAND_BPS).contains(&self.max_fill_deviation_bps);
        require!(ok, BulwarkError::InvalidParameter);
        Ok(())
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
    pub waterfall: WaterfallParams,
    /// Deficits the insurance vault has paid, all-time.
    pub insurance_paid_total: u64,
    /// Bumped when the vault is wiped out: stakes from an earlier epoch hold no shares.
    pub insurance_share_epoch: u64,
    pub reserved: [u8; 200],
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
