//! Instruction builders, PDAs and ready-made clearinghouses, feeds and users.

use anchor_lang::prelude::*;
use anchor_lang::solana_program::instruction::Instruction;
use anchor_lang::{InstructionData, ToAccountMetas};
use bulwark::constants::*;
use bulwark::instructions::{InitializeClearinghouseArgs, PriceFeedUpdate};
use bulwark::state::*;
use solana_keypair::Keypair;
use solana_signer::Signer as _;
use spl_token_interface::ID as TOKEN_PROGRAM_ID;

use crate::harness::TestEnv;

pub const SYSTEM_PROGRAM_ID: Pubkey = anchor_lang::solana_program::system_program::ID;

// ---- PDAs ---------------------------------------------------------------------------------

pub use bulwark_sdk::pda::{
    clearinghouse as clearinghouse_pda, collateral_vault as collateral_vault_pda,
    insurance_vault as insurance_vault_pda, margin_account as margin_account_pda, market as market_pda,
    order_book as order_book_pda, price_feed as price_feed_pda,
};

// ---- instruction builders -----------------------------------------------------------------

pub(crate) fn ix(accounts: impl ToAccountMetas, data: impl InstructionData) -> Instruction {
    Instruction { program_id: bulwark::ID, accounts: accounts.to_account_metas(None), data: data.data() }
}

