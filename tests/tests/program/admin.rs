//! Timelocked parameter changes and the limits of each role.

use anchor_lang::prelude::*;
use bulwark::controller::pricing::{health, MarketPrice};
use bulwark::error::BulwarkError;
use bulwark::events::{
    FeesSweptV1, ParamChangeAppliedV1, ParamChangeCancelledV1, ParamChangeDelayedV1, ParamChangeProposedV1,
};
use bulwark::instructions::InitializeClearinghouseArgs;
use bulwark::state::*;
use bulwark_tests::*;
use solana_signer::Signer as _;

const DAY: i64 = 86_400;

#[tokio::test]
async fn risk_raising_change_waits_for_the_timelock_then_anyone_executes() {
    let mut env = TestEnv::new().await;
    let fx = env.setup_clearinghouse(ClearinghouseOptions { timelock_seconds: DAY, ..Default::default() }).await;
    let admin = fx.admin.insecure_clone();
    let new_guardian = Pubkey::new_unique();
    let stranger = env.funded_keypair().await;
    let start = env.clock().await.unix_timestamp;

    let change = ParamChange::SetGuardian { guardian: new_guardian };
    let out = env.send(&[propose_param_change_ix(&admin.pubkey(), &fx.key, change)], &[&admin]).await.ok();
    let proposed = out.events::<ParamChangeProposedV1>();
    assert_eq!(proposed.len(), 1);
    assert_eq!(proposed[0].executable_unix, start + DAY);
    let ch = env.clearinghouse(&fx).await;
    assert_eq!(ch.guardian, fx.guardian.pubkey(), "not applied yet");
    assert_eq!(ch.pending_change.kind, 2);

    // Too early, by the admin or anyone.
    env.send(&[execute_param_change_ix(&admin.pubkey(), &fx.key)], &[&admin])
        .await
        .expect_err(BulwarkError::TimelockNotElapsed);
    env.warp(DAY - 1, 10).await;
    env.send(&[execute_param_change_ix(&stranger.pubkey(), &fx.key)], &[&stranger])
        .await
        .expect_err(BulwarkError::TimelockNotElapsed);

    // Bypass attempt: shortening the timelock is itself risk-raising, and the slot is taken.
    let shorten = ParamChange::SetTimelock { seconds: 0 };
    env.send(&[propose_param_change_ix(&admin.pubkey(), &fx.key, shorten)], &[&admin])
        .await
        .expect_err(BulwarkError::ParamChangePending);
    assert_eq!(env.clearinghouse(&fx).await.timelock_seconds, DAY);

    env.warp(1, 10).await;
    let out = env.send(&[execute_param_change_ix(&stranger.pubkey(), &fx.key)], &[&stranger]).await.ok();
    let applied = out.events::<ParamChangeAppliedV1>();
    assert_eq!((applied[0].kind, applied[0].via_timelock), (2, true));
    let ch = env.clearinghouse(&fx).await;
    assert_eq!(ch.guardian, new_guardian);
    assert!(!ch.pending_change.is_pending());
    env.send(&[execute_param_change_ix(&stranger.pubkey(), &fx.key)], &[&stranger])
        .await
        .expect_err(BulwarkError::NoPendingParamChange);
    env.check_invariants(&fx).await;
}

#[tokio::test]
async fn shortened_timelock_does_not_shorten_itself() {
    let mut env = TestEnv::new().await;
    let fx = env.setup_clearinghouse(ClearinghouseOptions { timelock_seconds: DAY, ..Default::default() }).await;
    let admin = fx.admin.insecure_clone();

    env.send(&[propose_param_change_ix(&admin.pubkey(), &fx.key, ParamChange::SetTimelock { seconds: 0 })], &[&admin])
        .await
        .ok();
    env.send(&[execute_param_change_ix(&admin.pubkey(), &fx.key)], &[&admin])
        .await
        .expect_err(BulwarkError::TimelockNotElapsed);
    env.warp(DAY, 10).await;
    env.send(&[execute_param_change_ix(&admin.pubkey(), &fx.key)], &[&admin]).await.ok();
    assert_eq!(env.clearinghouse(&fx).await.timelock_seconds, 0);
    // With a zero timelock a risk-raising change still goes through propose + execute.
    let change = ParamChange::SetAdmin { admin: Pubkey::new_unique() };
    env.send(&[propose_param_change_ix(&admin.pubkey(), &fx.key, change)], &[&admin]).await.ok();
    assert_eq!(env.clearinghouse(&fx).await.admin, admin.pubkey());
    env.send(&[execute_param_change_ix(&admin.pubkey(), &fx.key)], &[&admin]).await.ok();
    assert_ne!(env.clearinghouse(&fx).await.admin, admin.pubkey());
}

#[tokio::test]
async fn pending_change_can_be_cancelled_by_the_admin_only() {
    let mut env = TestEnv::new().await;
    let fx = env.setup_clearinghouse(ClearinghouseOptions { timelock_seconds: DAY, ..Default::default() }).await;
    let admin = fx.admin.insecure_clone();
    let guardian = fx.guardian.insecure_clone();
    let looser = ParamChange::SetWithdrawalBreaker {
        window_seconds: 3_600,
        max_net_outflow_bps: 10_000,
        min_outflow_allowance: 1,
    };
    env.send(&[propose_param_change_ix(&admin.pubkey(), &fx.key, looser)], &[&admin]).await.ok();

    env.send(&[cancel_param_change_ix(&guardian.pubkey(), &fx.key)], &[&guardian])
        .await
        .expect_err(BulwarkError::NotAdmin);
    let out = env.send(&[cancel_param_change_ix(&admin.pubkey(), &fx.key)], &[&admin]).await.ok();
    assert_eq!(out.events::<ParamChangeCancelledV1>()[0].kind, 4);
    env.send(&[cancel_param_change_ix(&admin.pubkey(), &fx.key)], &[&admin])
        .await
        .expect_err(BulwarkError::NoPendingParamChange);

    // Cancelled means gone: after the timelock there is nothing to execute.
    env.warp(DAY, 10).await;
    env.send(&[execute_param_change_ix(&admin.pubkey(), &fx.key)], &[&admin])
        .await
        .expect_err(BulwarkError::NoPendingParamChange);
    assert_eq!(env.clearinghouse(&fx).await.withdrawal_breaker.min_outflow_allowance, 0);
}

