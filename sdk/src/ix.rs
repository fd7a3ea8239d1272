//! Typed builders for every Bulwark instruction. Accounts come from the program's own Anchor
//! `accounts` structs, so a renamed or reordered account fails to compile here, not on chain.
//! Remaining accounts follow each handler's documented order.

use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::{AccountMeta, Instruction};
use anchor_lang::{InstructionData, ToAccountMetas};
use bulwark::controller::orders::PlaceOrderArgs;
use bulwark::instructions::{InitializeClearinghouseArgs, PriceFeedUpdate};
use bulwark::state::{MarketParams, OracleConfig, ParamChange};

use crate::pda;

pub const TOKEN_PROGRAM_ID: Pubkey = anchor_spl::token::ID;
pub const SYSTEM_PROGRAM_ID: Pubkey = anchor_lang::solana_program::system_program::ID;

/// The addresses every clearinghouse-wide instruction needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClearinghouseKeys {
    pub key: Pubkey,
    pub collateral_vault: Pubkey,
    pub insurance_vault: Pubkey,
}

impl ClearinghouseKeys {
    /// The clearinghouse at `key` with its PDA vaults.
    pub fn new(key: Pubkey) -> Self {
        Self { key, collateral_vault: pda::collateral_vault(&key), insurance_vault: pda::insurance_vault(&key) }
    }
}

/// The addresses every market instruction needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarketKeys {
    pub key: Pubkey,
    pub order_book: Pubkey,
    /// The market's configured price feed.
    pub oracle: Pubkey,
    pub index: u16,
}

impl MarketKeys {
    pub fn new(clearinghouse: &Pubkey, index: u16, oracle: Pubkey) -> Self {
        let key = pda::market(clearinghouse, index);
        Self { key, order_book: pda::order_book(&key), oracle, index }
    }

    /// Keys of a decoded market (its feed is read from its oracle configuration).
    pub fn of(key: Pubkey, market: &bulwark::state::Market) -> Self {
        Self { key, order_book: market.order_book, oracle: market.oracle.feed, index: market.index }
    }

    /// The `(market, oracle)` pair instructions take in their remaining accounts.
    pub fn price_pair(&self) -> [Pubkey; 2] {
        [self.key, self.oracle]
    }
}

fn build(accounts: impl ToAccountMetas, data: impl InstructionData) -> Instruction {
    Instruction { program_id: bulwark::ID, accounts: accounts.to_account_metas(None), data: data.data() }
}

/// `instruction` with `remaining` appended as writable remaining accounts.
pub fn with_remaining(mut instruction: Instruction, remaining: &[Pubkey]) -> Instruction {
    instruction.accounts.extend(remaining.iter().map(|k| AccountMeta::new(*k, false)));
    instruction
}

/// Mark `keys` read-only among the instruction's remaining accounts (those after
/// `fixed_accounts`). Builders pass remaining accounts writable; the price pairs are only
/// read, and write-locking other markets and oracle feeds would serialise unrelated
/// transactions behind this one.
pub fn readonly_remaining(mut instruction: Instruction, fixed_accounts: usize, keys: &[Pubkey]) -> Instruction {
    for meta in instruction.accounts.iter_mut().skip(fixed_accounts) {
        if keys.contains(&meta.pubkey) {
            meta.is_writable = false;
        }
    }
    instruction
}

/// `(market, oracle)` pairs for `markets`, flattened into remaining-account order.
pub fn price_pairs(markets: &[MarketKeys]) -> Vec<Pubkey> {
    markets.iter().flat_map(|m| m.price_pair()).collect()
}

/// The most `(market, oracle)` pairs a matching instruction (`place_order`,
/// `liquidate_against_book`) reads from the front of its remaining accounts.
pub const MAX_PRICE_PAIRS: usize = 16;

/// A maker passed to a matching instruction, with the markets its margin account holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MakerMarkets {
    pub margin_account: Pubkey,
    /// Every market the account has a position slot in (`MarginAccount::open_positions`).
    pub markets: Vec<u16>,
}

