//! Timelocked parameter changes and the limits of each role.

use anchor_lang::prelude::*;
use bulwark::error::BulwarkError;
use bulwark::events::{ParamChangeAppliedV1, ParamChangeCancelledV1, ParamChangeProposedV1};
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