#[tokio::test]
async fn risk_lowering_changes_apply_at_once() {
    let mut env = TestEnv::new().await;
    let fx = env
        .setup_clearinghouse(ClearinghouseOptions {
            timelock_seconds: DAY,
            breaker_max_net_outflow_bps: 5_000,
            breaker_min_outflow_allowance: 1_000,
            ..Default::default()
        })
        .await;
    let admin = fx.admin.insecure_clone();

    let longer = ParamChange::SetTimelock { seconds: 2 * DAY };
    let out = env.send(&[propose_param_change_ix(&admin.pubkey(), &fx.key, longer)], &[&admin]).await.ok();
    assert_eq!(out.events::<ParamChangeAppliedV1>()[0].via_timelock, false);
    assert_eq!(env.clearinghouse(&fx).await.timelock_seconds, 2 * DAY);

    let stricter = ParamChange::SetWithdrawalBreaker {
        window_seconds: 7_200,
        max_net_outflow_bps: 1_000,
        min_outflow_allowance: 0,
    };
    env.send(&[propose_param_change_ix(&admin.pubkey(), &fx.key, stricter)], &[&admin]).await.ok();
    let ch = env.clearinghouse(&fx).await;
    assert_eq!(
        (
            ch.withdrawal_breaker.window_seconds,
            ch.withdrawal_breaker.max_net_outflow_bps,
            ch.withdrawal_breaker.min_outflow_allowance
        ),
        (7_200, 1_000, 0)
    );
    assert!(!ch.pending_change.is_pending());

    // Invalid values are refused on either path.
    let nonsense =
        ParamChange::SetWithdrawalBreaker { window_seconds: 0, max_net_outflow_bps: 0, min_outflow_allowance: 0 };
    env.send(&[propose_param_change_ix(&admin.pubkey(), &fx.key, nonsense)], &[&admin])
        .await
        .expect_err(BulwarkError::InvalidParameter);
    let too_long = ParamChange::SetTimelock { seconds: i64::MAX };
    env.send(&[propose_param_change_ix(&admin.pubkey(), &fx.key, too_long)], &[&admin])
        .await
        .expect_err(BulwarkError::InvalidParameter);
}

#[tokio::test]
async fn guardian_can_pause_and_nothing_else() {
    let mut env = TestEnv::new().await;
    let mut fx = env.setup_clearinghouse(ClearinghouseOptions { timelock_seconds: 0, ..Default::default() }).await;
    let g = fx.guardian.insecure_clone();
    let alice = env.create_user(&mut fx, 1_000).await;
    env.deposit(&fx, &alice, 1_000).await.ok();

    for change in [
        ParamChange::SetGuardian { guardian: Pubkey::new_unique() },
        ParamChange::SetAdmin { admin: g.pubkey() },
        ParamChange::SetTimelock { seconds: DAY },
    ] {
        env.send(&[propose_param_change_ix(&g.pubkey(), &fx.key, change)], &[&g])
            .await
            .expect_err(BulwarkError::NotAdmin);
    }
    env.send(&[cancel_param_change_ix(&g.pubkey(), &fx.key)], &[&g]).await.expect_err(BulwarkError::NotAdmin);
    let guardian_wallet = env.create_token_account(&fx.mint, &g.pubkey()).await;
    let ix = withdraw_ix(&g.pubkey(), &fx.key, &alice.margin_account, &fx.collateral_vault, &guardian_wallet, 1_000);
    env.send(&[ix], &[&g]).await.expect_err(BulwarkError::NotOwner);
    env.send(&[pause_ix(&g.pubkey(), &fx.key)], &[&g]).await.ok();
    assert!(env.clearinghouse(&fx).await.is_paused());
    env.check_invariants(&fx).await;
}

#[tokio::test]
async fn new_collateral_oracle_waits_for_the_timelock() {
    let mut env = TestEnv::new().await;
    let fx = env.setup_clearinghouse(ClearinghouseOptions { timelock_seconds: DAY, ..Default::default() }).await;
    let admin = fx.admin.insecure_clone();
    // The April 2026 pattern: list a feed the admin controls and switch to it at once.
    let admin_feed = env.create_feed(1, -6, 60).await;
    let config = market_mode_collateral(oracle_config(ORACLE_SOURCE_MANUAL, admin_feed.key));
    env.send(
        &[propose_param_change_ix(&admin.pubkey(), &fx.key, ParamChange::SetCollateralOracle { config })],
        &[&admin],
    )
    .await
    .ok();
    assert_eq!(env.clearinghouse(&fx).await.collateral_oracle.market.source, ORACLE_SOURCE_FIXED);
    // While it waits, exits cannot be narrowed: a tighter breaker is refused.
    let tighter =
        ParamChange::SetWithdrawalBreaker { window_seconds: 3_600, max_net_outflow_bps: 500, min_outflow_allowance: 0 };
    env.send(&[propose_param_change_ix(&admin.pubkey(), &fx.key, tighter)], &[&admin])
        .await
        .expect_err(BulwarkError::ParamChangePending);
    env.send(&[execute_param_change_ix(&admin.pubkey(), &fx.key)], &[&admin])
        .await
        .expect_err(BulwarkError::TimelockNotElapsed);

    // Not executed within its window (7 days after it became executable): expired.
    env.warp(DAY + 7 * DAY + 1, 10).await;
    env.send(&[execute_param_change_ix(&admin.pubkey(), &fx.key)], &[&admin])
        .await
        .expect_err(BulwarkError::ParamChangeExpired);
    env.send(&[cancel_param_change_ix(&admin.pubkey(), &fx.key)], &[&admin]).await.ok();
    assert_eq!(env.clearinghouse(&fx).await.collateral_oracle.market.source, ORACLE_SOURCE_FIXED);

    // Proposed again and executed in time.
    env.send(
        &[propose_param_change_ix(&admin.pubkey(), &fx.key, ParamChange::SetCollateralOracle { config })],
        &[&admin],
    )
    .await
    .ok();
    env.warp(DAY, 10).await;
    env.send(&[execute_param_change_ix(&admin.pubkey(), &fx.key)], &[&admin]).await.ok();
    assert_eq!(env.clearinghouse(&fx).await.collateral_oracle.market.feed, admin_feed.key);
}

