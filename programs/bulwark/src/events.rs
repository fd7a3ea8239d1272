//! Events, versioned by name: a layout change ships as `...V2` beside `...V1`.

use anchor_lang::prelude::*;

/// Emit an event as `sol_log_data(discriminator ‖ borsh)`, exactly what `emit!` does on SBF.
/// Natively Anchor's `emit!` discards the data; this sends it to the syscall stubs, where the
/// test harness and the embedded bank put it into the transaction log.
pub fn emit_event<E: anchor_lang::Event>(event: E) {
    let data = event.data();
    #[cfg(target_os = "solana")]
    anchor_lang::solana_program::log::sol_log_data(&[&data]);
    #[cfg(not(target_os = "solana"))]
    solana_sysvar::program_stubs::sol_log_data(&[&data]);
}

#[event]
pub struct ClearinghouseInitializedV1 {
    pub clearinghouse: Pubkey,
    pub admin: Pubkey,
    pub guardian: Pubkey,
    pub collateral_mint: Pubkey,
    pub id: u16,
}

#[event]
pub struct MarginAccountCreatedV1 {
    pub clearinghouse: Pubkey,
    pub margin_account: Pubkey,
    pub owner: Pubkey,
    pub sub_account_id: u16,
}

#[event]
pub struct MarginAccountClosedV1 {
    pub clearinghouse: Pubkey,
    pub margin_account: Pubkey,
    pub owner: Pubkey,
}

#[event]
pub struct DelegateSetV1 {
    pub margin_account: Pubkey,
    pub delegate: Pubkey,
}

#[event]
pub struct DepositV1 {
    pub clearinghouse: Pubkey,
    pub margin_account: Pubkey,
    pub depositor: Pubkey,
    pub amount: u64,
    pub balance_after: u64,
}

#[event]
pub struct WithdrawV1 {
    pub clearinghouse: Pubkey,
    pub margin_account: Pubkey,
    pub amount: u64,
    pub balance_after: u64,
    pub window_net_outflow: u64,
}

#[event]
pub struct PriceFeedUpdatedV1 {
    pub price_feed: Pubkey,
    pub price: i64,
    pub conf: u64,
    pub ema_price: i64,
    pub exponent: i32,
    pub publish_time: i64,
    pub redemption_enabled: bool,
    pub reserve_ratio: i64,
}

#[event]
pub struct ParamChangeProposedV1 {
    pub clearinghouse: Pubkey,
    pub kind: u8,
    pub executable_unix: i64,
}

#[event]
pub struct ParamChangeAppliedV1 {
    pub clearinghouse: Pubkey,
    pub kind: u8,
    /// False when applied at once because it lowers risk.
    pub via_timelock: bool,
}

/// A pending change's timelock was pushed back by the time the clearinghouse spent paused.
#[event]
pub struct ParamChangeDelayedV1 {
    pub clearinghouse: Pubkey,
    pub kind: u8,
    pub executable_unix: i64,
    pub paused_seconds: i64,
}

#[event]
pub struct ParamChangeCancelledV1 {
    pub clearinghouse: Pubkey,
    pub kind: u8,
}

#[event]
pub struct ClearinghouseStatusChangedV1 {
    pub clearinghouse: Pubkey,
    pub status: u8,
    pub by: Pubkey,
}

#[event]
pub struct CollateralPriceV1 {
    pub clearinghouse: Pubkey,
    pub price: i64,
    pub market_price: i64,
    pub redemption_mode: u8,
    pub broken_reasons: u8,
    pub slot: u64,
}

#[event]
pub struct CollateralModeChangedV1 {
    pub clearinghouse: Pubkey,
    pub previous_mode: u8,
    pub mode: u8,
    pub broken_reasons: u8,
    pub market_price: i64,
    pub price: i64,
    pub slot: u64,
}

/// The collateral price's source changed (`state::COLLATERAL_PRICE_*`): into or out of a
/// fallback.
#[event]
pub struct CollateralPriceSourceChangedV1 {
    pub clearinghouse: Pubkey,
    pub previous_source: u8,
    pub source: u8,
    pub redemption_mode: u8,
    /// The price recorded.
    pub price: i64,
    /// When a usable market print was last seen.
    pub last_good_unix: i64,
    pub slot: u64,
}

/// A liquidation, ADL or status update priced a side market by the relaxed rule from a feed
/// that failed its checks (USD, `PRICE_PRECISION`).
#[event]
pub struct RelaxedOraclePriceV1 {
    pub market: Pubkey,
    pub usd_price: i64,
    pub usd_low: i64,
    pub usd_high: i64,
    pub slot: u64,
}