/// Remaining accounts of a matching instruction on `market_index`: the price pairs of every
/// other market the taker or a passed maker holds (the taker's first, then each maker's new
/// ones, in order), then the makers in book order. After each fill the program checks the
/// maker's whole account, so a maker whose markets are not all priced stops the matching: the
/// list ends before the first maker whose markets cannot be priced (`keys` knows no such
/// market) or would take the pairs past `MAX_PRICE_PAIRS`. `None` when the taker's own
/// markets cannot be priced.
pub fn matching_remaining(
    market_index: u16,
    taker_markets: &[u16],
    makers: &[MakerMarkets],
    keys: impl Fn(u16) -> Option<MarketKeys>,
) -> Option<Vec<Pubkey>> {
    let mut priced: Vec<MarketKeys> = Vec::new();
    let add = |markets: &[u16], priced: &mut Vec<MarketKeys>| -> bool {
        let mut next = priced.clone();
        for &index in markets {
            if index == market_index || next.iter().any(|k| k.index == index) {
                continue;
            }
            match keys(index) {
                Some(k) => next.push(k),
                None => return false,
            }
        }
        let fits = next.len() <= MAX_PRICE_PAIRS;
        if fits {
            *priced = next;
        }
        fits
    };
    if !add(taker_markets, &mut priced) {
        return None;
    }
    let mut passed = Vec::new();
    for maker in makers {
        if !add(&maker.markets, &mut priced) {
            break; // the program stops at this maker; the rest would not be reached
        }
        passed.push(maker.margin_account);
    }
    let mut remaining = price_pairs(&priced);
    remaining.extend(passed);
    Some(remaining)
}

/// The instructions `build` makes from the longest prefix of `makers` (at least `min_makers`
/// of them) whose transaction, signed by `payer`, fits one packet; dropping makers from the
/// end keeps the rest valid, as the program matches them in order. `None` when `build` fails
/// or even `min_makers` do not fit.
pub fn fit_makers(
    makers: &[Pubkey],
    min_makers: usize,
    payer: &Pubkey,
    build: impl Fn(&[Pubkey]) -> Option<Vec<Instruction>>,
) -> Option<Vec<Instruction>> {
    let mut n = makers.len();
    loop {
        let instructions = build(&makers[..n])?;
        if crate::chain::transaction_size(&instructions, payer) <= crate::chain::PACKET_DATA_SIZE {
            return Some(instructions);
        }
        if n <= min_makers {
            return None;
        }
        n -= 1;
    }
}

// ---- clearinghouse and accounts -----------------------------------------------------------

pub fn initialize_clearinghouse_ix(admin: &Pubkey, mint: &Pubkey, args: InitializeClearinghouseArgs) -> Instruction {
    let ch = ClearinghouseKeys::new(pda::clearinghouse(admin, mint, args.id));
    build(
        bulwark::accounts::InitializeClearinghouse {
            admin: *admin,
            clearinghouse: ch.key,
            collateral_mint: *mint,
            collateral_vault: ch.collateral_vault,
            insurance_vault: ch.insurance_vault,
            token_program: TOKEN_PROGRAM_ID,
            system_program: SYSTEM_PROGRAM_ID,
        },
        bulwark::instruction::InitializeClearinghouse { args },
    )
}

pub fn create_margin_account_ix(
    clearinghouse: &Pubkey,
    owner: &Pubkey,
    payer: &Pubkey,
    sub_account_id: u16,
) -> Instruction {
    build(
        bulwark::accounts::CreateMarginAccount {
            owner: *owner,
            payer: *payer,
            clearinghouse: *clearinghouse,
            margin_account: pda::margin_account(clearinghouse, owner, sub_account_id),
            system_program: SYSTEM_PROGRAM_ID,
        },
        bulwark::instruction::CreateMarginAccount { sub_account_id },
    )
}

pub fn set_delegate_ix(owner: &Pubkey, margin_account: &Pubkey, delegate: Pubkey) -> Instruction {
    build(
        bulwark::accounts::SetDelegate { owner: *owner, margin_account: *margin_account },
        bulwark::instruction::SetDelegate { delegate },
    )
}

/// Deposit from `source` (a token account of the collateral mint that `authority` controls).
pub fn deposit_ix(
    authority: &Pubkey,
    clearinghouse: &Pubkey,
    margin_account: &Pubkey,
    collateral_vault: &Pubkey,
    source: &Pubkey,
    amount: u64,
) -> Instruction {
    build(
        bulwark::accounts::Deposit {
            authority: *authority,
            clearinghouse: *clearinghouse,
            margin_account: *margin_account,
            collateral_vault: *collateral_vault,
            source: *source,
            token_program: TOKEN_PROGRAM_ID,
        },
        bulwark::instruction::Deposit { amount },
    )
}

