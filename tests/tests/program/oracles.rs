//! Every oracle source read through `refresh_collateral_price`, every validation failure
//! asserted by its named error, and the redemption-aware mode on chain.

use anchor_lang::prelude::*;
use bulwark::constants::PRICE_PRECISION;
use bulwark::error::BulwarkError;
use bulwark::events::{CollateralModeChangedV1, CollateralPriceV1};
use bulwark::math::redemption::*;
use bulwark::oracle::{pyth_legacy::PYTH_ORACLE_PROGRAM_ID, pyth_pull::PYTH_RECEIVER_PROGRAM_ID};
use bulwark::state::*;
use bulwark_tests::*;
use solana_account::{Account, AccountSharedData};

const LEGACY_BONK: &[u8] = include_bytes!("../../fixtures/pyth/legacy_bonk_usd.bin");
const PULL_BONK: &[u8] = include_bytes!("../../fixtures/pyth/pull_bonk_usd.bin");

fn foreign_account(owner: Pubkey, data: &[u8]) -> Account {
    Account { lamports: 1_000_000_000, data: data.to_vec(), owner, executable: false, rent_epoch: 0 }
}

async fn refresh(env: &mut TestEnv, fx: &ClearinghouseFixture, market: Option<Pubkey>) -> TxOutcome {
    let payer = env.payer();
    let _ = payer;
    env.send(&[refresh_collateral_price_ix(&fx.key, market, None, None)], &[]).await
}

/// A clearinghouse whose collateral is priced by a manual feed (exponent -8, EMA window 600 s).
async fn manual_setup() -> (TestEnv, ClearinghouseFixture, Feed) {
    let mut env = TestEnv::new().await;
    let feed = env.create_feed(7, -8, 600).await;
    let config = market_mode_collateral(oracle_config(ORACLE_SOURCE_MANUAL, feed.key));
    let fx = env.setup_clearinghouse(ClearinghouseOptions { collateral_oracle: config, ..Default::default() }).await;
    (env, fx, feed)
}

#[tokio::test]
async fn fixed_source_reads_its_constant() {
    let mut env = TestEnv::new().await;
    let mut market = oracle_config(ORACLE_SOURCE_FIXED, Pubkey::default());
    market.fixed_price = 1_000_000;
    let fx = env
        .setup_clearinghouse(ClearinghouseOptions {
            collateral_oracle: market_mode_collateral(market),
            ..Default::default()
        })
        .await;
    let out = refresh(&mut env, &fx, None).await.ok();
    let events = out.events::<CollateralPriceV1>();
    assert_eq!((events[0].price, events[0].market_price), (1_000_000, 1_000_000));
    assert_eq!(env.clearinghouse(&fx).await.collateral_oracle_state.last_price, 1_000_000);
}

#[tokio::test]
async fn manual_source_reads_and_rejects_bad_prices() {
    let (mut env, fx, feed) = manual_setup().await;
    env.publish(&feed, 99_950_000, 10_000, true, 0).await; // 0.9995 ± 0.0001
    let out = refresh(&mut env, &fx, Some(feed.key)).await.ok();
    assert_eq!(out.events::<CollateralPriceV1>()[0].price, 999_500);
    assert_eq!(env.clearinghouse(&fx).await.collateral_oracle_state.last_price, 999_500);

    // Missing and foreign feed accounts.
    refresh(&mut env, &fx, None).await.expect_err(BulwarkError::OracleAccountMissing);
    let other = env.create_feed(8, -8, 600).await;
    env.publish(&other, 100_000_000, 0, true, 0).await;
    refresh(&mut env, &fx, Some(other.key)).await.expect_err(BulwarkError::OracleAccountMismatch);

    // Stale by time (60 s allowed) and by slots (150 allowed).
    env.warp(61, 1).await;
    refresh(&mut env, &fx, Some(feed.key)).await.expect_err(BulwarkError::OracleStale);
    env.publish(&feed, 99_950_000, 10_000, true, 0).await;
    env.warp(0, 151).await;
    refresh(&mut env, &fx, Some(feed.key)).await.expect_err(BulwarkError::OracleStale);

    // Confidence over 2% of the price.
    env.publish(&feed, 100_000_000, 2_000_001, true, 0).await;
    refresh(&mut env, &fx, Some(feed.key)).await.expect_err(BulwarkError::OracleConfidenceTooWide);
    env.publish(&feed, 100_000_000, 2_000_000, true, 0).await;
    refresh(&mut env, &fx, Some(feed.key)).await.ok();

    // Zero and negative prices.
    env.publish(&feed, 0, 0, true, 0).await;
    refresh(&mut env, &fx, Some(feed.key)).await.expect_err(BulwarkError::OracleNonPositivePrice);
    env.publish(&feed, -100_000_000, 0, true, 0).await;
    refresh(&mut env, &fx, Some(feed.key)).await.expect_err(BulwarkError::OracleNonPositivePrice);
    assert_eq!(env.clearinghouse(&fx).await.collateral_oracle_state.last_price, 1_000_000);
}