#[tokio::test]
async fn invalid_configurations_are_refused() {
    let mut env = TestEnv::new().await;
    let admin = env.funded_keypair().await;
    let mint_authority = env.funded_keypair().await;
    let mint = env.create_mint(&mint_authority.pubkey(), 6).await;
    let feed = env.create_feed(1, -6, 60).await;
    let base = InitializeClearinghouseArgs {
        id: 0,
        guardian: Pubkey::new_unique(),
        timelock_seconds: DAY,
        collateral_oracle: market_mode_collateral(oracle_config(ORACLE_SOURCE_MANUAL, feed.key)),
        breaker_window_seconds: 3_600,
        breaker_max_net_outflow_bps: 1_000,
        breaker_min_outflow_allowance: 0,
        waterfall: default_waterfall(),
    };
    let cases = [
        // The market print and the redemption attestation are the same feed.
        InitializeClearinghouseArgs {
            collateral_oracle: redemption_aware_collateral(
                oracle_config(ORACLE_SOURCE_MANUAL, feed.key),
                feed.key,
                Pubkey::new_unique(),
            ),
            ..base.clone()
        },
        // A pull feed with no feed id.
        InitializeClearinghouseArgs {
            collateral_oracle: market_mode_collateral(oracle_config(ORACLE_SOURCE_PYTH_PULL, Pubkey::new_unique())),
            ..base.clone()
        },
        // No staleness bound.
        InitializeClearinghouseArgs {
            collateral_oracle: market_mode_collateral(OracleConfig {
                max_staleness_seconds: 0,
                ..oracle_config(ORACLE_SOURCE_MANUAL, feed.key)
            }),
            ..base.clone()
        },
        InitializeClearinghouseArgs {
            collateral_oracle: market_mode_collateral(OracleConfig {
                source: 9,
                ..oracle_config(ORACLE_SOURCE_MANUAL, feed.key)
            }),
            ..base.clone()
        },
    ];
    for args in cases {
        env.send(&[initialize_clearinghouse_ix(&admin.pubkey(), &mint, args)], &[&admin])
            .await
            .expect_err(BulwarkError::InvalidOracleConfig);
    }
    for args in [
        InitializeClearinghouseArgs { breaker_max_net_outflow_bps: 0, ..base.clone() },
        InitializeClearinghouseArgs { breaker_window_seconds: i64::MAX, ..base.clone() },
        InitializeClearinghouseArgs { timelock_seconds: -1, ..base.clone() },
        // ADL with no grace would force out an account the instant it dips.
        InitializeClearinghouseArgs {
            waterfall: WaterfallParams { adl_grace_slots: 0, ..default_waterfall() },
            ..base.clone()
        },
        InitializeClearinghouseArgs {
            waterfall: WaterfallParams { book_liquidation_band_bps: 0, ..default_waterfall() },
            ..base.clone()
        },
        InitializeClearinghouseArgs {
            waterfall: WaterfallParams { insurance_unstake_cooldown_seconds: -1, ..default_waterfall() },
            ..base.clone()
        },
    ] {
        env.send(&[initialize_clearinghouse_ix(&admin.pubkey(), &mint, args)], &[&admin])
            .await
            .expect_err(BulwarkError::InvalidParameter);
    }
    // Another signer cannot take the address a client derives for this admin.
    let squatter = env.funded_keypair().await;
    let mut ix = initialize_clearinghouse_ix(&admin.pubkey(), &mint, base.clone());
    ix.accounts[0].pubkey = squatter.pubkey();
    env.send(&[ix], &[&squatter]).await.expect_anchor_err(anchor_lang::error::ErrorCode::ConstraintSeeds);
    env.send(&[initialize_clearinghouse_ix(&admin.pubkey(), &mint, base)], &[&admin]).await.ok();
}

#[tokio::test]
async fn feed_authority_and_feed_parameters() {
    let mut env = TestEnv::new().await;
    let feed = env.create_feed(1, -6, 60).await;
    let stranger = env.funded_keypair().await;
    let update =
        bulwark::instructions::PriceFeedUpdate { price: 1, conf: 0, redemption_enabled: true, reserve_ratio: 0 };
    env.send(&[update_price_feed_ix(&stranger.pubkey(), &feed.key, update)], &[&stranger])
        .await
        .expect_err(BulwarkError::NotFeedAuthority);
    let payer = env.payer();
    for (exponent, window) in [(i32::MIN, 60), (19, 60), (-6, 0)] {
        env.send(&[create_price_feed_ix(&stranger.pubkey(), &payer.pubkey(), 5, exponent, window)], &[&stranger])
            .await
            .expect_err(BulwarkError::InvalidParameter);
    }
}