/// Withdraw to `destination`. An account with positions must append `price_pairs` of every
/// market it holds as remaining accounts.
pub fn withdraw_ix(
    owner: &Pubkey,
    clearinghouse: &Pubkey,
    margin_account: &Pubkey,
    collateral_vault: &Pubkey,
    destination: &Pubkey,
    amount: u64,
) -> Instruction {
    build(
        bulwark::accounts::Withdraw {
            owner: *owner,
            clearinghouse: *clearinghouse,
            margin_account: *margin_account,
            collateral_vault: *collateral_vault,
            destination: *destination,
            token_program: TOKEN_PROGRAM_ID,
        },
        bulwark::instruction::Withdraw { amount },
    )
}

pub fn close_margin_account_ix(
    owner: &Pubkey,
    clearinghouse: &Pubkey,
    margin_account: &Pubkey,
    rent_receiver: &Pubkey,
) -> Instruction {
    build(
        bulwark::accounts::CloseMarginAccount {
            owner: *owner,
            clearinghouse: *clearinghouse,
            margin_account: *margin_account,
            rent_receiver: *rent_receiver,
        },
        bulwark::instruction::CloseMarginAccount {},
    )
}

// ---- oracles ------------------------------------------------------------------------------

pub fn create_price_feed_ix(
    authority: &Pubkey,
    payer: &Pubkey,
    feed_id: u64,
    exponent: i32,
    ema_window_seconds: u32,
) -> Instruction {
    build(
        bulwark::accounts::CreatePriceFeed {
            authority: *authority,
            payer: *payer,
            price_feed: pda::price_feed(authority, feed_id),
            system_program: SYSTEM_PROGRAM_ID,
        },
        bulwark::instruction::CreatePriceFeed { feed_id, exponent, ema_window_seconds },
    )
}

pub fn update_price_feed_ix(authority: &Pubkey, price_feed: &Pubkey, update: PriceFeedUpdate) -> Instruction {
    build(
        bulwark::accounts::UpdatePriceFeed { authority: *authority, price_feed: *price_feed },
        bulwark::instruction::UpdatePriceFeed { update },
    )
}

pub fn refresh_collateral_price_ix(
    clearinghouse: &Pubkey,
    market_feed: Option<Pubkey>,
    redemption_rate_feed: Option<Pubkey>,
    redemption_health_feed: Option<Pubkey>,
) -> Instruction {
    build(
        bulwark::accounts::RefreshCollateralPrice {
            clearinghouse: *clearinghouse,
            market_feed,
            redemption_rate_feed,
            redemption_health_feed,
        },
        bulwark::instruction::RefreshCollateralPrice {},
    )
}

/// The collateral refresh a clearinghouse needs in the same slot as any priced instruction,
/// or `None` when its collateral is a fixed price.
pub fn collateral_refresh_for(key: &Pubkey, clearinghouse: &bulwark::state::Clearinghouse) -> Option<Instruction> {
    use bulwark::state::{COLLATERAL_MODE_MARKET, COLLATERAL_MODE_REDEMPTION_AWARE, ORACLE_SOURCE_FIXED};
    let config = &clearinghouse.collateral_oracle;
    if config.mode == COLLATERAL_MODE_MARKET && config.market.source == ORACLE_SOURCE_FIXED {
        return None;
    }
    let market_feed = (config.market.source != ORACLE_SOURCE_FIXED).then_some(config.market.feed);
    let aware = config.mode == COLLATERAL_MODE_REDEMPTION_AWARE;
    Some(refresh_collateral_price_ix(
        key,
        market_feed,
        aware.then_some(config.redemption_rate_feed),
        aware.then_some(config.redemption_health_feed),
    ))
}

// ---- admin --------------------------------------------------------------------------------

pub fn propose_param_change_ix(admin: &Pubkey, clearinghouse: &Pubkey, change: ParamChange) -> Instruction {
    propose_market_param_change_ix(admin, clearinghouse, None, change)
}

pub fn propose_market_param_change_ix(
    admin: &Pubkey,
    clearinghouse: &Pubkey,
    market: Option<Pubkey>,
    change: ParamChange,
) -> Instruction {
    build(
        bulwark::accounts::AdminParamChange { admin: *admin, clearinghouse: *clearinghouse, market },
        bulwark::instruction::ProposeParamChange { change },
    )
}