#[tokio::test]
async fn manual_source_too_far_from_its_moving_average() {
    let (mut env, fx, feed) = manual_setup().await;
    env.publish(&feed, 100_000_000, 0, true, 0).await;
    env.warp(60, 10).await;
    // The average folds in the price in force before this print (1.00 for 60 s): a jump to
    // 0.80 is judged against 1.00, 20% away.
    env.publish(&feed, 80_000_000, 0, true, 0).await;
    let stored = env.load::<PriceFeed>(feed.key).await;
    assert_eq!(stored.ema_price, 100_000_000);
    refresh(&mut env, &fx, Some(feed.key)).await.expect_err(BulwarkError::OracleTooVolatile);
    // 0.80 holds for 300 s: the average is 1.00 + (0.80 - 1.00) * 300/600 = 0.90; 0.80 is 11% away.
    env.warp(300, 10).await;
    env.publish(&feed, 80_000_000, 0, true, 0).await;
    assert_eq!(env.load::<PriceFeed>(feed.key).await.ema_price, 90_000_000);
    refresh(&mut env, &fx, Some(feed.key)).await.expect_err(BulwarkError::OracleTooVolatile);
    // After a full window at 0.80 the average has caught up and the price is accepted.
    env.warp(600, 10).await;
    env.publish(&feed, 80_000_000, 0, true, 0).await;
    assert_eq!(env.load::<PriceFeed>(feed.key).await.ema_price, 80_000_000);
    refresh(&mut env, &fx, Some(feed.key)).await.ok();
    assert_eq!(env.clearinghouse(&fx).await.collateral_oracle_state.last_price, 800_000);
}

#[tokio::test]
async fn fake_feed_with_the_right_bytes_but_wrong_owner_is_refused() {
    let (mut env, fx, feed) = manual_setup().await;
    env.publish(&feed, 100_000_000, 0, true, 0).await;
    refresh(&mut env, &fx, Some(feed.key)).await.ok();

    // Same key, same bytes, owned by another program.
    let data = env.account_data(feed.key).await.unwrap();
    let impostor = AccountSharedData::from(foreign_account(Pubkey::new_unique(), &data));
    env.ctx.set_account(&feed.key, &impostor);
    refresh(&mut env, &fx, Some(feed.key)).await.expect_err(BulwarkError::OracleWrongOwner);
}

#[tokio::test]
async fn pyth_legacy_price_account_is_read_from_real_bytes() {
    let key = pubkey!("8ihFLu5FimgTQ1Unh4dVyEHUGodJ5gJQCrQf4KUVB9bN");
    let fake_key = Pubkey::new_unique();
    let mut pt = program_test();
    pt.add_account(key, foreign_account(PYTH_ORACLE_PROGRAM_ID, LEGACY_BONK));
    pt.add_account(fake_key, foreign_account(Pubkey::new_unique(), LEGACY_BONK));
    let mut env = TestEnv::start(pt).await;

    let header = bulwark::oracle::pyth_legacy::decode_header(LEGACY_BONK).unwrap();
    assert_eq!((header.agg_price, header.agg_conf, header.exponent), (145_975, 219, -10));
    assert_eq!((header.timestamp, header.agg_publish_slot, header.ema_price), (1_702_120_657, 234_897_842, 143_452));

    let fx = env
        .setup_clearinghouse(ClearinghouseOptions {
            collateral_oracle: market_mode_collateral(oracle_config(ORACLE_SOURCE_PYTH_LEGACY, key)),
            ..Default::default()
        })
        .await;
    let fake = env
        .setup_clearinghouse(ClearinghouseOptions {
            id: 1,
            collateral_oracle: market_mode_collateral(oracle_config(ORACLE_SOURCE_PYTH_LEGACY, fake_key)),
            ..Default::default()
        })
        .await;

    let slot = env.clock().await.slot;
    env.warp(0, 234_897_842 + 3 - slot).await;
    env.set_unix_time(1_702_120_657 + 5).await;
    let out = refresh(&mut env, &fx, Some(key)).await.ok();
    // 145975e-10 USD = 14.5975e-6 -> 14 in PRICE_PRECISION (rounded down).
    assert_eq!(out.events::<CollateralPriceV1>()[0].price, 14);
    refresh(&mut env, &fake, Some(fake_key)).await.expect_err(BulwarkError::OracleWrongOwner);

    env.warp(56, 1).await; // 61 s after publish
    refresh(&mut env, &fx, Some(key)).await.expect_err(BulwarkError::OracleStale);
}

