// Values from programs/bulwark/src/constants.rs, state/*.rs and events.rs that the IDL does
// not carry. Kept to what the dashboard uses.

/** Prices are integers in 1e-6 of the quote per whole base unit. */
export const PRICE_PRECISION = 1_000_000n;
export const PRICE_DECIMALS = 6;
export const BPS_DENOMINATOR = 10_000n;

export const SEEDS = {
    clearinghouse: 'clearinghouse',
    collateralVault: 'collateral_vault',
    insuranceVault: 'insurance_vault',
    marginAccount: 'margin_account',
    priceFeed: 'price_feed',
    market: 'market',
    orderBook: 'order_book',
    insuranceStake: 'insurance_stake',
} as const;

export const MAX_POSITIONS = 8;
export const MAX_ORDERS_PER_SIDE = 32;
export const MAX_MAKER_TOUCHES_PER_ORDER = 8;
export const MAX_PRICED_MARKETS = 16;
export const MAX_ORACLE_EXPONENT = 18;
export const MAX_ORACLE_FUTURE_SKEW_SECONDS = 10n;
export const MIN_FUNDING_SAMPLES_PER_PERIOD = 4;

export const SIDE_BID = 0;
export const SIDE_ASK = 1;

export const ORDER_TYPE = { limit: 0, postOnly: 1, immediateOrCancel: 2, market: 3 } as const;

export const ORDER_FLAG_REDUCE_ONLY = 1 << 0;
export const ORDER_FLAG_DELEGATE = 1 << 1;

export const ACCOUNT_FLAG_BEING_LIQUIDATED = 1 << 0;
export const ACCOUNT_FLAG_BANKRUPT = 1 << 1;

export const MARKET_STATUS_NAMES: Record<number, string> = {
    0: 'pending',
    1: 'active',
    2: 'reduce-only',
    3: 'settling',
    4: 'paused',
};

export const CLEARINGHOUSE_STATUS_NAMES: Record<number, string> = { 0: 'active', 1: 'paused' };

export const ORACLE_SOURCE = { fixed: 0, manual: 1, pythLegacy: 2, pythPull: 3 } as const;
export const ORACLE_SOURCE_NAMES: Record<number, string> = {
    0: 'fixed',
    1: 'manual feed',
    2: 'Pyth (legacy)',
    3: 'Pyth (pull)',
};

export const COLLATERAL_MODE = { market: 0, redemptionAware: 1 } as const;
export const COLLATERAL_MODE_NAMES: Record<number, string> = { 0: 'market price', 1: 'redemption-aware' };

/** `CollateralOracleState::redemption_mode` (math/redemption.rs). */
export const REDEMPTION_MODE_NAMES: Record<number, string> = { 0: 'not yet read', 1: 'healthy', 2: 'broken' };

/** `CollateralOracleState::price_source`. */
export const COLLATERAL_PRICE_SOURCE_NAMES: Record<number, string> = {
    0: 'market print',
    1: 'soft floor (healthy mode, print unusable)',
    2: 'last good price (print unusable)',
};

/** `BROKEN_*` bits of `CollateralOracleState::broken_reasons`. */
export const BROKEN_REASONS: ReadonlyArray<[number, string]> = [
    [1 << 0, 'attestation stale'],
    [1 << 1, 'redemption disabled'],
    [1 << 2, 'reserves below 1.0'],
    [1 << 3, 'market print below the hard band'],
    [1 << 4, 'attested rate out of bounds'],
];

export const CANCEL_REASON_NAMES: Record<number, string> = {
    0: 'cancelled by user',
    1: 'immediate-or-cancel remainder',
    2: 'self-trade',
    3: 'expired',
    4: 'reduce-only with nothing to reduce',
    5: 'liquidation',
    6: 'outside the fill band',
    7: 'maker under margin',
    8: 'evicted by a better order',
    9: 'outside the resting band',
    10: 'delegate price',
    11: 'match budget used up',
};

/** Compute units each instruction may use (sdk/src/compute.rs `BUDGETS`), plus the budget ix. */
export const COMPUTE_BUDGETS: Record<string, number> = {
    RefreshCollateralPrice: 10_000,
    CreateMarginAccount: 45_000,
    Deposit: 15_000,
    Withdraw: 65_000,
    PlaceOrder: 560_000,
    CancelOrder: 10_000,
    CancelAllOrders: 20_000,
    // Not a Bulwark instruction: an idempotent associated-token-account creation, with room.
    CreateAssociatedTokenAccount: 40_000,
};
export const COMPUTE_BUDGET_ALLOWANCE = 300;
