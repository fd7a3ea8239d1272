//! Instruction builders, PDAs and ready-made clearinghouses, feeds and users.

use anchor_lang::prelude::*;
use bulwark::constants::*;
use bulwark::instructions::{InitializeClearinghouseArgs, PriceFeedUpdate};
use bulwark::state::*;
use solana_keypair::Keypair;
use solana_signer::Signer as _;

use crate::harness::TestEnv;

// ---- PDAs ---------------------------------------------------------------------------------

pub use bulwark_sdk::pda::{
    clearinghouse as clearinghouse_pda, collateral_vault as collateral_vault_pda,
    insurance_vault as insurance_vault_pda, margin_account as margin_account_pda, market as market_pda,
    order_book as order_book_pda, price_feed as price_feed_pda,
};

// ---- instruction builders: the SDK's ------------------------------------------------------

pub use bulwark_sdk::ix::*;

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

/// A clearinghouse and the keypairs that run it; derefs to its SDK keys.
pub struct ClearinghouseFixture {
    pub keys: ClearinghouseKeys,
    pub mint: Pubkey,
    pub mint_authority: Keypair,
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

/// Waterfall parameters the tests use unless they say otherwise: 10% buffer, 2% book band,
/// 20% of a book liquidation's fee (at most $10) to the cranker, 100 slots of ADL grace, a
/// one-hour unstake cooldown and fills within 4% of the oracle. Both bands sit below the
/// fixtures' 5% maintenance margin, as the program requires: a fill at the band's edge cannot
/// by itself take an account from maintenance to bankruptcy, and a book liquidation at the
/// edge (2% + 2.5% fee + taker fee < 5% × 1.1) always moves the account toward its buffer.
pub fn default_waterfall() -> WaterfallParams {
    WaterfallParams {
        adl_grace_slots: 100,
        insurance_unstake_cooldown_seconds: 3_600,
        max_book_liquidation_reward: 10_000_000,
        liquidation_buffer_bps: 1_000,
        book_liquidation_band_bps: 200,
        book_liquidation_reward_bps: 2_000,
        max_fill_deviation_bps: 400,
        adl_nomination_slots: 0,
    }
}

impl std::ops::Deref for ClearinghouseFixture {
    type Target = ClearinghouseKeys;
    fn deref(&self) -> &ClearinghouseKeys {
        &self.keys
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
        let mint_authority = self.new_keypair();
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
            keys: ClearinghouseKeys::new(key),
            mint,
            mint_authority,
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

/// A listed market and the feed that prices it; derefs to its SDK keys.
pub struct MarketFixture {
    pub keys: MarketKeys,
    pub feed: Feed,
}

impl std::ops::Deref for MarketFixture {
    type Target = MarketKeys;
    fn deref(&self) -> &MarketKeys {
        &self.keys
    }
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

pub use bulwark_sdk::book::makers_for;

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
        MarketFixture { keys: MarketKeys::new(&fx.key, index, oracle.key), feed: oracle }
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