#[tokio::test]
async fn pyth_pull_update_is_read_from_real_bytes() {
    let key = Pubkey::new_unique();
    let partial_key = Pubkey::new_unique();
    let mut partial = PULL_BONK.to_vec();
    partial[40] = 0; // VerificationLevel::Partial
    let mut pt = program_test();
    pt.add_account(key, foreign_account(PYTH_RECEIVER_PROGRAM_ID, PULL_BONK));
    pt.add_account(partial_key, foreign_account(PYTH_RECEIVER_PROGRAM_ID, &partial));
    let mut env = TestEnv::start(pt).await;

    let update = bulwark::oracle::pyth_pull::decode_update(PULL_BONK).unwrap();
    assert_eq!((update.price, update.conf, update.exponent), (345_526, 517, -10));
    assert_eq!((update.publish_time, update.ema_price, update.posted_slot), (1_717_074_117, 335_763, 268_841_733));

    let mut config = oracle_config(ORACLE_SOURCE_PYTH_PULL, key);
    config.pyth_feed_id = update.feed_id;
    let fx = env
        .setup_clearinghouse(ClearinghouseOptions {
            collateral_oracle: market_mode_collateral(config),
            ..Default::default()
        })
        .await;
    let mut wrong_id = config;
    wrong_id.pyth_feed_id[0] ^= 1;
    let wrong = env
        .setup_clearinghouse(ClearinghouseOptions {
            id: 1,
            collateral_oracle: market_mode_collateral(wrong_id),
            ..Default::default()
        })
        .await;
    let mut partial_config = config;
    partial_config.feed = partial_key;
    let partial_ch = env
        .setup_clearinghouse(ClearinghouseOptions {
            id: 2,
            collateral_oracle: market_mode_collateral(partial_config),
            ..Default::default()
        })
        .await;

    let slot = env.clock().await.slot;
    env.warp(0, 268_841_733 + 2 - slot).await;
    env.set_unix_time(1_717_074_117 + 10).await;
    let out = refresh(&mut env, &fx, Some(key)).await.ok();
    assert_eq!(out.events::<CollateralPriceV1>()[0].price, 34);
    refresh(&mut env, &wrong, Some(key)).await.expect_err(BulwarkError::OracleFeedIdMismatch);
    refresh(&mut env, &partial_ch, Some(partial_key)).await.expect_err(BulwarkError::OracleNotFullyVerified);
}

struct RedemptionSetup {
    env: TestEnv,
    fx: ClearinghouseFixture,
    market: Feed,
    rate: Feed,
    health: Feed,
}

impl RedemptionSetup {
    async fn new() -> Self {
        let mut env = TestEnv::new().await;
        let market = env.create_feed(1, -6, 60).await;
        let rate = env.create_feed(2, -6, 60).await;
        let health = env.create_feed(3, -6, 60).await;
        let config = redemption_aware_collateral(oracle_config(ORACLE_SOURCE_MANUAL, market.key), rate.key, health.key);
        let fx =
            env.setup_clearinghouse(ClearinghouseOptions { collateral_oracle: config, ..Default::default() }).await;
        Self { env, fx, market, rate, health }
    }

    async fn publish_all(&mut self, market: i64, enabled: bool, reserves: i64) {
        self.env.publish(&self.market, market, 0, true, 0).await;
        self.env.publish(&self.rate, PRICE_PRECISION, 0, true, 0).await;
        self.env.publish(&self.health, 0, 0, enabled, reserves).await;
    }

    async fn refresh(&mut self) -> TxOutcome {
        let ix = refresh_collateral_price_ix(
            &self.fx.key,
            Some(self.market.key),
            Some(self.rate.key),
            Some(self.health.key),
        );
        self.env.send(&[ix], &[]).await
    }

    async fn state(&mut self) -> CollateralOracleState {
        self.env.clearinghouse(&self.fx).await.collateral_oracle_state
    }
}

