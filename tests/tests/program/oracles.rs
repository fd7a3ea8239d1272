//! Every oracle source read through `refresh_collateral_price`, every validation failure
//! asserted by its named error, and the redemption-aware mode on chain.

use anchor_lang::prelude::*;
use bulwark::constants::PRICE_PRECISION;
use bulwark::error::BulwarkError;
use bulwark::events::{CollateralModeChangedV1, CollateralPriceSourceChangedV1, CollateralPriceV1, LiquidationV1};
use bulwark::math::redemption::*;
use bulwark::oracle::{pyth_legacy::PYTH_ORACLE_PROGRAM_ID, pyth_pull::PYTH_RECEIVER_PROGRAM_ID};
use bulwark::state::*;
use bulwark_tests::*;
use solana_account::{Account, AccountSharedData};
use solana_signer::Signer as _;

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

    // Stale by time (60 s allowed): the clearinghouse does not stop. The last good price (seen
    // 61 s ago) is kept as a fallback, announced, for risk-reducing actions only.
    env.warp(61, 1).await;
    let out = refresh(&mut env, &fx, Some(feed.key)).await.ok();
    let source = out.events::<CollateralPriceSourceChangedV1>();
    assert_eq!(
        (source[0].previous_source, source[0].source, source[0].price),
        (COLLATERAL_PRICE_MARKET, COLLATERAL_PRICE_LAST_GOOD, 999_500)
    );
    let state = env.clearinghouse(&fx).await.collateral_oracle_state;
    assert_eq!((state.last_price, state.price_source), (999_500, COLLATERAL_PRICE_LAST_GOOD));
    // At 900 s it still is; one second later the print's own error stops the refresh.
    env.warp(839, 1).await;
    refresh(&mut env, &fx, Some(feed.key)).await.ok();
    env.warp(1, 1).await;
    refresh(&mut env, &fx, Some(feed.key)).await.expect_err(BulwarkError::OracleStale);
    // With no good price in the last 15 minutes, every failure is refused by its name: stale
    // by slots (150 allowed), ...
    env.publish(&feed, 99_950_000, 10_000, true, 0).await;
    env.warp(0, 151).await;
    refresh(&mut env, &fx, Some(feed.key)).await.expect_err(BulwarkError::OracleStale);

    // ... confidence over 2% of the price.
    env.publish(&feed, 100_000_000, 2_000_001, true, 0).await;
    refresh(&mut env, &fx, Some(feed.key)).await.expect_err(BulwarkError::OracleConfidenceTooWide);
    env.publish(&feed, 100_000_000, 2_000_000, true, 0).await;
    let out = refresh(&mut env, &fx, Some(feed.key)).await.ok();
    let source = out.events::<CollateralPriceSourceChangedV1>();
    assert_eq!((source[0].source, source[0].price), (COLLATERAL_PRICE_MARKET, 1_000_000));

    // Zero and negative prices: refused even with a good price a moment ago.
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
    env.index.forget_data();
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

    env.warp(56, 1).await; // 61 s after publish: the last good price, as a fallback
    let out = refresh(&mut env, &fx, Some(key)).await.ok();
    assert_eq!(out.events::<CollateralPriceSourceChangedV1>()[0].source, COLLATERAL_PRICE_LAST_GOOD);
    env.warp(900, 1).await; // 15 minutes and 56 s after the last good read
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

    // One venue prints 0.65 while redemption works: valued at r·(1 − 1%), no switch. The minute
    // since the last observation (inside) is half inside, half below: the clock stays at 0.
    s.env.warp(60, 1).await;
    s.publish_all(650_000, true, 1_020_000).await;
    let out = s.refresh().await.ok();
    assert!(out.events::<CollateralModeChangedV1>().is_empty());
    assert_eq!(out.events::<CollateralPriceV1>()[0].price, 990_000);
    let state = s.state().await;
    assert_eq!((state.below_hard_band_seconds, state.last_print_below_hard_band), (0, 1));

    // Redemption suspended: the market price rules, and the switch is announced. A minute below
    // on both ends: 60 s on the clock.
    s.env.warp(60, 1).await;
    s.publish_all(650_000, false, 1_020_000).await;
    let out = s.refresh().await.ok();
    let switched = out.events::<CollateralModeChangedV1>();
    assert_eq!(
        (switched[0].mode, switched[0].broken_reasons, switched[0].price),
        (REDEMPTION_MODE_BROKEN, BROKEN_REDEMPTION_DISABLED, 650_000)
    );
    assert_eq!(s.state().await.below_hard_band_seconds, 60);

    // Redemption back, still inside the hard-band grace: healthy again; the clock keeps counting.
    s.env.warp(60, 1).await;
    s.publish_all(650_000, true, 1_020_000).await;
    let out = s.refresh().await.ok();
    assert_eq!(out.events::<CollateralModeChangedV1>()[0].mode, REDEMPTION_MODE_HEALTHY);
    assert_eq!(s.state().await.last_price, 990_000);
    assert_eq!(s.state().await.below_hard_band_seconds, 120);

    // Under 0.90 for the grace (3,600 s net), observed every 5 minutes: broken on the hard band
    // when the clock reaches it, not before.
    for _ in 0..11 {
        s.env.warp(300, 10).await;
        s.publish_all(650_000, true, 1_020_000).await;
        let out = s.refresh().await.ok();
        assert!(out.events::<CollateralModeChangedV1>().is_empty());
    }
    assert_eq!(s.state().await.below_hard_band_seconds, 3_420);
    s.env.warp(180, 10).await;
    s.publish_all(650_000, true, 1_020_000).await;
    let out = s.refresh().await.ok();
    let switched = out.events::<CollateralModeChangedV1>();
    assert_eq!((switched[0].mode, switched[0].broken_reasons), (REDEMPTION_MODE_BROKEN, BROKEN_MARKET_BELOW_HARD_BAND));
    assert_eq!(s.state().await.last_price, 650_000);
    assert_eq!(s.state().await.below_hard_band_seconds, 3_600);

    // One print back above the hard band does not end it (the interval is half below, half
    // inside); reserves under 1.0 break it too.
    s.env.warp(60, 1).await;
    s.publish_all(970_000, true, 999_999).await;
    let out = s.refresh().await.ok();
    assert_eq!(
        out.events::<CollateralPriceV1>()[0].broken_reasons,
        BROKEN_RESERVES_BELOW_ONE | BROKEN_MARKET_BELOW_HARD_BAND
    );
    assert_eq!(s.state().await.below_hard_band_seconds, 3_600);
    assert_eq!(s.state().await.last_price, 970_000);
}