#[tokio::test]
async fn waterfall_changes_always_wait_the_timelock() {
    let mut env = TestEnv::new().await;
    let fx = env.setup_clearinghouse(ClearinghouseOptions { timelock_seconds: DAY, ..Default::default() }).await;
    let admin = fx.admin.insecure_clone();
    // Even a longer grace and cooldown wait: each knob cuts both ways.
    let params =
        WaterfallParams { adl_grace_slots: 500, insurance_unstake_cooldown_seconds: 7_200, ..default_waterfall() };
    let change = ParamChange::SetWaterfall { params };
    env.send(&[propose_param_change_ix(&admin.pubkey(), &fx.key, change)], &[&admin]).await.ok();
    assert_eq!(env.clearinghouse(&fx).await.waterfall, default_waterfall(), "not applied yet");
    env.warp(DAY - 1, 10).await;
    env.send(&[execute_param_change_ix(&admin.pubkey(), &fx.key)], &[&admin])
        .await
        .expect_err(BulwarkError::TimelockNotElapsed);
    env.warp(1, 1).await;
    let out = env.send(&[execute_param_change_ix(&admin.pubkey(), &fx.key)], &[&admin]).await.ok();
    assert_eq!(out.events::<ParamChangeAppliedV1>()[0].kind, 7);
    assert_eq!(env.clearinghouse(&fx).await.waterfall, params);
    // Invalid values are refused at proposal.
    let bad = ParamChange::SetWaterfall { params: WaterfallParams { max_fill_deviation_bps: 0, ..params } };
    env.send(&[propose_param_change_ix(&admin.pubkey(), &fx.key, bad)], &[&admin])
        .await
        .expect_err(BulwarkError::InvalidParameter);
}

/// The admin's ways to liquidate healthy accounts at once, closed: a higher maintenance
/// margin waits the timelock like any other change that can liquidate someone.
#[tokio::test]
async fn raising_maintenance_to_liquidate_a_4x_account_waits_the_timelock() {
    let mut desk = Desk::new(simple_market_params()).await;
    let admin = desk.fx.admin.insecure_clone();
    let raise_timelock = ParamChange::SetTimelock { seconds: DAY };
    desk.env.send(&[propose_param_change_ix(&admin.pubkey(), &desk.fx.key, raise_timelock)], &[&admin]).await.ok();
    let alice = desk.user(1_000 * USD).await;
    let bob = desk.user(10_000 * USD).await;
    let liquidator = desk.user(10_000 * USD).await;
    // Alice: long 40 at $100 ($4,000) on $1,000 less a $4 taker fee: 4x, healthy.
    desk.trade(&bob, &alice, SIDE_ASK, 100, 40).await;
    let before = desk.health(&alice).await;
    assert_eq!((before.equity, before.maintenance_requirement), (996 * USD as i128, 200 * USD as i128));

    // The attack: maintenance 30% (initial 40%) would make her liquidatable at once
    // ($1,200 required of $996), and the admin's liquidator would collect the fee.
    let risk = MarketRisk {
        initial_margin_bps: 4_000,
        maintenance_margin_bps: 3_000,
        ..MarketRisk::of(&simple_market_params())
    };
    let mut raised = desk.env.market(&desk.market).await;
    raised.params = risk.applied_to(&raised.params);
    let account = desk.margin(&alice).await;
    let would_be = health(&account, &[MarketPrice::new(&raised, desk.price)]).unwrap();
    assert_eq!(would_be.maintenance_requirement, 1_200 * USD as i128);
    assert!(!would_be.meets_maintenance());

    // It is parked behind the timelock, not applied, and Alice is still not liquidatable.
    let change = ParamChange::SetMarketRisk { market_index: desk.market.index, risk };
    let out = desk
        .env
        .send(
            &[propose_market_param_change_ix(&admin.pubkey(), &desk.fx.key, Some(desk.market.key), change)],
            &[&admin],
        )
        .await
        .ok();
    assert_eq!(out.events::<ParamChangeProposedV1>().len(), 1);
    assert!(out.events::<ParamChangeAppliedV1>().is_empty());
    assert_eq!(desk.env.market(&desk.market).await.params.maintenance_margin_bps, 500);
    assert_eq!(desk.env.clearinghouse(&desk.fx).await.pending_change.kind, 6);
    desk.takeover(&liquidator, &alice, 40).await.expect_err(BulwarkError::AccountNotLiquidatable);

    // The timelock is her exit window: she sells half (another $2 fee) ...
    desk.trade(&bob, &alice, SIDE_BID, 100, 20).await;
    desk.env.warp(DAY, 10).await;
    desk.refresh_price().await;
    desk.env
        .send(&[execute_market_param_change_ix(&admin.pubkey(), &desk.fx.key, Some(desk.market.key))], &[&admin])
        .await
        .ok();
    assert_eq!(desk.env.market(&desk.market).await.params.maintenance_margin_bps, 3_000);
    // ... and is healthy under the new rule: 30% of $2,000 = $600 of $994.
    let after = desk.health(&alice).await;
    assert_eq!((after.equity, after.maintenance_requirement), (994 * USD as i128, 600 * USD as i128));
    desk.takeover(&liquidator, &alice, 20).await.expect_err(BulwarkError::AccountNotLiquidatable);
    desk.check().await;
}