/// Why an order left the book without filling.
pub const CANCEL_REASON_USER: u8 = 0;
pub const CANCEL_REASON_IMMEDIATE_OR_CANCEL: u8 = 1;
pub const CANCEL_REASON_SELF_TRADE: u8 = 2;
pub const CANCEL_REASON_EXPIRED: u8 = 3;
pub const CANCEL_REASON_REDUCE_ONLY: u8 = 4;
/// Cancelled because the account is being liquidated or auto-deleveraged.
pub const CANCEL_REASON_LIQUIDATION: u8 = 5;
/// Cancelled when reached because its price was past the fill band on the taker's good side.
pub const CANCEL_REASON_PRICE_BAND: u8 = 6;
/// Cancelled when reached because the fill would have left its maker under margin: the maker
/// loses the order, never the book.
pub const CANCEL_REASON_MAKER_MARGIN: u8 = 7;
/// Evicted from a full side by a better-priced order (the worst-priced order goes).
pub const CANCEL_REASON_EVICTED: u8 = 8;
/// Pruned because it rests outside the resting band around the oracle TWAP.
pub const CANCEL_REASON_OUT_OF_BAND: u8 = 9;
/// A delegate's order reached at a price worse than the oracle for its account.
pub const CANCEL_REASON_DELEGATE_PRICE: u8 = 10;
/// A limit order's remainder still crossing the book when matching reached one of its
/// per-instruction budgets (fills, stale removals, margin refusals): not rested, not refused.
pub const CANCEL_REASON_MATCH_BUDGET: u8 = 11;

#[event]
pub struct MarketListedV1 {
    pub clearinghouse: Pubkey,
    pub market: Pubkey,
    pub index: u16,
    pub activates_unix: i64,
}

#[event]
pub struct MarketStatusChangedV1 {
    pub market: Pubkey,
    pub status: u8,
}

#[event]
pub struct OrderPlacedV1 {
    pub market: Pubkey,
    pub margin_account: Pubkey,
    pub order_id: u64,
    pub client_order_id: u64,
    pub side: u8,
    pub price_ticks: u64,
    pub base_lots: u64,
    pub expiry_unix: i64,
}

#[event]
pub struct OrderCancelledV1 {
    pub market: Pubkey,
    pub margin_account: Pubkey,
    pub order_id: u64,
    pub side: u8,
    pub base_lots: u64,
    pub reason: u8,
}

#[event]
pub struct FillV1 {
    pub market: Pubkey,
    pub maker: Pubkey,
    pub taker: Pubkey,
    pub maker_order_id: u64,
    /// The taker's side.
    pub taker_side: u8,
    pub price_ticks: u64,
    pub base_lots: u64,
    pub quote: u64,
    pub taker_fee: i64,
    pub maker_fee: i64,
}

#[event]
pub struct FundingUpdatedV1 {
    pub market: Pubkey,
    pub funding_per_lot: i64,
    pub periods: i64,
    pub cumulative_funding_per_lot: i64,
    pub mark_twap: i64,
    pub oracle_twap: i64,
}

/// `update_funding` between due times: the oracle and mark sampled into the TWAPs.
#[event]
pub struct FundingSampledV1 {
    pub market: Pubkey,
    pub oracle_price: i64,
    pub mark: i64,
    /// Samples since funding last accrued.
    pub samples: u32,
}

/// `LiquidationV1::kind` values.
pub const LIQUIDATION_KIND_TAKEOVER: u8 = 0;
pub const LIQUIDATION_KIND_BOOK: u8 = 1;

/// One liquidation step. `base_lots` is what the liquidated account closed (signed: a sale of
/// a long is negative); `quote` what changed hands at the oracle (takeover) or in the book.
#[event]
pub struct LiquidationV1 {
    pub clearinghouse: Pubkey,
    pub market: Pubkey,
    pub margin_account: Pubkey,
    /// The liquidator's (takeover) or cranker's (book) margin account.
    pub liquidator: Pubkey,
    pub kind: u8,
    pub base_lots: i64,
    pub oracle_price: i64,
    pub quote: u64,
    pub fee: u64,
    pub liquidator_reward: u64,
    pub insurance_fee: u64,
    pub equity_before: i64,
    pub equity_after: i64,
    pub maintenance_after: i64,
    /// Whether the account is still flagged as being liquidated.
    pub still_liquidating: bool,
}

/// A margin account's liquidation flags changed.
#[event]
pub struct LiquidationStatusV1 {
    pub margin_account: Pubkey,
    pub status_flags: u8,
    pub liquidatable_since_slot: u64,
    pub equity: i64,
    pub maintenance_requirement: i64,
}

/// The insurance vault paid an account's deficit; the account ends at zero.
#[event]
pub struct InsurancePayoutV1 {
    pub clearinghouse: Pubkey,
    pub margin_account: Pubkey,
    pub amount: u64,
    pub insurance_balance_after: u64,
}

/// One ADL fill: `base_lots` of the target's position closed against `counterparty` for
/// `quote`, which is the oracle value plus (target long) or minus (target short) `haircut`.
#[event]
pub struct AdlFillV1 {
    pub clearinghouse: Pubkey,
    pub market: Pubkey,
    pub target: Pubkey,
    pub counterparty: Pubkey,
    /// Target's closing size, signed like a fill (a sale of a long is negative).
    pub base_lots: i64,
    pub oracle_price: i64,
    pub quote: u64,
    pub haircut: u64,
    pub score: u128,
    /// Whole-account shortfall figures at the start of this instruction.
    pub deficit: u64,
    pub insurance_pays: u64,
    pub uncovered: u64,
    /// This market's share of `uncovered` (by notional), handed out over its position.
    pub market_uncovered: u64,
}