/// The hard-band clock integrates observations: a refresh timed at a one-second bounce inside
/// the band does not reset it (a timer reset by any refresh inside the band would have given
/// the print below another full grace).
#[tokio::test]
async fn hard_band_clock_is_not_reset_by_a_well_timed_refresh() {
    let mut s = RedemptionSetup::new().await;
    s.publish_all(650_000, true, 1_020_000).await;
    s.refresh().await.ok();
    // 50 minutes below, observed every 5 minutes: 3,000 s.
    for _ in 0..10 {
        s.env.warp(300, 10).await;
        s.publish_all(650_000, true, 1_020_000).await;
        s.refresh().await.ok();
    }
    assert_eq!(s.state().await.below_hard_band_seconds, 3_000);
    // The print bounces to 0.97 for a second and someone refreshes right then.
    s.env.warp(1, 1).await;
    s.publish_all(970_000, true, 1_020_000).await;
    let out = s.refresh().await.ok();
    assert_eq!(out.events::<CollateralPriceV1>()[0].price, 990_000);
    let state = s.state().await;
    assert_eq!((state.below_hard_band_seconds, state.redemption_mode), (2_999, REDEMPTION_MODE_HEALTHY));
    // Back below: the bounce's intervals cancel, and the remaining 10 minutes break it on time.
    s.env.warp(299, 10).await;
    s.publish_all(650_000, true, 1_020_000).await;
    s.refresh().await.ok();
    assert_eq!(s.state().await.below_hard_band_seconds, 3_000);
    s.env.warp(300, 10).await;
    s.publish_all(650_000, true, 1_020_000).await;
    s.refresh().await.ok();
    assert_eq!(s.state().await.redemption_mode, REDEMPTION_MODE_HEALTHY);
    s.env.warp(300, 10).await;
    s.publish_all(650_000, true, 1_020_000).await;
    let out = s.refresh().await.ok();
    let switched = out.events::<CollateralModeChangedV1>();
    assert_eq!((switched[0].mode, switched[0].broken_reasons), (REDEMPTION_MODE_BROKEN, BROKEN_MARKET_BELOW_HARD_BAND));
    assert_eq!(s.state().await.below_hard_band_seconds, 3_600);
}