/// Every market, waterfall and oracle parameter has bounds; a change outside them is refused
/// whichever path it takes.
#[tokio::test]
async fn parameters_outside_their_bounds_are_refused() {
    let mut env = TestEnv::new().await;
    let mut fx = env.setup_clearinghouse(ClearinghouseOptions { timelock_seconds: 0, ..Default::default() }).await;
    let market = env.setup_market(&mut fx, simple_market_params(), 100).await;
    let admin = fx.admin.insecure_clone();
    let current = MarketRisk::of(&simple_market_params());
    let risk_change = |risk: MarketRisk| ParamChange::SetMarketRisk { market_index: market.index, risk };

    // Maintenance 99.99%: every account liquidatable. Refused; 50% is the most allowed.
    let nearly_all = MarketRisk { initial_margin_bps: 10_000, maintenance_margin_bps: 9_999, ..current };
    let over_half = MarketRisk { initial_margin_bps: 6_000, maintenance_margin_bps: 5_001, ..current };
    // A 10.01% liquidation fee, even under a 50% maintenance margin.
    let liquidation_fee =
        MarketRisk { initial_margin_bps: 6_000, maintenance_margin_bps: 5_000, liquidation_fee_bps: 1_001, ..current };
    for risk in [nearly_all, over_half, liquidation_fee, MarketRisk { size_premium_bps: 1_001, ..current }] {
        env.send(
            &[propose_market_param_change_ix(&admin.pubkey(), &fx.key, Some(market.key), risk_change(risk))],
            &[&admin],
        )
        .await
        .expect_err(BulwarkError::InvalidMarketParams);
    }

    // Listing: taker fee above 1%, funding clamp above 24% a day, a funding period under a minute.
    let listings = [
        MarketParams { taker_fee_bps: 101, ..simple_market_params() },
        MarketParams { max_funding_rate_bps: 101, ..simple_market_params() },
        MarketParams { funding_period_seconds: 59, ..simple_market_params() },
        MarketParams { funding_period_seconds: 86_401, ..simple_market_params() },
    ];
    for params in listings {
        let oracle = oracle_config(ORACLE_SOURCE_MANUAL, market.oracle);
        env.send(&[create_market_ix(&admin.pubkey(), &fx.key, 1, oracle, params)], &[&admin])
            .await
            .expect_err(BulwarkError::InvalidMarketParams);
    }
    // 1% taker fee, 1% an hour of funding: the edges themselves list (with a 2% liquidation
    // fee, so that 2% band + 2% + 1% stays under 5% × 1.1).
    let edge = MarketParams {
        taker_fee_bps: 100,
        maker_fee_bps: -100,
        max_funding_rate_bps: 100,
        liquidation_fee_bps: 200,
        ..simple_market_params()
    };
    let oracle = oracle_config(ORACLE_SOURCE_MANUAL, market.oracle);
    env.send(&[create_market_ix(&admin.pubkey(), &fx.key, 1, oracle, edge)], &[&admin]).await.ok();

    for params in [
        WaterfallParams { liquidation_buffer_bps: 10_001, ..default_waterfall() },
        WaterfallParams { adl_grace_slots: 9, ..default_waterfall() },
        WaterfallParams { book_liquidation_band_bps: 2_501, ..default_waterfall() },
        WaterfallParams { max_fill_deviation_bps: 2_501, ..default_waterfall() },
    ] {
        env.send(&[propose_param_change_ix(&admin.pubkey(), &fx.key, ParamChange::SetWaterfall { params })], &[&admin])
            .await
            .expect_err(BulwarkError::InvalidParameter);
    }

    let feed = env.create_feed(7, -6, 60).await;
    for market_oracle in [
        OracleConfig { max_confidence_bps: 1_001, ..oracle_config(ORACLE_SOURCE_MANUAL, feed.key) },
        OracleConfig { max_staleness_seconds: 3_601, ..oracle_config(ORACLE_SOURCE_MANUAL, feed.key) },
        OracleConfig { max_twap_divergence_bps: 5_001, ..oracle_config(ORACLE_SOURCE_MANUAL, feed.key) },
    ] {
        let config = market_mode_collateral(market_oracle);
        env.send(
            &[propose_param_change_ix(&admin.pubkey(), &fx.key, ParamChange::SetCollateralOracle { config })],
            &[&admin],
        )
        .await
        .expect_err(BulwarkError::InvalidOracleConfig);
    }
    assert!(!env.clearinghouse(&fx).await.pending_change.is_pending());

    // Maintenance exactly 50% is allowed, and (a maintenance change) waits the timelock.
    let half = MarketRisk { initial_margin_bps: 6_000, maintenance_margin_bps: 5_000, ..current };
    env.send(
        &[propose_param_change_ix(&admin.pubkey(), &fx.key, ParamChange::SetTimelock { seconds: DAY })],
        &[&admin],
    )
    .await
    .ok();
    let out = env
        .send(
            &[propose_market_param_change_ix(&admin.pubkey(), &fx.key, Some(market.key), risk_change(half))],
            &[&admin],
        )
        .await
        .ok();
    assert_eq!(out.events::<ParamChangeProposedV1>().len(), 1);
    assert_eq!(env.market(&market).await.params.maintenance_margin_bps, 500);
}