/// An ADL fill whose share of the uncovered shortfall was more than the counterparty could give
/// from profit (or, against a short target, more than the lots' value): it paid `haircut`, and
/// `share − haircut` stays in the shortfall for the fills after it.
#[event]
pub struct AdlHaircutCappedV1 {
    pub target: Pubkey,
    pub counterparty: Pubkey,
    pub share: u64,
    pub haircut: u64,
    /// The counterparty's unrealised profit at the oracle on the lots the fill closes.
    pub profit_on_fill: u64,
}

/// A ranked counterparty that could not pay its haircut without going below zero equity.
#[event]
pub struct AdlCounterpartySkippedV1 {
    pub target: Pubkey,
    pub counterparty: Pubkey,
    pub score: u128,
}

#[event]
pub struct InsuranceStakedV1 {
    pub clearinghouse: Pubkey,
    pub stake: Pubkey,
    pub amount: u64,
    pub shares: u64,
    pub total_shares: u64,
    pub insurance_balance: u64,
}

#[event]
pub struct UnstakeRequestedV1 {
    pub stake: Pubkey,
    pub shares: u64,
    pub available_unix: i64,
}

#[event]
pub struct InsuranceUnstakedV1 {
    pub clearinghouse: Pubkey,
    pub stake: Pubkey,
    pub shares: u64,
    pub amount: u64,
    pub total_shares: u64,
    pub insurance_balance: u64,
}

/// The fee pool moved from the collateral vault to the insurance vault.
#[event]
pub struct FeesSweptV1 {
    pub clearinghouse: Pubkey,
    pub amount: u64,
    pub insurance_balance: u64,
}

/// An unstake request: its shares, their value now (the most the claim will pay) and the
/// window in which it may be claimed.
#[event]
pub struct UnstakeRequestedV2 {
    pub stake: Pubkey,
    pub shares: u64,
    pub request_value: u64,
    pub available_unix: i64,
    pub claim_deadline_unix: i64,
}

/// An unstake claim: `amount` is the lower of `request_value` and `claim_value` (the shares'
/// value at the claim); the difference stays in the vault.
#[event]
pub struct InsuranceUnstakedV2 {
    pub clearinghouse: Pubkey,
    pub stake: Pubkey,
    pub shares: u64,
    pub request_value: u64,
    pub claim_value: u64,
    pub amount: u64,
    pub total_shares: u64,
    pub insurance_balance: u64,
}

/// An ADL round opened (or restarted at a new price): the frozen price, lots and shortfall,
/// and the last slot nominations are taken.
#[event]
pub struct AdlRoundOpenedV1 {
    pub clearinghouse: Pubkey,
    pub market: Pubkey,
    pub target: Pubkey,
    pub round: Pubkey,
    pub price: i64,
    pub target_lots: i64,
    /// Whole-account deficit, and this market's shares (by notional) of what insurance pays
    /// of it (set aside for the round) and of the rest, `U`.
    pub deficit: u64,
    pub insurance_pays: u64,
    pub uncovered: u64,
    pub window_end_slot: u64,
    /// 0 when the round first opens; then how many times it restarted.
    pub restart_count: u16,
}

/// A winner entered an ADL round's queue at `position` (0: first to pay).
#[event]
pub struct AdlNominatedV1 {
    pub round: Pubkey,
    pub margin_account: Pubkey,
    pub score: u128,
    pub position: u8,
    pub nominated_by: Pubkey,
}

/// The queue ran out before the target was flat: nominations are taken again until
/// `window_end_slot`.
#[event]
pub struct AdlWindowReopenedV1 {
    pub round: Pubkey,
    pub remaining_lots: u64,
    pub uncovered_left: u64,
    pub window_end_slot: u64,
}

/// An ADL round ended: `reason` 0 = the target is flat in the market, 1 = it is no longer
/// eligible (healthy again, or insurance can pay).
#[event]
pub struct AdlRoundClosedV1 {
    pub round: Pubkey,
    pub target: Pubkey,
    pub reason: u8,
    pub haircut_total: u64,
    pub fill_count: u32,
    pub restart_count: u16,
    pub opened_slot: u64,
    pub closed_slot: u64,
    pub target_liquidatable_since_slot: u64,
}

/// A flat account's debt that neither its balance, the insurance vault nor the winners'
/// profits could pay, written off: the clearinghouse's vault holds this much less than it owes.
#[event]
pub struct BadDebtRecordedV1 {
    pub clearinghouse: Pubkey,
    pub margin_account: Pubkey,
    pub amount: u64,
    pub bad_debt_total: u64,
}

/// A queued winner passed over for now: capped at its profit it would have closed every lot
/// still open, leaving the rest of the shortfall nowhere to go while other winners are queued.
/// It stays queued and pays after them.
#[event]
pub struct AdlNomineeDeferredV1 {
    pub round: Pubkey,
    pub margin_account: Pubkey,
    pub score: u128,
}