pub fn execute_param_change_ix(executor: &Pubkey, clearinghouse: &Pubkey) -> Instruction {
    execute_market_param_change_ix(executor, clearinghouse, None)
}

pub fn execute_market_param_change_ix(
    executor: &Pubkey,
    clearinghouse: &Pubkey,
    market: Option<Pubkey>,
) -> Instruction {
    build(
        bulwark::accounts::ExecuteParamChange { executor: *executor, clearinghouse: *clearinghouse, market },
        bulwark::instruction::ExecuteParamChange {},
    )
}

pub fn cancel_param_change_ix(admin: &Pubkey, clearinghouse: &Pubkey) -> Instruction {
    build(
        bulwark::accounts::AdminParamChange { admin: *admin, clearinghouse: *clearinghouse, market: None },
        bulwark::instruction::CancelParamChange {},
    )
}

pub fn pause_ix(guardian: &Pubkey, clearinghouse: &Pubkey) -> Instruction {
    build(
        bulwark::accounts::GuardianSetStatus { guardian: *guardian, clearinghouse: *clearinghouse },
        bulwark::instruction::Pause {},
    )
}

pub fn unpause_ix(guardian: &Pubkey, clearinghouse: &Pubkey) -> Instruction {
    build(
        bulwark::accounts::GuardianSetStatus { guardian: *guardian, clearinghouse: *clearinghouse },
        bulwark::instruction::Unpause {},
    )
}

// ---- markets and orders -------------------------------------------------------------------

pub fn create_market_ix(
    admin: &Pubkey,
    clearinghouse: &Pubkey,
    index: u16,
    oracle: OracleConfig,
    params: MarketParams,
) -> Instruction {
    let market = pda::market(clearinghouse, index);
    build(
        bulwark::accounts::CreateMarket {
            admin: *admin,
            clearinghouse: *clearinghouse,
            market,
            order_book: pda::order_book(&market),
            system_program: SYSTEM_PROGRAM_ID,
        },
        bulwark::instruction::CreateMarket { index, oracle, params },
    )
}

pub fn activate_market_ix(market: &Pubkey) -> Instruction {
    build(bulwark::accounts::ActivateMarket { market: *market }, bulwark::instruction::ActivateMarket {})
}

pub fn set_market_status_ix(guardian: &Pubkey, clearinghouse: &Pubkey, market: &Pubkey, status: u8) -> Instruction {
    build(
        bulwark::accounts::SetMarketStatus { guardian: *guardian, clearinghouse: *clearinghouse, market: *market },
        bulwark::instruction::SetMarketStatus { status },
    )
}

/// Place an order. Remaining accounts (`matching_remaining`): price pairs of every other market
/// the account or a passed maker holds, then the margin accounts of the makers the order may
/// hit, in book order (`book::makers_crossing`).
pub fn place_order_ix(
    authority: &Pubkey,
    clearinghouse: &ClearinghouseKeys,
    margin_account: &Pubkey,
    market: &MarketKeys,
    args: PlaceOrderArgs,
    remaining: &[Pubkey],
) -> Instruction {
    with_remaining(
        build(
            bulwark::accounts::PlaceOrder {
                authority: *authority,
                clearinghouse: clearinghouse.key,
                margin_account: *margin_account,
                market: market.key,
                order_book: market.order_book,
                oracle: market.oracle,
                collateral_vault: clearinghouse.collateral_vault,
                insurance_vault: clearinghouse.insurance_vault,
                token_program: TOKEN_PROGRAM_ID,
            },
            bulwark::instruction::PlaceOrder { args },
        ),
        remaining,
    )
}

/// Cancel one order (`Some(id)`) or all of the account's orders in `market` (`None`).
pub fn cancel_order_ix(
    authority: &Pubkey,
    margin_account: &Pubkey,
    market: &MarketKeys,
    order_id: Option<u64>,
) -> Instruction {
    let accounts = bulwark::accounts::CancelOrders {
        authority: *authority,
        margin_account: *margin_account,
        market: market.key,
        order_book: market.order_book,
    };
    match order_id {
        Some(order_id) => build(accounts, bulwark::instruction::CancelOrder { order_id }),
        None => build(accounts, bulwark::instruction::CancelAllOrders {}),
    }
}

