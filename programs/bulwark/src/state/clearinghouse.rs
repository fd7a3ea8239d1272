use anchor_lang::prelude::*;

use crate::constants::{
    BPS_DENOMINATOR, MAX_ADL_GRACE_SLOTS, MAX_ADL_NOMINATION_SLOTS, MAX_BOOK_LIQUIDATION_BAND_BPS,
    MAX_FILL_DEVIATION_BPS, MAX_LIQUIDATION_BUFFER_BPS, MAX_UNSTAKE_COOLDOWN_SECONDS, MIN_ADL_GRACE_SLOTS,
};
use crate::error::BulwarkError;
use crate::math::circuit_breaker::{BreakerParams, BreakerWindow};
use crate::state::{CollateralOracleConfig, CollateralOracleState, MarketParams, PendingParamChange};

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
    /// How long an ADL round takes nominations before it fills (0: same slot only, which lets
    /// the opener alone nominate, so the one-shot `auto_deleverage` is allowed only then).
    pub adl_nomination_slots: u64,
}
const_assert_size!(WaterfallParams, 48);

impl WaterfallParams {
    pub fn validate(&self) -> Result<()> {
        let ok = (MIN_ADL_GRACE_SLOTS..=MAX_ADL_GRACE_SLOTS).contains(&self.adl_grace_slots)
            && (crate::constants::MIN_UNSTAKE_COOLDOWN_SECONDS..=MAX_UNSTAKE_COOLDOWN_SECONDS)
                .contains(&self.insurance_unstake_cooldown_seconds)
            && self.liquidation_buffer_bps <= MAX_LIQUIDATION_BUFFER_BPS
            && (1..=MAX_BOOK_LIQUIDATION_BAND_BPS).contains(&self.book_liquidation_band_bps)
            && self.book_liquidation_reward_bps <= BPS_DENOMINATOR as u32
            && (1..=MAX_FILL_DEVIATION_BPS).contains(&self.max_fill_deviation_bps)
            && self.adl_nomination_slots <= MAX_ADL_NOMINATION_SLOTS;
        require!(ok, BulwarkError::InvalidParameter);
        Ok(())
    }

    /// Both bands must sit below maintenance, for a market whose maintenance margin is
    /// `maintenance_bps` and whose `maintenance − liquidation fee − taker fee` is
    /// `maintenance_over_fees_bps`:
    /// * a fill at the fill band's edge cannot by itself take an account from maintenance to
    ///   bankruptcy: `max_fill_deviation < maintenance`;
    /// * a book liquidation at its band's edge moves the account toward its buffer:
    ///   `band + liquidation fee + taker fee < maintenance × (1 + buffer)`.
    pub fn check_bands_below_maintenance(&self, maintenance_bps: u32, maintenance_over_fees_bps: i64) -> Result<()> {
        let bps = BPS_DENOMINATOR as i128;
        // band·10⁴ < (maintenance − fees)·10⁴ + maintenance·buffer, all small integers.
        let band = self.book_liquidation_band_bps as i128 * bps;
        let allowance =
            maintenance_over_fees_bps as i128 * bps + maintenance_bps as i128 * self.liquidation_buffer_bps as i128;
        require!(
            self.max_fill_deviation_bps < maintenance_bps && band < allowance,
            BulwarkError::BandNotBelowMaintenance
        );
        Ok(())
    }
}

/// `maintenance margin − liquidation fee − taker fee` of a market, in bps.
pub fn maintenance_over_fees_bps(params: &MarketParams) -> i64 {
    params.maintenance_margin_bps as i64 - params.liquidation_fee_bps as i64 - params.taker_fee_bps as i64
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
    /// When the guardian paused the clearinghouse (0 while active): at unpause the paused time
    /// is added to a pending change's timelock, so users get all of it to exit.
    pub paused_since_unix: i64,
    /// When a tighter withdrawal breaker last applied at once: a risk-raising change may be
    /// proposed only a full timelock later, so exits are never narrowed just before one.
    pub breaker_tightened_unix: i64,
    /// Lowest maintenance margin any market of this clearinghouse has been listed or set with
    /// (0: none listed yet). Only ever falls, so a waterfall checked against it is safe for every
    /// market without loading them.
    pub min_maintenance_margin_bps: u32,
    /// Lowest `maintenance margin − liquidation fee − taker fee` of any market, ever (bps).
    pub min_maintenance_over_fees_bps: i32,
    /// When the guardian paused the market a pending `SetMarketRisk` targets (0 if it has not):
    /// that market's paused time is added to the change's timelock the same way.
    pub target_market_paused_since_unix: i64,
    /// Markets the guardian has paused now, and since when at least one has been: a change to
    /// the whole clearinghouse (its oracle, waterfall, roles, breaker, timelock) waits while any
    /// is, and that time does not count toward its timelock.
    pub markets_paused_since_unix: i64,
    pub paused_market_count: u16,
    pub padding2: [u8; 6],
    /// Deficits neither insurance nor winners' profits could pay, written off, all-time: the
    /// collateral vault holds this much less than the balances and fee pool it owes.
    pub bad_debt_total: u64,
    /// Part of `insurance_balance` promised to open ADL rounds (each round's `insurance_pays`):
    /// nothing else may spend it, and no staker may take it out.
    pub insurance_reserved: u64,
    pub reserved: [u8; 128],
}
const_assert_size!(Clearinghouse, 1080);

impl Clearinghouse {
    /// Insurance not promised to an open ADL round: what payouts, new rounds and stakers'
    /// share values may count on.
    pub fn insurance_available(&self) -> u64 {
        self.insurance_balance.saturating_sub(self.insurance_reserved)
    }