/// A redemption rate attested above par is never believed to value the collateral above par:
/// up to 0.5% over it is taken as par; beyond, the attestation is not believed at all and the
/// market print rules (capped at par).
#[tokio::test]
async fn redemption_rate_above_par_is_bounded() {
    let mut s = RedemptionSetup::new().await;
    s.env.publish(&s.market, 1_004_000, 0, true, 0).await;
    s.env.publish(&s.rate, 1_005_000, 0, true, 0).await;
    s.env.publish(&s.health, 0, 0, true, 1_020_000).await;
    let out = s.refresh().await.ok();
    let price = &out.events::<CollateralPriceV1>()[0];
    assert_eq!((price.price, price.redemption_mode), (1_000_000, REDEMPTION_MODE_HEALTHY));

    // A rate of 2.0 (a bad or hostile attestation): broken, valued at the market, not above par.
    s.env.publish(&s.rate, 2_000_000, 0, true, 0).await;
    let out = s.refresh().await.ok();
    let switched = out.events::<CollateralModeChangedV1>();
    assert_eq!(
        (switched[0].mode, switched[0].broken_reasons, switched[0].price),
        (REDEMPTION_MODE_BROKEN, BROKEN_RATE_OUT_OF_BOUNDS, 1_000_000)
    );
    s.env.publish(&s.market, 970_000, 0, true, 0).await;
    let out = s.refresh().await.ok();
    assert_eq!(out.events::<CollateralPriceV1>()[0].price, 970_000);

    // A rate of 0 no longer stops the refresh: not believed either.
    s.env.publish(&s.rate, 0, 0, true, 0).await;
    let out = s.refresh().await.ok();
    let price = &out.events::<CollateralPriceV1>()[0];
    assert_eq!((price.price, price.broken_reasons), (970_000, BROKEN_RATE_OUT_OF_BOUNDS));
}

/// In healthy redemption mode a stale market print falls back to the soft floor (announced);
/// in broken mode the last good price is kept for 15 minutes.
#[tokio::test]
async fn stale_collateral_print_falls_back_by_mode() {
    let mut s = RedemptionSetup::new().await;
    s.publish_all(998_000, true, 1_020_000).await;
    s.refresh().await.ok();
    assert_eq!(s.state().await.last_price, 998_000);
    // The market feed stops (61 s > its 60 s limit); the attestations keep coming.
    s.env.warp(61, 1).await;
    s.env.publish(&s.rate, PRICE_PRECISION, 0, true, 0).await;
    s.env.publish(&s.health, 0, 0, true, 1_020_000).await;
    let out = s.refresh().await.ok();
    let source = out.events::<CollateralPriceSourceChangedV1>();
    assert_eq!(
        (source[0].previous_source, source[0].source, source[0].price, source[0].redemption_mode),
        (COLLATERAL_PRICE_MARKET, COLLATERAL_PRICE_SOFT_FLOOR, 990_000, REDEMPTION_MODE_HEALTHY)
    );
    // A stale print is no observation: the hard-band clock does not move.
    let state = s.state().await;
    assert_eq!((state.below_hard_band_seconds, state.last_print_below_hard_band), (0, 0));

    // Redemption suspended while the print is still stale: broken, the last good price kept.
    s.env.warp(60, 1).await;
    s.env.publish(&s.rate, PRICE_PRECISION, 0, true, 0).await;
    s.env.publish(&s.health, 0, 0, false, 1_020_000).await;
    let out = s.refresh().await.ok();
    assert_eq!(out.events::<CollateralModeChangedV1>()[0].mode, REDEMPTION_MODE_BROKEN);
    let source = out.events::<CollateralPriceSourceChangedV1>();
    // The last price recorded (the soft floor) is what is kept.
    assert_eq!((source[0].source, source[0].price), (COLLATERAL_PRICE_LAST_GOOD, 990_000));
    // 15 minutes after the last usable print, refused by the print's own error.
    s.env.warp(900 - 121 + 1, 1).await;
    s.env.publish(&s.rate, PRICE_PRECISION, 0, true, 0).await;
    s.env.publish(&s.health, 0, 0, false, 1_020_000).await;
    s.refresh().await.expect_err(BulwarkError::OracleStale);
    // A fresh print ends the fallback, announced.
    s.publish_all(980_000, false, 1_020_000).await;
    let out = s.refresh().await.ok();
    let source = out.events::<CollateralPriceSourceChangedV1>();
    assert_eq!(
        (source[0].previous_source, source[0].source, source[0].price),
        (COLLATERAL_PRICE_LAST_GOOD, COLLATERAL_PRICE_MARKET, 980_000)
    );
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
    s.env.index.forget_data();
    s.refresh().await.expect_err(BulwarkError::OracleWrongOwner);
}

