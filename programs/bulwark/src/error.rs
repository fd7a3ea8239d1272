use anchor_lang::prelude::*;

/// Every failure Bulwark can report. Codes are stable: clients match on them
/// (the keeper treats the `*NothingToDo` family as lost races, not failures).
#[error_code]
pub enum BulwarkError {
    // --- arithmetic -------------------------------------------------------
    #[msg("Arithmetic overflow")]
    MathOverflow,
    #[msg("Division by zero")]
    DivisionByZero,

    // --- authority --------------------------------------------------------
    #[msg("Signer is not the clearinghouse admin")]
    NotAdmin,
    #[msg("Signer is not the clearinghouse guardian")]
    NotGuardian,
    #[msg("Signer is neither the margin account owner nor its delegate")]
    NotOwnerOrDelegate,
    #[msg("Only the margin account owner may do this")]
    NotOwner,
    #[msg("Signer is not the price feed authority")]
    NotFeedAuthority,

    // --- clearinghouse / accounts ----------------------------------------
    #[msg("The clearinghouse is paused")]
    ClearinghousePaused,
    #[msg("The clearinghouse is already in the requested status")]
    StatusUnchanged,
    #[msg("Account belongs to a different clearinghouse")]
    ClearinghouseMismatch,
    #[msg("Token account mint is not the clearinghouse collateral mint")]
    CollateralMintMismatch,
    #[msg("Vault account is not this clearinghouse's vault")]
    VaultMismatch,
    #[msg("Amount must be greater than zero")]
    ZeroAmount,
    #[msg("Withdrawal exceeds the account's collateral balance")]
    InsufficientCollateral,
    #[msg("Equity would fall below the initial margin requirement")]
    InitialMarginBreached,
    #[msg("Withdrawal would exceed the net outflow allowed in this circuit-breaker window")]
    WithdrawalCircuitBreakerTripped,
    #[msg("Margin account still holds collateral, positions or orders")]
    MarginAccountNotEmpty,
    #[msg("A price for every open position's market must be supplied")]
    MissingMarketAccount,
    #[msg("Invalid parameter")]
    InvalidParameter,
    #[msg("The delegate cannot be the owner")]
    DelegateIsOwner,
    #[msg("The same account was passed in two roles")]
    DuplicateAccount,

    // --- parameter changes ------------------------------------------------
    #[msg("Another parameter change is already pending; cancel or execute it first")]
    ParamChangePending,
    #[msg("No parameter change is pending")]
    NoPendingParamChange,
    #[msg("The timelock on this parameter change has not elapsed")]
    TimelockNotElapsed,
    #[msg("Stored parameter change could not be decoded")]
    ParamChangeCorrupt,
    #[msg("The parameter change was not executed within its window; cancel it and propose again")]
    ParamChangeExpired,

    // --- oracles ----------------------------------------------------------
    #[msg("Oracle account is not the configured feed")]
    OracleAccountMismatch,
    #[msg("Oracle account is not owned by the expected oracle program")]
    OracleWrongOwner,
    #[msg("Oracle account data could not be decoded")]
    OracleInvalidData,
    #[msg("Oracle account missing")]
    OracleAccountMissing,
    #[msg("Oracle price is zero or negative")]
    OracleNonPositivePrice,
    #[msg("Oracle price is stale")]
    OracleStale,
    #[msg("Oracle confidence interval is too wide")]
    OracleConfidenceTooWide,
    #[msg("Oracle price is too far from its moving average")]
    OracleTooVolatile,
    #[msg("Pyth update is not fully verified")]
    OracleNotFullyVerified,
    #[msg("Pyth update carries a different feed id")]
    OracleFeedIdMismatch,
    #[msg("Oracle configuration is invalid")]
    InvalidOracleConfig,
    #[msg("Collateral price not refreshed in this slot: call refresh_collateral_price first")]
    CollateralPriceNotRefreshed,