    /// Seeds (without the bump) the clearinghouse PDA signs with.
    pub fn seed_parts(&self) -> (Pubkey, Pubkey, [u8; 2], [u8; 1]) {
        (self.creator, self.collateral_mint, self.id.to_le_bytes(), [self.bump])
    }

    pub fn is_paused(&self) -> bool {
        self.status == CLEARINGHOUSE_PAUSED
    }

    /// Fold a market's (listed or changed) risk into the all-time summary the waterfall is
    /// checked against. The summary only ever tightens, so it stays a safe bound for every
    /// market whatever changed since.
    pub fn record_market_risk(&mut self, params: &MarketParams) {
        let over_fees = maintenance_over_fees_bps(params).clamp(i32::MIN as i64, i32::MAX as i64) as i32;
        if self.min_maintenance_margin_bps == 0 {
            self.min_maintenance_margin_bps = params.maintenance_margin_bps;
            self.min_maintenance_over_fees_bps = over_fees;
        } else {
            self.min_maintenance_margin_bps = self.min_maintenance_margin_bps.min(params.maintenance_margin_bps);
            self.min_maintenance_over_fees_bps = self.min_maintenance_over_fees_bps.min(over_fees);
        }
    }

    /// `waterfall`'s bands against every market this clearinghouse has listed, through the
    /// summary (no market listed yet: nothing to check).
    pub fn check_waterfall_against_markets(&self, waterfall: &WaterfallParams) -> Result<()> {
        if self.min_maintenance_margin_bps == 0 {
            return Ok(());
        }
        waterfall
            .check_bands_below_maintenance(self.min_maintenance_margin_bps, self.min_maintenance_over_fees_bps as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waterfall() -> WaterfallParams {
        WaterfallParams {
            adl_grace_slots: 100,
            insurance_unstake_cooldown_seconds: 3_600,
            max_book_liquidation_reward: 10_000_000,
            liquidation_buffer_bps: 1_000,
            book_liquidation_band_bps: 200,
            book_liquidation_reward_bps: 2_000,
            max_fill_deviation_bps: 400,
            adl_nomination_slots: 4,
        }
    }

    fn market(maintenance: u32, liquidation_fee: u32, taker_fee: u32) -> MarketParams {
        MarketParams {
            maintenance_margin_bps: maintenance,
            liquidation_fee_bps: liquidation_fee,
            taker_fee_bps: taker_fee,
            ..bytemuck::Zeroable::zeroed()
        }
    }

    #[test]
    fn bands_below_maintenance() {
        let w = waterfall();
        // Deployment defaults: 200 + 250 + 10 = 460 < 500 × 1.1 = 550; fills 400 < 500.
        assert!(w.check_bands_below_maintenance(500, maintenance_over_fees_bps(&market(500, 250, 10))).is_ok());
        // The book band at the edge: 200 + 250 + 100 = 550 is not below 550.
        assert!(w.check_bands_below_maintenance(500, maintenance_over_fees_bps(&market(500, 250, 100))).is_err());
        assert!(w.check_bands_below_maintenance(500, maintenance_over_fees_bps(&market(500, 250, 99))).is_ok());
        // The fill band must be strictly below maintenance.
        assert!(WaterfallParams { max_fill_deviation_bps: 500, ..w }.check_bands_below_maintenance(500, 240).is_err());
        assert!(WaterfallParams { max_fill_deviation_bps: 499, ..w }.check_bands_below_maintenance(500, 240).is_ok());
        // No buffer: 200 + 250 + 10 < 500 still holds; a 300 band does not.
        let no_buffer = WaterfallParams { liquidation_buffer_bps: 0, ..w };
        assert!(no_buffer.check_bands_below_maintenance(500, 240).is_ok());
        assert!(WaterfallParams { book_liquidation_band_bps: 240, ..no_buffer }
            .check_bands_below_maintenance(500, 240)
            .is_err());
    }

    #[test]
    fn the_market_summary_only_tightens() {
        let mut ch: Clearinghouse = bytemuck::Zeroable::zeroed();
        assert!(ch
            .check_waterfall_against_markets(&WaterfallParams { max_fill_deviation_bps: 2_000, ..waterfall() })
            .is_ok());
        ch.record_market_risk(&market(500, 250, 10));
        assert_eq!((ch.min_maintenance_margin_bps, ch.min_maintenance_over_fees_bps), (500, 240));
        ch.record_market_risk(&market(800, 100, 5));
        assert_eq!((ch.min_maintenance_margin_bps, ch.min_maintenance_over_fees_bps), (500, 240));
        // A market with a lower maintenance margin and one with higher fees: each lowers its bound.
        ch.record_market_risk(&market(300, 50, 5));
        ch.record_market_risk(&market(1_000, 900, 100));
        assert_eq!((ch.min_maintenance_margin_bps, ch.min_maintenance_over_fees_bps), (300, 0));
        // Raising them again never loosens the summary.
        ch.record_market_risk(&market(2_000, 10, 0));
        assert_eq!((ch.min_maintenance_margin_bps, ch.min_maintenance_over_fees_bps), (300, 0));
        // 200·10⁴ < 0 + 300 × 1,000 = 3·10⁵? No: 2·10⁶ ≥ 3·10⁵.
        assert!(ch.check_waterfall_against_markets(&waterfall()).is_err());
        let narrow = WaterfallParams { book_liquidation_band_bps: 29, max_fill_deviation_bps: 299, ..waterfall() };
        assert!(ch.check_waterfall_against_markets(&narrow).is_ok());
    }
}