// ---- per-action oracle tolerance: a stale side market does not block liquidation ----------

/// Two markets at $100 with a fixed-price collateral: Alice buys 10 of each from a maker with
/// $250 deposited (after $1 of taker fee per trade she holds $248 against $2,000 of longs).
struct TwoMarkets {
    env: TestEnv,
    fx: ClearinghouseFixture,
    a: MarketFixture,
    b: MarketFixture,
    maker: User,
    alice: User,
}

impl TwoMarkets {
    async fn new() -> Self {
        let mut env = TestEnv::new().await;
        let opts = ClearinghouseOptions { timelock_seconds: 0, ..Default::default() };
        let mut fx = env.setup_clearinghouse(opts).await;
        let a = env.setup_market(&mut fx, simple_market_params(), 100).await;
        let b = env.setup_market(&mut fx, simple_market_params(), 100).await;
        let maker = env.create_user(&mut fx, 1_000_000 * USD).await;
        env.deposit(&fx, &maker, 100_000 * USD).await.ok();
        let alice = env.create_user(&mut fx, 1_000 * USD).await;
        env.deposit(&fx, &alice, 250 * USD).await.ok();
        let mut s = Self { env, fx, a, b, maker, alice };
        for which in [0, 1] {
            let (m, other) = if which == 0 { (&s.a, &s.b) } else { (&s.b, &s.a) };
            let others = if which == 0 { vec![] } else { vec![other.key, other.oracle] };
            s.env.place(&s.fx, &s.maker, m, order(SIDE_ASK, ORDER_TYPE_POST_ONLY, 100, 10), &others).await.ok();
            let mut remaining = others.clone();
            remaining.push(s.maker.margin_account);
            let args = order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 100, 10);
            s.env.place(&s.fx, &s.alice, m, args, &remaining).await.ok();
        }
        assert_eq!(s.env.margin(s.alice.margin_account).await.collateral_balance, 248 * USD);
        s.env.check_invariants(&s.fx).await;
        s
    }

    /// Publish `a_usd` on A and, if `b_usd` is given, on B (whole dollars).
    async fn publish(&mut self, a_usd: i64, b_usd: Option<i64>) {
        self.env.publish(&self.a.feed, a_usd * 1_000_000, 0, true, 0).await;
        if let Some(b) = b_usd {
            self.env.publish(&self.b.feed, b * 1_000_000, 0, true, 0).await;
        }
    }

    async fn takeover(&mut self, liquidator: &User, max_lots: u64) -> TxOutcome {
        let owner = liquidator.owner.insecure_clone();
        let ix = liquidate_takeover_ix(
            &owner.pubkey(),
            &self.fx,
            &liquidator.margin_account,
            &self.alice.margin_account,
            &self.a,
            max_lots,
            &[self.b.key, self.b.oracle],
        );
        let out = self.env.send(&[ix], &[&owner]).await;
        self.env.check_invariants(&self.fx).await;
        out
    }
}