#[tokio::test]
async fn redemption_aware_mode_on_chain() {
    let mut s = RedemptionSetup::new().await;
    s.publish_all(1_000_000, true, 1_020_000).await;
    let out = s.refresh().await.ok();
    let switched = out.events::<CollateralModeChangedV1>();
    assert_eq!((switched[0].previous_mode, switched[0].mode), (REDEMPTION_MODE_UNSET, REDEMPTION_MODE_HEALTHY));
    assert_eq!(s.state().await.last_price, 1_000_000);

    // One venue prints 0.65 while redemption works: valued at r·(1 − 1%), no switch.
    s.env.warp(61, 1).await;
    s.publish_all(650_000, true, 1_020_000).await;
    let out = s.refresh().await.ok();
    assert!(out.events::<CollateralModeChangedV1>().is_empty());
    assert_eq!(out.events::<CollateralPriceV1>()[0].price, 990_000);
    let since = s.state().await.below_hard_band_since;
    assert_eq!(since, s.env.clock().await.unix_timestamp);

    // Redemption suspended: the market price rules, and the switch is announced. (A minute has
    // passed, so the market feed's own average has caught up with 0.65: in broken mode the
    // market print must pass every check.)
    s.env.warp(61, 1).await;
    s.publish_all(650_000, false, 1_020_000).await;
    let out = s.refresh().await.ok();
    let switched = out.events::<CollateralModeChangedV1>();
    assert_eq!(
        (switched[0].mode, switched[0].broken_reasons, switched[0].price),
        (REDEMPTION_MODE_BROKEN, BROKEN_REDEMPTION_DISABLED, 650_000)
    );

    // Redemption back, still inside the hard-band grace: healthy again.
    s.env.warp(61, 1).await;
    s.publish_all(650_000, true, 1_020_000).await;
    let out = s.refresh().await.ok();
    assert_eq!(out.events::<CollateralModeChangedV1>()[0].mode, REDEMPTION_MODE_HEALTHY);
    assert_eq!(s.state().await.last_price, 990_000);
    assert_eq!(s.state().await.below_hard_band_since, since, "the timer keeps running");

    // Under 0.90 for the whole grace (3,600 s): broken on the hard band.
    s.env.warp(3_600 - 2 * 61, 10).await;
    s.publish_all(650_000, true, 1_020_000).await;
    let out = s.refresh().await.ok();
    let switched = out.events::<CollateralModeChangedV1>();
    assert_eq!((switched[0].mode, switched[0].broken_reasons), (REDEMPTION_MODE_BROKEN, BROKEN_MARKET_BELOW_HARD_BAND));
    assert_eq!(s.state().await.last_price, 650_000);

    // Recovery above the hard band resets the timer; reserves under 1.0 still break it.
    s.env.warp(61, 1).await;
    s.publish_all(970_000, true, 999_999).await;
    let out = s.refresh().await.ok();
    assert_eq!(out.events::<CollateralPriceV1>()[0].broken_reasons, BROKEN_RESERVES_BELOW_ONE);
    assert_eq!(s.state().await.below_hard_band_since, 0);
    assert_eq!(s.state().await.last_price, 970_000);
}

#[tokio::test]
async fn redemption_aware_mode_breaks_on_stale_attestation() {
    let mut s = RedemptionSetup::new().await;
    s.publish_all(970_000, true, 1_020_000).await;
    s.refresh().await.ok();
    assert_eq!(s.state().await.last_price, 990_000);
    // Attestations one second past their 3,600 s limit; the market feed itself is fresh.
    s.env.warp(3_601, 10).await;
    s.env.publish(&s.market, 970_000, 0, true, 0).await;
    let out = s.refresh().await.ok();
    let switched = out.events::<CollateralModeChangedV1>();
    assert_eq!((switched[0].mode, switched[0].broken_reasons), (REDEMPTION_MODE_BROKEN, BROKEN_ATTESTATION_STALE));
    assert_eq!(s.state().await.last_price, 970_000);

    // An attestation feed that is not the configured one, or not ours.
    let impostor = s.env.create_feed(9, -6, 60).await;
    s.env.publish(&impostor, PRICE_PRECISION, 0, true, 0).await;
    let ix = refresh_collateral_price_ix(&s.fx.key, Some(s.market.key), Some(impostor.key), Some(s.health.key));
    s.env.send(&[ix], &[]).await.expect_err(BulwarkError::OracleAccountMismatch);
    let data = s.env.account_data(s.rate.key).await.unwrap();
    s.env.ctx.set_account(&s.rate.key, &AccountSharedData::from(foreign_account(Pubkey::new_unique(), &data)));
    s.refresh().await.expect_err(BulwarkError::OracleWrongOwner);
}