/// The guardian cannot pause across a change's execution to deny users their exit window:
/// nothing executes while paused, and paused time does not count toward the timelock.
#[tokio::test]
async fn a_pause_across_the_execution_time_does_not_shorten_the_exit_window() {
    let mut env = TestEnv::new().await;
    let fx = env.setup_clearinghouse(ClearinghouseOptions { timelock_seconds: DAY, ..Default::default() }).await;
    let admin = fx.admin.insecure_clone();
    let guardian = fx.guardian.insecure_clone();
    let stranger = env.funded_keypair().await;
    let config = market_mode_collateral(oracle_config(ORACLE_SOURCE_MANUAL, env.create_feed(1, -6, 60).await.key));
    let change = ParamChange::SetCollateralOracle { config };
    let out = env.send(&[propose_param_change_ix(&admin.pubkey(), &fx.key, change)], &[&admin]).await.ok();
    let executable = out.events::<ParamChangeProposedV1>()[0].executable_unix;

    // Half the window passes, then the guardian pauses until after the executable time.
    env.warp(DAY / 2, 10).await;
    let paused_at = env.clock().await.unix_timestamp;
    env.send(&[pause_ix(&guardian.pubkey(), &fx.key)], &[&guardian]).await.ok();
    env.warp(DAY, 10).await;
    assert!(env.clock().await.unix_timestamp > executable);
    env.send(&[execute_param_change_ix(&stranger.pubkey(), &fx.key)], &[&stranger])
        .await
        .expect_err(BulwarkError::ClearinghousePaused);

    // Unpausing pushes the change back by the paused time: users still get the other half
    // of the window, unpaused.
    let unpaused_at = env.clock().await.unix_timestamp;
    let out = env.send(&[unpause_ix(&guardian.pubkey(), &fx.key)], &[&guardian]).await.ok();
    let delayed = out.events::<ParamChangeDelayedV1>();
    assert_eq!(delayed[0].paused_seconds, unpaused_at - paused_at);
    assert_eq!(delayed[0].executable_unix, executable + (unpaused_at - paused_at));
    assert_eq!(delayed[0].executable_unix - unpaused_at, executable - paused_at);
    let ch = env.clearinghouse(&fx).await;
    assert_eq!((ch.pending_change.executable_unix, ch.paused_since_unix), (delayed[0].executable_unix, 0));
    env.send(&[execute_param_change_ix(&stranger.pubkey(), &fx.key)], &[&stranger])
        .await
        .expect_err(BulwarkError::TimelockNotElapsed);
    env.warp(executable - paused_at - 1, 10).await;
    env.send(&[execute_param_change_ix(&stranger.pubkey(), &fx.key)], &[&stranger])
        .await
        .expect_err(BulwarkError::TimelockNotElapsed);
    env.warp(1, 1).await;
    env.send(&[execute_param_change_ix(&stranger.pubkey(), &fx.key)], &[&stranger]).await.ok();
    assert_eq!(env.clearinghouse(&fx).await.collateral_oracle, config);
    env.check_invariants(&fx).await;
}

/// A breaker tightened just before a proposal would narrow exits for the whole window: a
/// risk-raising change may be proposed only a full timelock after the breaker last tightened.
#[tokio::test]
async fn a_breaker_tightened_just_before_a_proposal_holds_it_off() {
    let mut env = TestEnv::new().await;
    let fx = env.setup_clearinghouse(ClearinghouseOptions { timelock_seconds: DAY, ..Default::default() }).await;
    let admin = fx.admin.insecure_clone();
    let tighter = ParamChange::SetWithdrawalBreaker {
        window_seconds: 86_400,
        max_net_outflow_bps: 500,
        min_outflow_allowance: 0,
    };
    let out = env.send(&[propose_param_change_ix(&admin.pubkey(), &fx.key, tighter)], &[&admin]).await.ok();
    assert_eq!(out.events::<ParamChangeAppliedV1>()[0].via_timelock, false);
    let new_admin = ParamChange::SetAdmin { admin: Pubkey::new_unique() };
    env.send(&[propose_param_change_ix(&admin.pubkey(), &fx.key, new_admin.clone())], &[&admin])
        .await
        .expect_err(BulwarkError::BreakerRecentlyTightened);
    // Risk-lowering changes are not held off, and loosening the breaker narrows nothing.
    env.send(
        &[propose_param_change_ix(&admin.pubkey(), &fx.key, ParamChange::SetTimelock { seconds: 2 * DAY })],
        &[&admin],
    )
    .await
    .ok();
    env.warp(2 * DAY - 1, 10).await;
    env.send(&[propose_param_change_ix(&admin.pubkey(), &fx.key, new_admin.clone())], &[&admin])
        .await
        .expect_err(BulwarkError::BreakerRecentlyTightened);
    env.warp(1, 1).await;
    env.send(&[propose_param_change_ix(&admin.pubkey(), &fx.key, new_admin)], &[&admin]).await.ok();
    assert_eq!(env.clearinghouse(&fx).await.pending_change.kind, 1);
}