/// Permissionless: remove expired orders of the given makers (`book::expired_makers`).
pub fn prune_expired_orders_ix(clearinghouse: &Pubkey, market: &MarketKeys, makers: &[Pubkey]) -> Instruction {
    with_remaining(
        build(
            bulwark::accounts::PruneExpiredOrders {
                clearinghouse: *clearinghouse,
                market: market.key,
                order_book: market.order_book,
            },
            bulwark::instruction::PruneExpiredOrders {},
        ),
        makers,
    )
}

/// Permissionless: settle the funding periods that are due.
pub fn update_funding_ix(clearinghouse: &Pubkey, market: &MarketKeys) -> Instruction {
    build(
        bulwark::accounts::UpdateFunding {
            clearinghouse: *clearinghouse,
            market: market.key,
            order_book: market.order_book,
            oracle: market.oracle,
        },
        bulwark::instruction::UpdateFunding {},
    )
}

// ---- the waterfall ------------------------------------------------------------------------

/// Permissionless: record whether the account is liquidatable. Remaining: `price_pairs` of
/// every market it holds.
pub fn update_liquidation_status_ix(
    clearinghouse: &Pubkey,
    margin_account: &Pubkey,
    remaining: &[Pubkey],
) -> Instruction {
    with_remaining(
        build(
            bulwark::accounts::UpdateLiquidationStatus {
                clearinghouse: *clearinghouse,
                margin_account: *margin_account,
            },
            bulwark::instruction::UpdateLiquidationStatus {},
        ),
        remaining,
    )
}

/// Take over up to `max_base_lots` (0: what is needed) of the account's position at the oracle
/// into `liquidator` (a margin account `authority` controls). Remaining: `price_pairs` of the
/// other markets either account holds.
pub fn liquidate_takeover_ix(
    authority: &Pubkey,
    clearinghouse: &ClearinghouseKeys,
    liquidator: &Pubkey,
    margin_account: &Pubkey,
    market: &MarketKeys,
    max_base_lots: u64,
    remaining: &[Pubkey],
) -> Instruction {
    with_remaining(
        build(
            bulwark::accounts::LiquidateTakeover {
                authority: *authority,
                clearinghouse: clearinghouse.key,
                liquidator: *liquidator,
                margin_account: *margin_account,
                market: market.key,
                order_book: market.order_book,
                oracle: market.oracle,
                collateral_vault: clearinghouse.collateral_vault,
                insurance_vault: clearinghouse.insurance_vault,
                token_program: TOKEN_PROGRAM_ID,
            },
            bulwark::instruction::LiquidateTakeover { max_base_lots },
        ),
        remaining,
    )
}

/// Close the account's position against the book within the band; the cranker (a margin
/// account `authority` controls) earns a capped reward. Remaining (`matching_remaining`):
/// price pairs of every other market the account or a passed maker holds, then the makers in
/// book order (`book::makers_within`).
pub fn liquidate_against_book_ix(
    authority: &Pubkey,
    clearinghouse: &ClearinghouseKeys,
    cranker: &Pubkey,
    margin_account: &Pubkey,
    market: &MarketKeys,
    remaining: &[Pubkey],
) -> Instruction {
    with_remaining(
        build(
            bulwark::accounts::LiquidateAgainstBook {
                authority: *authority,
                clearinghouse: clearinghouse.key,
                cranker: *cranker,
                margin_account: *margin_account,
                market: market.key,
                order_book: market.order_book,
                oracle: market.oracle,
                collateral_vault: clearinghouse.collateral_vault,
                insurance_vault: clearinghouse.insurance_vault,
                token_program: TOKEN_PROGRAM_ID,
            },
            bulwark::instruction::LiquidateAgainstBook {},
        ),
        remaining,
    )
}