pub fn initialize_clearinghouse_ix(admin: &Pubkey, mint: &Pubkey, args: InitializeClearinghouseArgs) -> Instruction {
    let clearinghouse = clearinghouse_pda(admin, mint, args.id);
    ix(
        bulwark::accounts::InitializeClearinghouse {
            admin: *admin,
            clearinghouse,
            collateral_mint: *mint,
            collateral_vault: collateral_vault_pda(&clearinghouse),
            insurance_vault: insurance_vault_pda(&clearinghouse),
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
    ix(
        bulwark::accounts::CreateMarginAccount {
            owner: *owner,
            payer: *payer,
            clearinghouse: *clearinghouse,
            margin_account: margin_account_pda(clearinghouse, owner, sub_account_id),
            system_program: SYSTEM_PROGRAM_ID,
        },
        bulwark::instruction::CreateMarginAccount { sub_account_id },
    )
}

pub fn set_delegate_ix(owner: &Pubkey, margin_account: &Pubkey, delegate: Pubkey) -> Instruction {
    ix(
        bulwark::accounts::SetDelegate { owner: *owner, margin_account: *margin_account },
        bulwark::instruction::SetDelegate { delegate },
    )
}

pub fn deposit_ix(
    authority: &Pubkey,
    clearinghouse: &Pubkey,
    margin_account: &Pubkey,
    collateral_vault: &Pubkey,
    source: &Pubkey,
    amount: u64,
) -> Instruction {
    ix(
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

pub fn withdraw_ix(
    owner: &Pubkey,
    clearinghouse: &Pubkey,
    margin_account: &Pubkey,
    collateral_vault: &Pubkey,
    destination: &Pubkey,
    amount: u64,
) -> Instruction {
    ix(
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
    ix(
        bulwark::accounts::CloseMarginAccount {
            owner: *owner,
            clearinghouse: *clearinghouse,
            margin_account: *margin_account,
            rent_receiver: *rent_receiver,
        },
        bulwark::instruction::CloseMarginAccount {},
    )
}

pub fn create_price_feed_ix(
    authority: &Pubkey,
    payer: &Pubkey,
    feed_id: u64,
    exponent: i32,
    ema_window_seconds: u32,
) -> Instruction {
    ix(
        bulwark::accounts::CreatePriceFeed {
            authority: *authority,
            payer: *payer,
            price_feed: price_feed_pda(authority, feed_id),
            system_program: SYSTEM_PROGRAM_ID,
        },
        bulwark::instruction::CreatePriceFeed { feed_id, exponent, ema_window_seconds },
    )
}

pub fn update_price_feed_ix(authority: &Pubkey, price_feed: &Pubkey, update: PriceFeedUpdate) -> Instruction {
    ix(
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
    ix(
        bulwark::accounts::RefreshCollateralPrice {
            clearinghouse: *clearinghouse,
            market_feed,
            redemption_rate_feed,
            redemption_health_feed,
        },
        bulwark::instruction::RefreshCollateralPrice {},
    )
}

pub fn propose_param_change_ix(admin: &Pubkey, clearinghouse: &Pubkey, change: ParamChange) -> Instruction {
    propose_market_param_change_ix(admin, clearinghouse, None, change)
}

pub fn propose_market_param_change_ix(
    admin: &Pubkey,
    clearinghouse: &Pubkey,
    market: Option<Pubkey>,
    change: ParamChange,
) -> Instruction {
    ix(
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
    ix(
        bulwark::accounts::ExecuteParamChange { executor: *executor, clearinghouse: *clearinghouse, market },
        bulwark::instruction::ExecuteParamChange {},
    )
}

pub fn cancel_param_change_ix(admin: &Pubkey, clearinghouse: &Pubkey) -> Instruction {
    ix(
        bulwark::accounts::AdminParamChange { admin: *admin, clearinghouse: *clearinghouse, market: None },
        bulwark::instruction::CancelParamChange {},
    )
}

pub fn pause_ix(guardian: &Pubkey, clearinghouse: &Pubkey) -> Instruction {
    ix(
        bulwark::accounts::GuardianSetStatus { guardian: *guardian, clearinghouse: *clearinghouse },
        bulwark::instruction::Pause {},
    )
}

pub fn unpause_ix(guardian: &Pubkey, clearinghouse: &Pubkey) -> Instruction {
    ix(
        bulwark::accounts::GuardianSetStatus { guardian: *guardian, clearinghouse: *clearinghouse },
        bulwark::instruction::Unpause {},
    )
}

// ---- configurations -----------------------------------------------------------------------

pub fn oracle_config(source: u8, feed: Pubkey) -> OracleConfig {
    OracleConfig {
        feed,
        pyth_feed_id: [0; 32],
        fixed_price: if source == ORACLE_SOURCE_FIXED { PRICE_PRECISION } else { 0 },
        max_staleness_slots: 150,
        max_staleness_seconds: 60,
        max_confidence_bps: 200,
        max_twap_divergence_bps: 1_000,
        source,
        padding: [0; 7],
    }
}

pub fn market_mode_collateral(market: OracleConfig) -> CollateralOracleConfig {
    CollateralOracleConfig {
        market,
        redemption_rate_feed: Pubkey::default(),
        redemption_health_feed: Pubkey::default(),
        hard_band_grace_seconds: 0,
        max_attestation_age_seconds: 0,
        soft_band_bps: 0,
        hard_band_bps: 0,
        mode: COLLATERAL_MODE_MARKET,
        padding: [0; 7],
    }
}

pub fn redemption_aware_collateral(
    market: OracleConfig,
    rate_feed: Pubkey,
    health_feed: Pubkey,
) -> CollateralOracleConfig {
    CollateralOracleConfig {
        market,
        redemption_rate_feed: rate_feed,
        redemption_health_feed: health_feed,
        hard_band_grace_seconds: 3_600,
        max_attestation_age_seconds: 3_600,
        soft_band_bps: 100,
        hard_band_bps: 1_000,
        mode: COLLATERAL_MODE_REDEMPTION_AWARE,
        padding: [0; 7],
    }
}

/// A manual feed and the keypair that publishes to it.
pub struct Feed {
    pub key: Pubkey,
    pub authority: Keypair,
}

pub struct ClearinghouseFixture {
    pub key: Pubkey,
    pub mint: Pubkey,
    pub mint_authority: Keypair,
    pub collateral_vault: Pubkey,
    pub insurance_vault: Pubkey,
    pub admin: Keypair,
    pub guardian: Keypair,
    /// Every margin account created through the fixture, for the invariant checker.
    pub margin_accounts: Vec<Pubkey>,
    /// Markets listed through the fixture, by index.
    pub markets: Vec<Pubkey>,
}

pub struct User {
    pub owner: Keypair,
    pub margin_account: Pubkey,
    pub token_account: Pubkey,
}

pub struct ClearinghouseOptions {
    pub id: u16,
    pub collateral_oracle: CollateralOracleConfig,
    pub timelock_seconds: i64,
    pub breaker_window_seconds: i64,
    pub breaker_max_net_outflow_bps: u32,
    pub breaker_min_outflow_allowance: u64,
    pub decimals: u8,
    pub waterfall: WaterfallParams,
}

/// Waterfall parameters the tests use unless they say otherwise: 10% buffer, 5% book band,
/// 20% of a book liquidation's fee (at most $10) to the cranker, 100 slots of ADL grace, a
/// one-hour unstake cooldown and fills within 10% of the oracle.
pub fn default_waterfall() -> WaterfallParams {
    WaterfallParams {
        adl_grace_slots: 100,
        insurance_unstake_cooldown_seconds: 3_600,
        max_book_liquidation_reward: 10_000_000,
        liquidation_buffer_bps: 1_000,
        book_liquidation_band_bps: 500,
        book_liquidation_reward_bps: 2_000,
        max_fill_deviation_bps: 1_000,
    }
}

impl Default for ClearinghouseOptions {
    fn default() -> Self {
        Self {
            id: 0,
            collateral_oracle: market_mode_collateral(oracle_config(ORACLE_SOURCE_FIXED, Pubkey::default())),
            timelock_seconds: 86_400,
            breaker_window_seconds: 3_600,
            breaker_max_net_outflow_bps: 10_000,
            breaker_min_outflow_allowance: 0,
            decimals: 6,
            waterfall: default_waterfall(),
        }
    }
}

impl TestEnv {
    pub async fn create_feed(&mut self, feed_id: u64, exponent: i32, ema_window_seconds: u32) -> Feed {
        let authority = self.funded_keypair().await;
        let payer = self.payer();
        self.send(
            &[create_price_feed_ix(&authority.pubkey(), &payer.pubkey(), feed_id, exponent, ema_window_seconds)],
            &[&authority],
        )
        .await
        .ok();
        Feed { key: price_feed_pda(&authority.pubkey(), feed_id), authority }
    }

    pub async fn publish(&mut self, feed: &Feed, price: i64, conf: u64, redemption_enabled: bool, reserve_ratio: i64) {
        let update = PriceFeedUpdate { price, conf, redemption_enabled, reserve_ratio };
        let authority = feed.authority.insecure_clone();
        self.send(&[update_price_feed_ix(&authority.pubkey(), &feed.key, update)], &[&authority]).await.ok();
    }

    pub async fn setup_clearinghouse(&mut self, opts: ClearinghouseOptions) -> ClearinghouseFixture {
        let mint_authority = Keypair::new();
        let mint = self.create_mint(&mint_authority.pubkey(), opts.decimals).await;
        self.setup_clearinghouse_with_mint(opts, mint, mint_authority).await
    }

    pub async fn setup_clearinghouse_with_mint(
        &mut self,
        opts: ClearinghouseOptions,
        mint: Pubkey,
        mint_authority: Keypair,
    ) -> ClearinghouseFixture {
        let admin = self.funded_keypair().await;
        let guardian = self.funded_keypair().await;
        let args = InitializeClearinghouseArgs {
            id: opts.id,
            guardian: guardian.pubkey(),
            timelock_seconds: opts.timelock_seconds,
            collateral_oracle: opts.collateral_oracle,
            breaker_window_seconds: opts.breaker_window_seconds,
            breaker_max_net_outflow_bps: opts.breaker_max_net_outflow_bps,
            breaker_min_outflow_allowance: opts.breaker_min_outflow_allowance,
            waterfall: opts.waterfall,
        };
        self.send(&[initialize_clearinghouse_ix(&admin.pubkey(), &mint, args)], &[&admin]).await.ok();
        let key = clearinghouse_pda(&admin.pubkey(), &mint, opts.id);
        ClearinghouseFixture {
            key,
            mint,
            mint_authority,
            collateral_vault: collateral_vault_pda(&key),
            insurance_vault: insurance_vault_pda(&key),
            admin,
            guardian,
            margin_accounts: vec![],
            markets: vec![],
        }
    }

    /// A funded owner with a margin account (sub-account 0) and `tokens` in a wallet.
    pub async fn create_user(&mut self, fx: &mut ClearinghouseFixture, tokens: u64) -> User {
        let owner = self.funded_keypair().await;
        let token_account = self.create_token_account(&fx.mint, &owner.pubkey()).await;
        if tokens > 0 {
            let authority = fx.mint_authority.insecure_clone();
            self.mint_to(&fx.mint, &authority, &token_account, tokens).await;
        }
        self.send(&[create_margin_account_ix(&fx.key, &owner.pubkey(), &owner.pubkey(), 0)], &[&owner]).await.ok();
        let margin_account = margin_account_pda(&fx.key, &owner.pubkey(), 0);
        fx.margin_accounts.push(margin_account);
        User { owner, margin_account, token_account }
    }

    pub async fn deposit(&mut self, fx: &ClearinghouseFixture, user: &User, amount: u64) -> crate::TxOutcome {
        let owner = user.owner.insecure_clone();
        let ix = deposit_ix(
            &owner.pubkey(),
            &fx.key,
            &user.margin_account,
            &fx.collateral_vault,
            &user.token_account,
            amount,
        );
        self.send(&[ix], &[&owner]).await
    }

    pub async fn withdraw(&mut self, fx: &ClearinghouseFixture, user: &User, amount: u64) -> crate::TxOutcome {
        let owner = user.owner.insecure_clone();
        let ix = withdraw_ix(
            &owner.pubkey(),
            &fx.key,
            &user.margin_account,
            &fx.collateral_vault,
            &user.token_account,
            amount,
        );
        self.send(&[ix], &[&owner]).await
    }

    pub async fn clearinghouse(&mut self, fx: &ClearinghouseFixture) -> Clearinghouse {
        self.load::<Clearinghouse>(fx.key).await
    }

    pub async fn margin(&mut self, key: Pubkey) -> MarginAccount {
        self.load::<MarginAccount>(key).await
    }
}

// ---- markets and orders -------------------------------------------------------------------

pub use bulwark::controller::orders::{
    PlaceOrderArgs, ORDER_TYPE_IMMEDIATE_OR_CANCEL, ORDER_TYPE_LIMIT, ORDER_TYPE_MARKET, ORDER_TYPE_POST_ONLY,
};

pub fn create_market_ix(
    admin: &Pubkey,
    clearinghouse: &Pubkey,
    index: u16,
    oracle: OracleConfig,
    params: MarketParams,
) -> Instruction {
    let market = market_pda(clearinghouse, index);
    ix(
        bulwark::accounts::CreateMarket {
            admin: *admin,
            clearinghouse: *clearinghouse,
            market,
            order_book: order_book_pda(&market),
            system_program: SYSTEM_PROGRAM_ID,
        },
        bulwark::instruction::CreateMarket { index, oracle, params },
    )
}

pub fn activate_market_ix(market: &Pubkey) -> Instruction {
    ix(bulwark::accounts::ActivateMarket { market: *market }, bulwark::instruction::ActivateMarket {})
}

pub fn set_market_status_ix(guardian: &Pubkey, clearinghouse: &Pubkey, market: &Pubkey, status: u8) -> Instruction {
    ix(
        bulwark::accounts::SetMarketStatus { guardian: *guardian, clearinghouse: *clearinghouse, market: *market },
        bulwark::instruction::SetMarketStatus { status },
    )
}

/// A listed market and its feed.
pub struct MarketFixture {
    pub key: Pubkey,
    pub order_book: Pubkey,
    pub oracle: Feed,
    pub index: u16,
}

#[allow(clippy::too_many_arguments)]
pub fn place_order_ix(
    authority: &Pubkey,
    fx: &ClearinghouseFixture,
    margin_account: &Pubkey,
    market: &MarketFixture,
    args: PlaceOrderArgs,
    remaining: &[Pubkey],
) -> Instruction {
    let mut instruction = ix(
        bulwark::accounts::PlaceOrder {
            authority: *authority,
            clearinghouse: fx.key,
            margin_account: *margin_account,
            market: market.key,
            order_book: market.order_book,
            oracle: market.oracle.key,
            collateral_vault: fx.collateral_vault,
            insurance_vault: fx.insurance_vault,
            token_program: TOKEN_PROGRAM_ID,
        },
        bulwark::instruction::PlaceOrder { args },
    );
    instruction.accounts.extend(remaining.iter().map(|k| AccountMeta::new(*k, false)));
    instruction
}

pub fn cancel_order_ix(
    authority: &Pubkey,
    margin_account: &Pubkey,
    market: &MarketFixture,
    order_id: Option<u64>,
) -> Instruction {
    let accounts = bulwark::accounts::CancelOrders {
        authority: *authority,
        margin_account: *margin_account,
        market: market.key,
        order_book: market.order_book,
    };
    match order_id {
        Some(order_id) => ix(accounts, bulwark::instruction::CancelOrder { order_id }),
        None => ix(accounts, bulwark::instruction::CancelAllOrders {}),
    }
}

pub fn prune_expired_orders_ix(market: &MarketFixture, makers: &[Pubkey]) -> Instruction {
    let mut instruction = ix(
        bulwark::accounts::PruneExpiredOrders { market: market.key, order_book: market.order_book },
        bulwark::instruction::PruneExpiredOrders {},
    );
    instruction.accounts.extend(makers.iter().map(|k| AccountMeta::new(*k, false)));
    instruction
}

pub fn update_funding_ix(clearinghouse: &Pubkey, market: &MarketFixture) -> Instruction {
    ix(
        bulwark::accounts::UpdateFunding {
            clearinghouse: *clearinghouse,
            market: market.key,
            order_book: market.order_book,
            oracle: market.oracle.key,
        },
        bulwark::instruction::UpdateFunding {},
    )
}

/// A simple contract: 1 lot = 1 unit, 1 tick = $1, 6-decimal collateral: 1,000,000 atoms
/// ($1) per lot per tick. Taker 10 bps, maker rebate 2 bps, half of net fees to insurance.
pub fn simple_market_params() -> MarketParams {
    MarketParams {
        tick_size: 1_000_000,
        base_lot_size: 1_000_000,
        min_order_lots: 1,
        max_open_interest_lots: 1_000_000,
        size_premium_unit_lots: 0,
        funding_period_seconds: 3_600,
        initial_margin_bps: 1_000,
        maintenance_margin_bps: 500,
        size_premium_bps: 0,
        liquidation_fee_bps: 250,
        insurance_fee_share_bps: 5_000,
        max_funding_rate_bps: 50,
        taker_fee_bps: 10,
        maker_fee_bps: -2,
        base_decimals: 6,
        padding: [0; 7],
    }
}

/// The makers of the side a taker on `side` would hit, in book order (at most 8 distinct runs);
/// the taker's own orders need no account (self-trade prevention cancels them).
pub fn makers_for(book: &OrderBook, side: u8, taker: &Pubkey) -> Vec<Pubkey> {
    let opposite = if side == SIDE_BID { SIDE_ASK } else { SIDE_BID };
    let mut makers: Vec<Pubkey> = Vec::new();
    for o in book.orders(opposite) {
        if o.maker != *taker && makers.last() != Some(&o.maker) {
            makers.push(o.maker);
        }
        if makers.len() == 8 {
            break;
        }
    }
    makers
}

pub fn order(side: u8, order_type: u8, price_ticks: u64, base_lots: u64) -> PlaceOrderArgs {
    PlaceOrderArgs { side, order_type, price_ticks, base_lots, reduce_only: false, expiry_unix: 0, client_order_id: 0 }
}

impl TestEnv {
    /// List and activate a market priced by a new manual feed at `oracle_usd` (whole dollars).
    pub async fn setup_market(
        &mut self,
        fx: &mut ClearinghouseFixture,
        params: MarketParams,
        oracle_usd: i64,
    ) -> MarketFixture {
        let oracle = self.create_feed(1_000 + fx.markets.len() as u64, -6, 600).await;
        self.publish(&oracle, oracle_usd * 1_000_000, 0, true, 0).await;
        let index = fx.markets.len() as u16;
        let admin = fx.admin.insecure_clone();
        self.send(
            &[create_market_ix(
                &admin.pubkey(),
                &fx.key,
                index,
                oracle_config(ORACLE_SOURCE_MANUAL, oracle.key),
                params,
            )],
            &[&admin],
        )
        .await
        .ok();
        let key = market_pda(&fx.key, index);
        self.send(&[activate_market_ix(&key)], &[]).await.ok();
        fx.markets.push(key);
        MarketFixture { key, order_book: order_book_pda(&key), oracle, index }
    }

    pub async fn place(
        &mut self,
        fx: &ClearinghouseFixture,
        user: &User,
        market: &MarketFixture,
        args: PlaceOrderArgs,
        remaining: &[Pubkey],
    ) -> crate::TxOutcome {
        let owner = user.owner.insecure_clone();
        let ix = place_order_ix(&owner.pubkey(), fx, &user.margin_account, market, args, remaining);
        self.send(&[ix], &[&owner]).await
    }

    pub async fn market(&mut self, m: &MarketFixture) -> Market {
        self.load::<Market>(m.key).await
    }

    pub async fn book(&mut self, m: &MarketFixture) -> OrderBook {
        self.load::<OrderBook>(m.order_book).await
    }

    /// The account's position in `market` (default when it has none).
    pub async fn position(&mut self, user: &User, market: &MarketFixture) -> PerpPosition {
        let account = self.margin(user.margin_account).await;
        let found = account.open_positions().find(|p| p.market_index == market.index).copied();
        found.unwrap_or_default()
    }
}