/// The bands must sit below maintenance: fills within the fill band below every market's
/// maintenance margin; band + liquidation fee + taker fee below maintenance × (1 + buffer).
#[tokio::test]
async fn bands_above_maintenance_are_refused_at_every_entry() {
    let mut env = TestEnv::new().await;
    let mut fx = env.setup_clearinghouse(ClearinghouseOptions { timelock_seconds: 0, ..Default::default() }).await;
    // Fixtures: maintenance 5%, liquidation fee 2.5%, taker 0.1%, fill band 4%, book band 2%,
    // buffer 10%: 2% + 2.5% + 0.1% = 4.6% < 5.5%.
    let market = env.setup_market(&mut fx, simple_market_params(), 100).await;
    let admin = fx.admin.insecure_clone();
    env.send(
        &[propose_param_change_ix(&admin.pubkey(), &fx.key, ParamChange::SetTimelock { seconds: DAY })],
        &[&admin],
    )
    .await
    .ok();
    let list = |index: u16, params: MarketParams| {
        create_market_ix(&admin.pubkey(), &fx.key, index, oracle_config(ORACLE_SOURCE_MANUAL, market.oracle), params)
    };

    // Listing: maintenance at the fill band; fees pushing the book band past maintenance × 1.1.
    let at_fill_band = MarketParams { maintenance_margin_bps: 400, liquidation_fee_bps: 100, ..simple_market_params() };
    let fees_too_high = MarketParams { liquidation_fee_bps: 340, ..simple_market_params() }; // 200 + 340 + 10 = 550
    for params in [at_fill_band, fees_too_high] {
        env.send(&[list(1, params)], &[&admin]).await.expect_err(BulwarkError::BandNotBelowMaintenance);
    }

    // A risk change: the same two, on the listed market.
    let current = MarketRisk::of(&simple_market_params());
    for risk in [
        MarketRisk { maintenance_margin_bps: 400, liquidation_fee_bps: 100, ..current },
        MarketRisk { liquidation_fee_bps: 340, ..current },
    ] {
        let change = ParamChange::SetMarketRisk { market_index: market.index, risk };
        env.send(&[propose_market_param_change_ix(&admin.pubkey(), &fx.key, Some(market.key), change)], &[&admin])
            .await
            .expect_err(BulwarkError::BandNotBelowMaintenance);
    }

    // A waterfall change, against every market listed: fills at 5%, a book band of 2.9%
    // (2.9% + 2.6% = 5.5%), or no buffer with a 2.5% band (2.5% + 2.6% > 5%).
    for params in [
        WaterfallParams { max_fill_deviation_bps: 500, ..default_waterfall() },
        WaterfallParams { book_liquidation_band_bps: 290, ..default_waterfall() },
        WaterfallParams { liquidation_buffer_bps: 0, book_liquidation_band_bps: 250, ..default_waterfall() },
    ] {
        env.send(&[propose_param_change_ix(&admin.pubkey(), &fx.key, ParamChange::SetWaterfall { params })], &[&admin])
            .await
            .expect_err(BulwarkError::BandNotBelowMaintenance);
    }
    // Just inside: a 2.89% book band is proposed ...
    let wider = WaterfallParams { book_liquidation_band_bps: 289, ..default_waterfall() };
    env.send(
        &[propose_param_change_ix(&admin.pubkey(), &fx.key, ParamChange::SetWaterfall { params: wider })],
        &[&admin],
    )
    .await
    .ok();
    // ... then, while it waits, a market with a 0.2% taker fee is listed (fine under today's
    // 2% band: 2% + 2.7% < 5.5%), so the pending band no longer fits (2.89% + 2.7% > 5.5%).
    env.send(&[list(1, MarketParams { taker_fee_bps: 20, ..simple_market_params() })], &[&admin]).await.ok();
    let ch = env.clearinghouse(&fx).await;
    assert_eq!((ch.min_maintenance_margin_bps, ch.min_maintenance_over_fees_bps), (500, 230));
    env.warp(DAY, 10).await;
    env.send(&[execute_param_change_ix(&admin.pubkey(), &fx.key)], &[&admin])
        .await
        .expect_err(BulwarkError::BandNotBelowMaintenance);
    assert_eq!(env.clearinghouse(&fx).await.waterfall, default_waterfall());
    env.send(&[cancel_param_change_ix(&admin.pubkey(), &fx.key)], &[&admin]).await.ok();
    env.check_invariants(&fx).await;
}

/// `fee_pool` is swept, by anyone, to the insurance vault and nowhere else.
#[tokio::test]
async fn the_fee_pool_sweeps_to_the_insurance_vault_only() {
    let mut desk = Desk::new(simple_market_params()).await;
    let maker = desk.user(10_000 * USD).await;
    let taker = desk.user(10_000 * USD).await;
    let stranger = desk.env.funded_keypair().await;
    // Nothing to sweep yet.
    desk.env.send(&[sweep_fees_ix(&desk.fx)], &[]).await.expect_err(BulwarkError::FeePoolEmpty);

    // $1,000 traded: taker fee $1.00, maker rebate $0.20; half of the net $0.80 to insurance
    // at once, half to the fee pool.
    desk.trade(&maker, &taker, SIDE_ASK, 100, 10).await;
    let ch = desk.env.clearinghouse(&desk.fx).await;
    assert_eq!((ch.fee_pool, ch.insurance_balance), (400_000, 400_000));
    let vault = desk.env.token_balance(desk.fx.collateral_vault).await;
    let insurance_vault = desk.env.token_balance(desk.fx.insurance_vault).await;
    assert_eq!((vault, insurance_vault), (20_000 * USD - 400_000, 400_000));

    // Vault-safe: the destination must be the insurance vault, the source the collateral vault.
    let wallet = desk.env.create_token_account(&desk.fx.mint, &stranger.pubkey()).await;
    let mut to_wallet = sweep_fees_ix(&desk.fx);
    to_wallet.accounts[2].pubkey = wallet;
    desk.env.send(&[to_wallet], &[]).await.expect_err(BulwarkError::VaultMismatch);
    let mut swapped = sweep_fees_ix(&desk.fx);
    swapped.accounts.swap(1, 2);
    desk.env.send(&[swapped], &[]).await.expect_err(BulwarkError::VaultMismatch);

    // Paused: nothing moves.
    let guardian = desk.fx.guardian.insecure_clone();
    desk.env.send(&[pause_ix(&guardian.pubkey(), &desk.fx.key)], &[&guardian]).await.ok();
    desk.env.send(&[sweep_fees_ix(&desk.fx)], &[]).await.expect_err(BulwarkError::ClearinghousePaused);
    desk.env.send(&[unpause_ix(&guardian.pubkey(), &desk.fx.key)], &[&guardian]).await.ok();

    let out = desk.env.send(&[sweep_fees_ix(&desk.fx)], &[]).await.ok();
    let swept = out.events::<FeesSweptV1>();
    assert_eq!((swept[0].amount, swept[0].insurance_balance), (400_000, 800_000));
    let ch = desk.env.clearinghouse(&desk.fx).await;
    assert_eq!((ch.fee_pool, ch.insurance_balance), (0, 800_000));
    assert_eq!(desk.env.token_balance(desk.fx.collateral_vault).await, 20_000 * USD - 800_000);
    assert_eq!(desk.env.token_balance(desk.fx.insurance_vault).await, 800_000);
    assert_eq!(desk.env.token_balance(wallet).await, 0);
    desk.env.send(&[sweep_fees_ix(&desk.fx)], &[]).await.expect_err(BulwarkError::FeePoolEmpty);
    desk.check().await;
}