/// Deleverage up to `max_base_lots` (0: all) of `target`'s position. Remaining: `price_pairs`
/// of every other market the target or a counterparty holds, then at most
/// `MAX_ADL_COUNTERPARTIES` counterparties in non-increasing ADL score (`adl::select`).
pub fn auto_deleverage_ix(
    clearinghouse: &ClearinghouseKeys,
    market: &MarketKeys,
    target: &Pubkey,
    max_base_lots: u64,
    remaining: &[Pubkey],
) -> Instruction {
    with_remaining(
        build(
            bulwark::accounts::AutoDeleverage {
                clearinghouse: clearinghouse.key,
                market: market.key,
                order_book: market.order_book,
                oracle: market.oracle,
                target: *target,
                collateral_vault: clearinghouse.collateral_vault,
                insurance_vault: clearinghouse.insurance_vault,
                token_program: TOKEN_PROGRAM_ID,
            },
            bulwark::instruction::AutoDeleverage { max_base_lots },
        ),
        remaining,
    )
}

/// Open an ADL round on `target` in `market`; `payer` pays the rent and gets it back when the
/// round closes. Remaining: `price_pairs` of the target's other markets.
pub fn begin_adl_ix(
    payer: &Pubkey,
    clearinghouse: &Pubkey,
    market: &MarketKeys,
    target: &Pubkey,
    price_pairs: &[Pubkey],
) -> Instruction {
    let ix = with_remaining(
        build(
            bulwark::accounts::BeginAdl {
                payer: *payer,
                clearinghouse: *clearinghouse,
                market: market.key,
                order_book: market.order_book,
                oracle: market.oracle,
                target: *target,
                round: pda::adl_round(&market.key, target),
                system_program: SYSTEM_PROGRAM_ID,
            },
            bulwark::instruction::BeginAdl {},
        ),
        price_pairs,
    );
    readonly_remaining(ix, 8, price_pairs)
}

/// Nominate `nominees` (at most `MAX_ADL_COUNTERPARTIES`) to `target`'s round in `market`.
/// Remaining: `price_pairs` of every other market a nominee holds, then the nominees, all
/// read only.
pub fn nominate_adl_ix(
    nominator: &Pubkey,
    clearinghouse: &Pubkey,
    market: &MarketKeys,
    target: &Pubkey,
    price_pairs: &[Pubkey],
    nominees: &[Pubkey],
) -> Instruction {
    let mut remaining = price_pairs.to_vec();
    remaining.extend_from_slice(nominees);
    let ix = with_remaining(
        build(
            bulwark::accounts::NominateAdl {
                nominator: *nominator,
                clearinghouse: *clearinghouse,
                market: market.key,
                oracle: market.oracle,
                round: pda::adl_round(&market.key, target),
            },
            bulwark::instruction::NominateAdl {},
        ),
        &remaining,
    );
    readonly_remaining(ix, 5, &remaining)
}

/// Execute `target`'s round in `market` against the queue's first entries (`queued`, in the
/// queue's order). Remaining: `price_pairs` of every other market the target or a queued
/// winner holds, then `queued`.
pub fn execute_adl_ix(
    clearinghouse: &ClearinghouseKeys,
    market: &MarketKeys,
    target: &Pubkey,
    opener: &Pubkey,
    price_pairs: &[Pubkey],
    queued: &[Pubkey],
) -> Instruction {
    let mut remaining = price_pairs.to_vec();
    remaining.extend_from_slice(queued);
    let ix = with_remaining(
        build(
            bulwark::accounts::ExecuteAdl {
                clearinghouse: clearinghouse.key,
                market: market.key,
                order_book: market.order_book,
                oracle: market.oracle,
                target: *target,
                round: pda::adl_round(&market.key, target),
                opener: *opener,
                collateral_vault: clearinghouse.collateral_vault,
                insurance_vault: clearinghouse.insurance_vault,
                token_program: TOKEN_PROGRAM_ID,
            },
            bulwark::instruction::ExecuteAdl {},
        ),
        &remaining,
    );
    readonly_remaining(ix, 10, price_pairs)
}

// ---- insurance staking --------------------------------------------------------------------

pub fn create_insurance_stake_ix(owner: &Pubkey, payer: &Pubkey, clearinghouse: &Pubkey) -> Instruction {
    build(
        bulwark::accounts::CreateInsuranceStake {
            owner: *owner,
            payer: *payer,
            clearinghouse: *clearinghouse,
            insurance_stake: pda::insurance_stake(clearinghouse, owner),
            system_program: SYSTEM_PROGRAM_ID,
        },
        bulwark::instruction::CreateInsuranceStake {},
    )
}