    // --- markets and trading ----------------------------------------------
    #[msg("Market parameters are invalid")]
    InvalidMarketParams,
    #[msg("Market index must be the clearinghouse's next index")]
    MarketIndexMismatch,
    #[msg("Market belongs to another clearinghouse or is not the one expected")]
    MarketMismatch,
    #[msg("Market is not listed yet")]
    MarketNotActive,
    #[msg("Market listing is not pending")]
    MarketNotPending,
    #[msg("Market is paused or settling")]
    MarketNotTradable,
    #[msg("Market is reduce-only")]
    MarketReduceOnly,
    #[msg("Order price or size is invalid")]
    InvalidOrder,
    #[msg("Order size is below the market minimum")]
    OrderBelowMinimumSize,
    #[msg("Post-only order would cross the book")]
    PostOnlyWouldCross,
    #[msg("Order book side is full")]
    OrderBookFull,
    #[msg("Too many open orders in this market")]
    TooManyOpenOrders,
    #[msg("All position slots are in use")]
    TooManyPositions,
    #[msg("Reduce-only order would increase or flip the position")]
    ReduceOnlyWouldIncrease,
    #[msg("Order not found")]
    OrderNotFound,
    #[msg("Order has expired")]
    OrderExpired,
    #[msg("Open interest cap exceeded")]
    OpenInterestCapExceeded,
    #[msg("Remaining account is not a margin account of this clearinghouse")]
    InvalidMakerAccount,
    #[msg("Nothing to do: funding for this period is already settled")]
    FundingNotDue,
    #[msg("Nothing to do: no expired order can be pruned with the accounts passed")]
    NothingToPrune,
    #[msg("Nothing to do: the account is not liquidatable")]
    AccountNotLiquidatable,
    #[msg("Nothing to do: the account's liquidation status is already current")]
    LiquidationStatusUnchanged,
    #[msg("Account has no position in this market")]
    NoPositionInMarket,
    #[msg("Liquidator would not meet its initial margin after the takeover")]
    LiquidatorInsufficientMargin,
    #[msg("No resting order within the liquidation price band")]
    NoLiquidityInBand,
    #[msg("The deficit exceeds the insurance vault: the account is ADL-eligible")]
    InsufficientInsurance,
    #[msg("ADL target meets its maintenance requirement")]
    AdlTargetHealthy,
    #[msg("The insurance vault can cover this deficit: liquidate instead")]
    InsuranceCanCover,
    #[msg("ADL target has not been liquidatable for the grace period")]
    AdlGraceNotElapsed,
    #[msg("ADL counterparty has no position in this market")]
    AdlCounterpartyNoPosition,
    #[msg("ADL counterparty is on the same side as the target")]
    AdlCounterpartySameSide,
    #[msg("ADL counterparty's position is not in profit")]
    AdlCounterpartyNotInProfit,
    #[msg("ADL counterparties are not in non-increasing score order")]
    AdlCounterpartyOutOfOrder,
    #[msg("Too many ADL counterparties in one instruction")]
    TooManyAdlCounterparties,
    #[msg("No ADL counterparty passed could take any of the position")]
    AdlNoFill,
    #[msg("Stake is worth less than one insurance share")]
    InsuranceStakeTooSmall,
    #[msg("The insurance vault is depleted: its shares are worthless and cannot be diluted")]
    InsuranceVaultDepleted,
    #[msg("Unstake request exceeds the staked shares or is zero")]
    InvalidUnstakeRequest,
    #[msg("No unstake request is pending")]
    NoUnstakeRequest,
    #[msg("Unstake cooldown has not elapsed")]
    UnstakeCooldownActive,
    #[msg("Order would rest crossing the book: pass the makers it crosses, or lower the limit")]
    RestingOrderWouldCross,
    #[msg("Unstake request expired: request again")]
    UnstakeRequestExpired,
    #[msg("A resting order's price must lie within the resting band around the oracle")]
    OrderPriceOutOfBand,
    #[msg("The fill would leave the account under margin: below its initial requirement with a lower equity/maintenance ratio, or below zero")]
    FillBreachesMargin,
    #[msg("A price band (plus fees) does not sit below a market's maintenance margin")]
    BandNotBelowMaintenance,
    #[msg("The withdrawal breaker was tightened within the last timelock: propose risk-raising changes later")]
    BreakerRecentlyTightened,
    #[msg("Nothing to do: the fee pool is empty")]
    FeePoolEmpty,
    #[msg("The market is paused: a pending change to it waits until it resumes")]
    MarketPaused,
    #[msg("The first stake of a share epoch must exceed the locked insurance shares it pays for")]
    InsuranceFirstStakeTooSmall,
    #[msg("Collateral price is a fallback (its market print is unusable): only reduce-only orders, liquidations and ADL may proceed")]
    CollateralPriceFallback,
    #[msg("The winners passed cannot carry this close's share of the shortfall from their profit: pass winners with more profit")]
    AdlShortfallNotAbsorbed,
    #[msg("The ADL queue is full and this account ranks below its last entry: nominate a higher-ranked winner")]
    AdlNominationNotRanked,
    #[msg("The ADL round's nomination window has closed: execute it, or nominate when it reopens")]
    AdlNominationWindowClosed,
    #[msg("The ADL round's nomination window is still open: execute after it closes")]
    AdlNominationWindowOpen,
    #[msg("ADL runs in rounds on this clearinghouse (nomination window configured): use begin_adl, nominate_adl, execute_adl")]
    AdlRoundRequired,
    #[msg("The ADL round belongs to another market, target or clearinghouse")]
    AdlRoundMismatch,
    #[msg("Pass the ADL queue's first entries, in the queue's order")]
    AdlQueueOrder,
    #[msg("Insurance is set aside for open ADL rounds: claim the unstake after they close")]
    InsuranceReservedForAdl,
    #[msg("This account has an open ADL round: execute it until it closes")]
    AdlRoundOpen,
}