/// The same for one market: a paused market cannot be traded out of, so a pending change to it
/// waits while it is paused and its paused time does not count.
#[tokio::test]
async fn a_market_pause_across_the_execution_time_delays_a_change_to_that_market() {
    let mut desk = Desk::new(simple_market_params()).await;
    let admin = desk.fx.admin.insecure_clone();
    let guardian = desk.fx.guardian.insecure_clone();
    let (fx_key, market_key, index) = (desk.fx.key, desk.market.key, desk.market.index);
    let raise_timelock = ParamChange::SetTimelock { seconds: DAY };
    desk.env.send(&[propose_param_change_ix(&admin.pubkey(), &fx_key, raise_timelock)], &[&admin]).await.ok();
    let risk = MarketRisk { liquidation_fee_bps: 300, ..MarketRisk::of(&simple_market_params()) };
    let change = ParamChange::SetMarketRisk { market_index: index, risk };
    let out = desk
        .env
        .send(&[propose_market_param_change_ix(&admin.pubkey(), &fx_key, Some(market_key), change)], &[&admin])
        .await
        .ok();
    let executable = out.events::<ParamChangeProposedV1>()[0].executable_unix;

    desk.env.warp(DAY / 2, 10).await;
    let paused_at = desk.env.clock().await.unix_timestamp;
    let set_status = |status| set_market_status_ix(&guardian.pubkey(), &fx_key, &market_key, status);
    desk.env.send(&[set_status(MARKET_STATUS_PAUSED)], &[&guardian]).await.ok();
    desk.env.warp(DAY, 10).await;
    desk.env
        .send(&[execute_market_param_change_ix(&admin.pubkey(), &fx_key, Some(market_key))], &[&admin])
        .await
        .expect_err(BulwarkError::MarketPaused);
    // Reduce-only lets users exit: resuming that way restarts the clock.
    let resumed_at = desk.env.clock().await.unix_timestamp;
    let out = desk.env.send(&[set_status(MARKET_STATUS_REDUCE_ONLY)], &[&guardian]).await.ok();
    let delayed = out.events::<ParamChangeDelayedV1>();
    assert_eq!(delayed[0].executable_unix, executable + (resumed_at - paused_at));
    desk.env
        .send(&[execute_market_param_change_ix(&admin.pubkey(), &fx_key, Some(market_key))], &[&admin])
        .await
        .expect_err(BulwarkError::TimelockNotElapsed);
    desk.env.warp(executable - paused_at, 10).await;
    desk.env.send(&[execute_market_param_change_ix(&admin.pubkey(), &fx_key, Some(market_key))], &[&admin]).await.ok();
    assert_eq!(desk.env.market(&desk.market).await.params.liquidation_fee_bps, 300);
    desk.check().await;
}

#[tokio::test]
async fn a_paused_market_holds_off_a_change_to_the_whole_clearinghouse() {
    let mut desk = Desk::new(simple_market_params()).await;
    let admin = desk.fx.admin.insecure_clone();
    let guardian = desk.fx.guardian.insecure_clone();
    let (fx_key, market_key) = (desk.fx.key, desk.market.key);
    let raise_timelock = ParamChange::SetTimelock { seconds: DAY };
    desk.env.send(&[propose_param_change_ix(&admin.pubkey(), &fx_key, raise_timelock)], &[&admin]).await.ok();
    // The attack: a new waterfall for every market is proposed, and the guardian pauses one
    // market across its execution time, so its holders cannot reduce before it lands.
    let waterfall = WaterfallParams { liquidation_buffer_bps: 1_500, ..default_waterfall() };
    let change = ParamChange::SetWaterfall { params: waterfall };
    let out = desk.env.send(&[propose_param_change_ix(&admin.pubkey(), &fx_key, change)], &[&admin]).await.ok();
    let executable = out.events::<ParamChangeProposedV1>()[0].executable_unix;
    desk.env.warp(DAY / 2, 10).await;
    let paused_at = desk.env.clock().await.unix_timestamp;
    let set_status = |status| set_market_status_ix(&guardian.pubkey(), &fx_key, &market_key, status);
    desk.env.send(&[set_status(MARKET_STATUS_PAUSED)], &[&guardian]).await.ok();
    desk.env.warp(DAY, 10).await;
    let stranger = desk.env.funded_keypair().await;
    desk.env
        .send(&[execute_param_change_ix(&stranger.pubkey(), &fx_key)], &[&stranger])
        .await
        .expect_err(BulwarkError::MarketPaused);
    // Resuming adds the paused time to the change's timelock.
    let resumed_at = desk.env.clock().await.unix_timestamp;
    let out = desk.env.send(&[set_status(MARKET_STATUS_ACTIVE)], &[&guardian]).await.ok();
    let delayed = out.events::<ParamChangeDelayedV1>();
    assert_eq!(delayed[0].executable_unix, executable + (resumed_at - paused_at));
    desk.env
        .send(&[execute_param_change_ix(&stranger.pubkey(), &fx_key)], &[&stranger])
        .await
        .expect_err(BulwarkError::TimelockNotElapsed);
    desk.env.warp(executable - paused_at, 10).await;
    desk.env.send(&[execute_param_change_ix(&stranger.pubkey(), &fx_key)], &[&stranger]).await.ok();
    assert_eq!(desk.env.clearinghouse(&desk.fx).await.waterfall.liquidation_buffer_bps, 1_500);
    desk.check().await;
}