pub fn stake_insurance_ix(
    owner: &Pubkey,
    clearinghouse: &ClearinghouseKeys,
    source: &Pubkey,
    amount: u64,
) -> Instruction {
    build(
        bulwark::accounts::StakeInsurance {
            owner: *owner,
            clearinghouse: clearinghouse.key,
            insurance_stake: pda::insurance_stake(&clearinghouse.key, owner),
            insurance_vault: clearinghouse.insurance_vault,
            source: *source,
            token_program: TOKEN_PROGRAM_ID,
        },
        bulwark::instruction::StakeInsurance { amount },
    )
}

pub fn request_unstake_ix(owner: &Pubkey, clearinghouse: &Pubkey, shares: u64) -> Instruction {
    build(
        bulwark::accounts::RequestUnstake {
            owner: *owner,
            clearinghouse: *clearinghouse,
            insurance_stake: pda::insurance_stake(clearinghouse, owner),
        },
        bulwark::instruction::RequestUnstake { shares },
    )
}

pub fn unstake_insurance_ix(owner: &Pubkey, clearinghouse: &ClearinghouseKeys, destination: &Pubkey) -> Instruction {
    build(
        bulwark::accounts::UnstakeInsurance {
            owner: *owner,
            clearinghouse: clearinghouse.key,
            insurance_stake: pda::insurance_stake(&clearinghouse.key, owner),
            insurance_vault: clearinghouse.insurance_vault,
            destination: *destination,
            token_program: TOKEN_PROGRAM_ID,
        },
        bulwark::instruction::UnstakeInsurance {},
    )
}

/// Anyone: moves the whole fee pool from the collateral vault to the insurance vault.
pub fn sweep_fees_ix(clearinghouse: &ClearinghouseKeys) -> Instruction {
    build(
        bulwark::accounts::SweepFees {
            clearinghouse: clearinghouse.key,
            collateral_vault: clearinghouse.collateral_vault,
            insurance_vault: clearinghouse.insurance_vault,
            token_program: TOKEN_PROGRAM_ID,
        },
        bulwark::instruction::SweepFees {},
    )
}

// ---- compute budget -----------------------------------------------------------------------

pub const COMPUTE_BUDGET_PROGRAM_ID: Pubkey =
    anchor_lang::prelude::pubkey!("ComputeBudget111111111111111111111111111111");

/// `SetComputeUnitLimit` (ComputeBudget instruction 2, u32 LE).
pub fn compute_unit_limit_ix(units: u32) -> Instruction {
    let mut data = vec![2u8];
    data.extend_from_slice(&units.to_le_bytes());
    Instruction { program_id: COMPUTE_BUDGET_PROGRAM_ID, accounts: vec![], data }
}

/// `SetComputeUnitPrice` (ComputeBudget instruction 3, u64 LE micro-lamports per CU).
pub fn compute_unit_price_ix(micro_lamports: u64) -> Instruction {
    let mut data = vec![3u8];
    data.extend_from_slice(&micro_lamports.to_le_bytes());
    Instruction { program_id: COMPUTE_BUDGET_PROGRAM_ID, accounts: vec![], data }
}

#[cfg(test)]
mod tests {
    #[test]
    fn matching_remaining_prices_the_makers_markets_after_the_takers() {
        let ch = Pubkey::new_unique();
        let keys =
            |index: u16| (index < 40).then(|| MarketKeys::new(&ch, index, Pubkey::new_from_array([index as u8; 32])));
        let maker = |n: u8, markets: &[u16]| MakerMarkets {
            margin_account: Pubkey::new_from_array([100 + n; 32]),
            markets: markets.to_vec(),
        };
        let pair = |index: u16| keys(index).unwrap().price_pair();
        // Taker holds 0 (the order's market) and 3; makers hold 0 with 5, 3 and 0 alone.
        let makers = [maker(1, &[0, 5]), maker(2, &[3, 0]), maker(3, &[0])];
        let remaining = matching_remaining(0, &[0, 3], &makers, keys).unwrap();
        let mut expected: Vec<Pubkey> = [pair(3), pair(5)].concat();
        expected.extend(makers.iter().map(|m| m.margin_account));
        assert_eq!(remaining, expected);
        // A maker holding a market nobody can price ends the list there.
        let blocked = [maker(1, &[0]), maker(2, &[0, 77]), maker(3, &[0])];
        assert_eq!(matching_remaining(0, &[], &blocked, keys).unwrap(), vec![blocked[0].margin_account]);
        // Sixteen pairs at most: a maker bringing the seventeenth is left out with those after it.
        let wide: Vec<u16> = (1..=8).collect();
        let wider: Vec<u16> = (9..=16).collect();
        let makers = [maker(1, &wide), maker(2, &wider), maker(3, &[17]), maker(4, &[1])];
        let remaining = matching_remaining(0, &[], &makers, keys).unwrap();
        assert_eq!(remaining.len(), 2 * MAX_PRICE_PAIRS + 2);
        assert_eq!(&remaining[2 * MAX_PRICE_PAIRS..], &[makers[0].margin_account, makers[1].margin_account]);
        assert_eq!(matching_remaining(0, &[77], &makers, keys), None, "the taker's own markets must be priced");
    }