#[tokio::test]
async fn stale_side_market_does_not_block_liquidation() {
    let mut s = TwoMarkets::new().await;
    let liquidator = s.env.create_user(&mut s.fx, 100_000 * USD).await;
    s.env.deposit(&s.fx, &liquidator, 10_000 * USD).await.ok();

    // A falls to $81 in two 10% steps (each within the feed's 10% moving-average limit), B
    // stays at $100: equity 248 − 190 = $58 under maintenance 5% × (810 + 1,000) = $90.5.
    s.publish(90, Some(100)).await;
    s.env.warp(600, 10).await;
    s.publish(81, Some(100)).await;
    // B's feed then stops: 61 s later only A is republished.
    s.env.warp(61, 10).await;
    s.publish(81, None).await;

    // What every action pricing all markets strictly hits: B's stale feed. A risk-raising order
    // on A (which values B too) is refused with it, as liquidations were.
    let args = order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 81, 1);
    s.env.place(&s.fx, &s.alice, &s.a, args, &[s.b.key, s.b.oracle]).await.expect_err(BulwarkError::OracleStale);

    // A takeover on A values B by the relaxed rule: $100 ± (1 + 1 period) × 1% = [98, 102],
    // read in Alice's favour: equity 58 + 20 = 78 against 40.5 + 5% × 980 = 89.5: liquidatable.
    // The liquidator takes 3 lots of A at $81 ($243), Alice pays 2.5% ($6.075), half to
    // insurance.
    let insurance = s.env.clearinghouse(&s.fx).await.insurance_balance;
    let out = s.takeover(&liquidator, 3).await.ok();
    let liq = &out.events::<LiquidationV1>()[0];
    assert_eq!((liq.base_lots, liq.oracle_price, liq.quote), (-3, 81_000_000, 243_000_000));
    assert_eq!((liq.fee, liq.liquidator_reward, liq.insurance_fee), (6_075_000, 3_037_500, 3_037_500));
    assert_eq!(liq.equity_before, 78_000_000);
    let relaxed = out.events::<bulwark::events::RelaxedOraclePriceV1>();
    assert_eq!(relaxed.len(), 1);
    assert_eq!(
        (relaxed[0].market, relaxed[0].usd_low, relaxed[0].usd_price, relaxed[0].usd_high),
        (s.b.key, 98_000_000, 100_000_000, 102_000_000)
    );
    // Alice realised −$57 on 3 lots and paid the fee; the liquidator holds 3 lots at $81.
    let alice = s.env.margin(s.alice.margin_account).await;
    assert_eq!(alice.collateral_balance, 248 * USD - 57 * USD - 6_075_000);
    assert_eq!(s.env.position(&s.alice, &s.a).await.base_lots, 7);
    assert_eq!(s.env.position(&liquidator, &s.a).await.base_lots, 3);
    assert_eq!(s.env.margin(liquidator.margin_account).await.collateral_balance, 10_000 * USD + 3_037_500);
    assert_eq!(s.env.clearinghouse(&s.fx).await.insurance_balance, insurance + 3_037_500);

    // Past ten staleness limits (600 s) B's price is no longer usable, even relaxed.
    s.env.warp(540, 10).await;
    s.publish(81, None).await;
    s.takeover(&liquidator, 1).await.expect_err(BulwarkError::OracleStale);
    assert_eq!(s.env.position(&s.alice, &s.a).await.base_lots, 7);
}

#[tokio::test]
async fn relaxed_side_price_never_makes_a_healthy_account_liquidatable() {
    let mut s = TwoMarkets::new().await;
    let liquidator = s.env.create_user(&mut s.fx, 100_000 * USD).await;
    s.env.deposit(&s.fx, &liquidator, 10_000 * USD).await.ok();

    // A at $81 and B at $104.5: equity 248 − 190 + 45 = $103 against 5% × (810 + 1,045) =
    // $92.75: healthy.
    s.env.publish(&s.a.feed, 90_000_000, 0, true, 0).await;
    s.env.publish(&s.b.feed, 104_500_000, 0, true, 0).await;
    s.env.warp(600, 10).await;
    s.publish(81, None).await;
    s.env.publish(&s.b.feed, 104_500_000, 0, true, 0).await;
    // B goes stale by 61 s: its band is 104.5 ± 2.09 = [102.41, 106.59]. Read against her
    // (PnL at the low end, requirement at the high end) Alice would be liquidatable: equity
    // 58 + 24.1 = 82.1 < 40.5 + 53.295. A relaxed price is read in her favour, so she is not.
    s.env.warp(61, 10).await;
    s.publish(81, None).await;
    s.takeover(&liquidator, 0).await.expect_err(BulwarkError::AccountNotLiquidatable);
    let ix =
        update_liquidation_status_ix(&s.fx.key, &s.alice.margin_account, &[s.a.key, s.a.oracle, s.b.key, s.b.oracle]);
    s.env.send(&[ix], &[]).await.expect_err(BulwarkError::LiquidationStatusUnchanged);
    assert_eq!(s.env.position(&s.alice, &s.a).await.base_lots, 10);
    assert_eq!(s.env.margin(s.alice.margin_account).await.collateral_balance, 248 * USD);
}
