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
}