    use super::*;

    #[test]
    fn remaining_accounts_follow_the_fixed_accounts_in_order() {
        let ch = ClearinghouseKeys::new(Pubkey::new_unique());
        let market = MarketKeys::new(&ch.key, 0, Pubkey::new_unique());
        let other = MarketKeys::new(&ch.key, 1, Pubkey::new_unique());
        let counterparties = [Pubkey::new_unique(), Pubkey::new_unique()];
        let mut remaining = price_pairs(&[other]);
        remaining.extend_from_slice(&counterparties);
        let target = Pubkey::new_unique();
        let ix = auto_deleverage_ix(&ch, &market, &target, 0, &remaining);
        let keys: Vec<Pubkey> = ix.accounts.iter().map(|m| m.pubkey).collect();
        assert_eq!(
            keys[..8],
            [
                ch.key,
                market.key,
                market.order_book,
                market.oracle,
                target,
                ch.collateral_vault,
                ch.insurance_vault,
                TOKEN_PROGRAM_ID
            ]
        );
        assert_eq!(keys[8..], [other.key, other.oracle, counterparties[0], counterparties[1]]);
        assert!(ix.accounts[8..].iter().all(|m| m.is_writable && !m.is_signer));
        assert_eq!(ix.data[..8], *<bulwark::instruction::AutoDeleverage as anchor_lang::Discriminator>::DISCRIMINATOR);
    }

    #[test]
    fn adl_round_builders_pass_the_round_and_read_only_prices() {
        let ch = ClearinghouseKeys::new(Pubkey::new_unique());
        let market = MarketKeys::new(&ch.key, 0, Pubkey::new_unique());
        let other = MarketKeys::new(&ch.key, 1, Pubkey::new_unique());
        let (target, opener, payer) = (Pubkey::new_unique(), Pubkey::new_unique(), Pubkey::new_unique());
        let winners = [Pubkey::new_unique(), Pubkey::new_unique()];
        let round = pda::adl_round(&market.key, &target);
        let pairs = price_pairs(&[other]);

        let begin = begin_adl_ix(&payer, &ch.key, &market, &target, &pairs);
        assert_eq!(begin.accounts[6].pubkey, round);
        assert!(begin.accounts[8..].iter().all(|m| !m.is_writable));

        let nominate = nominate_adl_ix(&payer, &ch.key, &market, &target, &pairs, &winners);
        assert_eq!(nominate.accounts[4].pubkey, round);
        assert!(nominate.accounts[4].is_writable && nominate.accounts[0].is_signer);
        assert_eq!(
            nominate.accounts[5..].iter().map(|m| m.pubkey).collect::<Vec<_>>(),
            [other.key, other.oracle, winners[0], winners[1]]
        );
        assert!(nominate.accounts[5..].iter().all(|m| !m.is_writable), "nominees are only read");

        let execute = execute_adl_ix(&ch, &market, &target, &opener, &pairs, &winners);
        assert_eq!((execute.accounts[5].pubkey, execute.accounts[6].pubkey), (round, opener));
        assert!(execute.accounts[10..12].iter().all(|m| !m.is_writable), "price pairs are only read");
        assert!(execute.accounts[12..].iter().all(|m| m.is_writable), "winners are written");
    }

    #[test]
    fn compute_budget_encoding() {
        assert_eq!(compute_unit_limit_ix(200_000).data, [2, 0x40, 0x0d, 0x03, 0]);
        assert_eq!(compute_unit_price_ix(1).data, [3, 1, 0, 0, 0, 0, 0, 0, 0]);
    }
}
