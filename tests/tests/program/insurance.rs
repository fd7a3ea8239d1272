//! Insurance vault staking: shares, fee income, cooldown, claim window, redemption at the lower
//! of request and claim value, locked shares against first-staker inflation, and no way out but
//! `unstake`.

use anchor_lang::prelude::Pubkey;
use bulwark::constants::{INSURANCE_LOCKED_SHARES, MIN_UNSTAKE_COOLDOWN_SECONDS, UNSTAKE_CLAIM_WINDOW_SECONDS};
use bulwark::error::BulwarkError;
use bulwark::events::*;
use bulwark::instructions::InitializeClearinghouseArgs;
use bulwark::state::*;
use bulwark_tests::*;
use solana_signer::Signer as _;

#[tokio::test]
async fn stakers_share_fee_income_and_leave_after_the_cooldown() {
    let mut desk = Desk::new(simple_market_params()).await;
    let mm = desk.user(100_000 * USD).await;
    let taker = desk.user(10_000 * USD).await;
    let a = desk.user(0).await;
    let b = desk.user(0).await;
    let (a_owner, b_owner) = (a.owner.insecure_clone(), b.owner.insecure_clone());

    // Income before anyone staked: $4 that belongs to no staker.
    desk.trade(&mm, &taker, SIDE_ASK, 100, 100).await;
    assert_eq!(desk.insurance().await, 4 * USD);
    desk.env
        .send(&[stake_insurance_ix(&a_owner.pubkey(), &desk.fx, &a.token_account, 1_000 * USD)], &[&a_owner])
        .await
        .expect_anchor_err(anchor_lang::error::ErrorCode::AccountOwnedByWrongProgram);
    let out = desk.env.stake_insurance(&desk.fx, &a, 1_000 * USD).await.ok();
    let staked = &out.events::<InsuranceStakedV1>()[0];
    // One share per atom; the earlier $4 is locked as unowned shares, not handed to A.
    assert_eq!((staked.shares, staked.total_shares, staked.insurance_balance), (1_000 * USD, 1_004 * USD, 1_004 * USD));
    desk.check().await;

    // $4 more of fees, then B stakes $1,008 at 1,008/1,004 a share: 1,004 shares.
    desk.trade(&mm, &taker, SIDE_BID, 100, 100).await;
    assert_eq!(desk.insurance().await, 1_008 * USD);
    let out = desk.env.stake_insurance(&desk.fx, &b, 1_008 * USD).await.ok();
    assert_eq!(out.events::<InsuranceStakedV1>()[0].shares, 1_004 * USD);
    desk.env.stake_insurance(&desk.fx, &b, 0).await.expect_err(BulwarkError::InsuranceStakeTooSmall);

    // Requests: within the stake, non-zero; only the owner; unstake needs a request.
    for shares in [0, 1_000 * USD + 1] {
        desk.env
            .send(&[request_unstake_ix(&a_owner.pubkey(), &desk.fx.key, shares)], &[&a_owner])
            .await
            .expect_err(BulwarkError::InvalidUnstakeRequest);
    }
    desk.env
        .send(&[unstake_insurance_ix(&b_owner.pubkey(), &desk.fx, &b.token_account)], &[&b_owner])
        .await
        .expect_err(BulwarkError::NoUnstakeRequest);
    let out =
        desk.env.send(&[request_unstake_ix(&a_owner.pubkey(), &desk.fx.key, 1_000 * USD)], &[&a_owner]).await.ok();
    // A's 1,000 of 2,008 shares on $2,016: ⌊1,000 × 2,016 / 2,008⌋, the most the claim pays.
    let expected = (1_000 * USD as u128 * 2_016 * USD as u128 / (2_008 * USD as u128)) as u64;
    assert_eq!(expected, 1_003_984_063);
    let requested = &out.events::<UnstakeRequestedV2>()[0];
    let now = desk.env.clock().await.unix_timestamp;
    // A one-hour cooldown, then a quarter of it (15 minutes) to claim.
    assert_eq!(
        (requested.request_value, requested.available_unix, requested.claim_deadline_unix),
        (expected, now + 3_600, now + 3_600 + 900)
    );
    desk.env
        .send(&[unstake_insurance_ix(&a_owner.pubkey(), &desk.fx, &a.token_account)], &[&a_owner])
        .await
        .expect_err(BulwarkError::UnstakeCooldownActive);
    // B cannot take A's stake out, even to B's own wallet.
    let mut stolen = unstake_insurance_ix(&b_owner.pubkey(), &desk.fx, &b.token_account);
    stolen.accounts[2].pubkey = insurance_stake_pda(&desk.fx.key, &a_owner.pubkey());
    desk.env.send(&[stolen], &[&b_owner]).await.expect_err(BulwarkError::NotOwner);
    // Nor into the collateral vault (which would break its accounting).
    desk.env.warp(3_600, 1).await;
    let mut into_vault = unstake_insurance_ix(&a_owner.pubkey(), &desk.fx, &a.token_account);
    into_vault.accounts[4].pubkey = desk.fx.collateral_vault;
    desk.env.send(&[into_vault], &[&a_owner]).await.expect_err(BulwarkError::DuplicateAccount);

    // While paused, nothing leaves.
    let guardian = desk.fx.guardian.insecure_clone();
    desk.env.send(&[pause_ix(&guardian.pubkey(), &desk.fx.key)], &[&guardian]).await.ok();
    desk.env
        .send(&[unstake_insurance_ix(&a_owner.pubkey(), &desk.fx, &a.token_account)], &[&a_owner])
        .await
        .expect_err(BulwarkError::ClearinghousePaused);
    desk.env.send(&[unpause_ix(&guardian.pubkey(), &desk.fx.key)], &[&guardian]).await.ok();

    // Nothing moved since the request: request and claim value agree.
    let wallet = desk.env.token_balance(a.token_account).await;
    let out =
        desk.env.send(&[unstake_insurance_ix(&a_owner.pubkey(), &desk.fx, &a.token_account)], &[&a_owner]).await.ok();
    let unstaked = &out.events::<InsuranceUnstakedV2>()[0];
    assert_eq!(
        (unstaked.shares, unstaked.request_value, unstaked.claim_value, unstaked.amount),
        (1_000 * USD, expected, expected, expected)
    );
    assert_eq!(desk.env.token_balance(a.token_account).await - wallet, expected);
    assert_eq!(desk.insurance().await, 2_016 * USD - expected);
    let stake = desk.env.insurance_stake(&desk.fx, &a_owner).await;
    assert_eq!((stake.shares, stake.unstake_request_shares, stake.unstake_request_value), (0, 0, 0));
    let ch = desk.env.clearinghouse(&desk.fx).await;
    assert_eq!(ch.insurance_total_shares, 1_008 * USD);
    desk.check().await;
}

#[tokio::test]
async fn a_wiped_out_vault_starts_a_new_share_epoch() {
    let params = MarketParams { taker_fee_bps: 0, maker_fee_bps: 0, ..simple_market_params() };
    let mut desk = Desk::new(params).await;
    let staker = desk.user(0).await;
    // The epoch's first stake pays for its $1 of locked shares: 99 shares of 100 are the staker's.
    let out = desk.env.stake_insurance(&desk.fx, &staker, 100 * USD).await.ok();
    let staked = &out.events::<InsuranceStakedV1>()[0];
    assert_eq!((staked.shares, staked.total_shares), (99 * USD, 100 * USD));
    let bob = desk.user(2_000 * USD).await;
    let alice = desk.user(1_000 * USD).await;
    desk.trade(&bob, &alice, SIDE_ASK, 100, 100).await;
    desk.set_price(85_000_000).await;
    // −$500: insurance pays its $100, ADL the rest; the vault is empty with shares outstanding.
    let out = desk.adl(&alice, &[bob.margin_account], 0).await.ok();
    assert_eq!(out.events::<InsurancePayoutV1>()[0].amount, 100 * USD);
    assert_eq!(out.events::<AdlFillV1>()[0].haircut, 400 * USD);
    assert_eq!(desk.insurance().await, 0);

    // A new staker is not diluted into worthless shares: a new epoch starts at one share per atom
    // (its first stake again paying for the locked shares).
    let late = desk.user(0).await;
    let out = desk.env.stake_insurance(&desk.fx, &late, 50 * USD).await.ok();
    let staked = &out.events::<InsuranceStakedV1>()[0];
    assert_eq!((staked.shares, staked.total_shares, staked.insurance_balance), (49 * USD, 50 * USD, 50 * USD));
    assert_eq!(desk.env.clearinghouse(&desk.fx).await.insurance_share_epoch, 1);
    // The wiped-out staker's old shares claim nothing of the new money.
    let owner = staker.owner.insecure_clone();
    desk.env
        .send(&[request_unstake_ix(&owner.pubkey(), &desk.fx.key, 1)], &[&owner])
        .await
        .expect_err(BulwarkError::InvalidUnstakeRequest);
    desk.check().await;
}

#[tokio::test]
async fn an_unstake_request_lapses_after_a_claim_window_shorter_than_the_cooldown() {
    let mut desk = Desk::new(simple_market_params()).await;
    let staker = desk.user(0).await;
    desk.env.stake_insurance(&desk.fx, &staker, 100 * USD).await.ok();
    let owner = staker.owner.insecure_clone();
    let shares = desk.env.insurance_stake(&desk.fx, &owner).await.shares;
    assert_eq!(shares, 99 * USD);
    let request = request_unstake_ix(&owner.pubkey(), &desk.fx.key, shares);
    desk.env.send(&[request.clone()], &[&owner]).await.ok();
    // The window is min(1 h, cooldown / 4): 15 minutes after the one-hour cooldown.
    let window = bulwark::math::insurance::unstake_claim_window_seconds(3_600);
    assert_eq!(window, 900);
    assert!(window * 4 <= 3_600 && window <= UNSTAKE_CLAIM_WINDOW_SECONDS);
    desk.env.warp(3_600 + window + 1, 1).await;
    let unstake = unstake_insurance_ix(&owner.pubkey(), &desk.fx, &staker.token_account);
    desk.env.send(&[unstake.clone()], &[&owner]).await.expect_err(BulwarkError::UnstakeRequestExpired);
    // Nor may the tokens go back into the insurance vault itself (Anchor's own duplicate check
    // fires before the program's constraint).
    let mut into_insurance = unstake.clone();
    into_insurance.accounts[4].pubkey = desk.fx.insurance_vault;
    desk.env
        .send(&[into_insurance], &[&owner])
        .await
        .expect_anchor_err(anchor_lang::error::ErrorCode::ConstraintDuplicateMutableAccount);
    assert_eq!(desk.insurance().await, 100 * USD);

    // Asking again waits the whole cooldown again; the last second of the window still claims.
    desk.env.send(&[request], &[&owner]).await.ok();
    desk.env.warp(3_600 + window, 1).await;
    let out = desk.env.send(&[unstake], &[&owner]).await.ok();
    assert_eq!(out.events::<InsuranceUnstakedV2>()[0].amount, 99 * USD);
    assert_eq!(desk.insurance().await, USD, "the locked shares' dollar stays");
    desk.check().await;
}

#[tokio::test]
async fn re_requesting_restarts_the_cooldown_and_reprices_the_request() {
    let mut desk = Desk::new(simple_market_params()).await;
    let mm = desk.user(100_000 * USD).await;
    let taker = desk.user(10_000 * USD).await;
    let staker = desk.user(0).await;
    desk.env.stake_insurance(&desk.fx, &staker, 1_000 * USD).await.ok();
    let owner = staker.owner.insecure_clone();
    let request = request_unstake_ix(&owner.pubkey(), &desk.fx.key, 999 * USD);
    let unstake = unstake_insurance_ix(&owner.pubkey(), &desk.fx, &staker.token_account);
    let out = desk.env.send(&[request.clone()], &[&owner]).await.ok();
    assert_eq!(out.events::<UnstakeRequestedV2>()[0].request_value, 999 * USD);

    // $4 of fees arrive; asking again prices the request at the new value (999 of 1,000 shares
    // on $1,004) but starts the hour over: a staker cannot keep a request always ready.
    desk.trade(&mm, &taker, SIDE_ASK, 100, 100).await;
    desk.env.warp(3_000, 1).await;
    let out = desk.env.send(&[request], &[&owner]).await.ok();
    let requested = &out.events::<UnstakeRequestedV2>()[0];
    assert_eq!(requested.request_value, 1_002_996_000);
    assert_eq!(requested.available_unix, desk.env.clock().await.unix_timestamp + 3_600);
    desk.env.warp(600, 1).await;
    desk.env.send(&[unstake.clone()], &[&owner]).await.expect_err(BulwarkError::UnstakeCooldownActive);
    desk.env.warp(3_000, 1).await;
    let out = desk.env.send(&[unstake], &[&owner]).await.ok();
    assert_eq!(out.events::<InsuranceUnstakedV2>()[0].amount, 1_002_996_000);
    assert_eq!(desk.insurance().await, 1_004 * USD - 1_002_996_000);
    desk.check().await;
}

/// A staker sees an account heading for bankruptcy and asks to leave. The cooldown keeps it in
/// through the payout, which it shares: the claim pays the lower, post-payout value.
#[tokio::test]
async fn a_payout_during_the_cooldown_hits_the_leaver() {
    let mut desk = Desk::new(simple_market_params()).await;
    let staker = desk.user(0).await;
    desk.env.stake_insurance(&desk.fx, &staker, 1_000 * USD).await.ok();
    // Alice: long 100 at $100 with $1,090 after fees; $4 of fees to the vault ($1,004).
    let mm = desk.user(100_000 * USD).await;
    let alice = desk.user(1_100 * USD).await;
    desk.trade(&mm, &alice, SIDE_ASK, 100, 100).await;
    let liquidator = desk.user(5_000 * USD).await;
    assert_eq!(desk.insurance().await, 1_004 * USD);

    // The run: request everything while the vault is whole ($1,004 × 999 / 1,000) ...
    let owner = staker.owner.insecure_clone();
    let out = desk.env.send(&[request_unstake_ix(&owner.pubkey(), &desk.fx.key, 999 * USD)], &[&owner]).await.ok();
    assert_eq!(out.events::<UnstakeRequestedV2>()[0].request_value, 1_002_996_000);
    // ... and try to be gone before the payout: the cooldown holds the stake.
    let unstake = unstake_insurance_ix(&owner.pubkey(), &desk.fx, &staker.token_account);
    desk.env.send(&[unstake.clone()], &[&owner]).await.expect_err(BulwarkError::UnstakeCooldownActive);

    // $85 (50 minutes later): Alice is bankrupt (equity −$410, so the takeover charges no
    // fee) and the vault pays her $410 deficit: $1,004 − 410 = $594.
    desk.set_price(85_000_000).await;
    let out = desk.takeover(&liquidator, &alice, 0).await.ok();
    assert_eq!(out.events::<InsurancePayoutV1>()[0].amount, 410_000_000);
    assert_eq!(desk.insurance().await, 594_000_000);

    // After the cooldown the claim pays the lower value: 999 of 1,000 shares of $594.
    desk.env.warp(600, 1).await;
    let wallet = desk.env.token_balance(staker.token_account).await;
    let out = desk.env.send(&[unstake], &[&owner]).await.ok();
    let unstaked = &out.events::<InsuranceUnstakedV2>()[0];
    assert_eq!(
        (unstaked.request_value, unstaked.claim_value, unstaked.amount),
        (1_002_996_000, 593_406_000, 593_406_000)
    );
    assert_eq!(desk.env.token_balance(staker.token_account).await - wallet, 593_406_000);
    assert_eq!(desk.insurance().await, 594_000, "the locked shares' part");
    let ch = desk.env.clearinghouse(&desk.fx).await;
    assert_eq!(ch.insurance_total_shares, USD);
    desk.check().await;
}

/// Income after a request goes to the stakers who stay, not to the one leaving.
#[tokio::test]
async fn income_after_the_request_stays_with_the_remaining_stakers() {
    let mut desk = Desk::new(simple_market_params()).await;
    let mm = desk.user(100_000 * USD).await;
    let taker = desk.user(10_000 * USD).await;
    let leaver = desk.user(0).await;
    let stayer = desk.user(0).await;
    // $1 of the leaver's first stake is locked: 999 shares, then 1,000 for the stayer at $1 each.
    desk.env.stake_insurance(&desk.fx, &leaver, 1_000 * USD).await.ok();
    let out = desk.env.stake_insurance(&desk.fx, &stayer, 1_000 * USD).await.ok();
    assert_eq!(out.events::<InsuranceStakedV1>()[0].shares, 1_000 * USD);
    let leaver_owner = leaver.owner.insecure_clone();
    let out = desk
        .env
        .send(&[request_unstake_ix(&leaver_owner.pubkey(), &desk.fx.key, 999 * USD)], &[&leaver_owner])
        .await
        .ok();
    assert_eq!(out.events::<UnstakeRequestedV2>()[0].request_value, 999 * USD);

    // Five trades bring $20 of fees: the vault holds $2,020 for 2,000 shares.
    for side in [SIDE_ASK, SIDE_BID, SIDE_ASK, SIDE_BID, SIDE_ASK] {
        desk.trade(&mm, &taker, side, 100, 100).await;
    }
    assert_eq!(desk.insurance().await, 2_020 * USD);

    // The leaver's shares are now worth $1,008.99, but it asked to leave at $999: it gets $999.
    desk.env.warp(3_600, 1).await;
    let out = desk
        .env
        .send(&[unstake_insurance_ix(&leaver_owner.pubkey(), &desk.fx, &leaver.token_account)], &[&leaver_owner])
        .await
        .ok();
    let unstaked = &out.events::<InsuranceUnstakedV2>()[0];
    assert_eq!((unstaked.request_value, unstaked.claim_value, unstaked.amount), (999 * USD, 1_008_990_000, 999 * USD));
    // $1,021 remain for 1,001 shares: the $9.99 forgone is split 1,000 : 1 between the stayer
    // and the locked shares, so the stayer's 1,000 shares are worth ⌊1,000 × 1,021 / 1,001⌋.
    assert_eq!((unstaked.insurance_balance, unstaked.total_shares), (1_021 * USD, 1_001 * USD));
    desk.check().await;
    let stayer_owner = stayer.owner.insecure_clone();
    let out = desk
        .env
        .send(&[request_unstake_ix(&stayer_owner.pubkey(), &desk.fx.key, 1_000 * USD)], &[&stayer_owner])
        .await
        .ok();
    assert_eq!(out.events::<UnstakeRequestedV2>()[0].request_value, 1_019_980_019);
    desk.env.warp(3_600, 1).await;
    let wallet = desk.env.token_balance(stayer.token_account).await;
    desk.env
        .send(&[unstake_insurance_ix(&stayer_owner.pubkey(), &desk.fx, &stayer.token_account)], &[&stayer_owner])
        .await
        .ok();
    assert_eq!(desk.env.token_balance(stayer.token_account).await - wallet, 1_019_980_019);
    assert_eq!(desk.insurance().await, 1_021 * USD - 1_019_980_019);
    desk.check().await;
}

#[tokio::test]
async fn an_unstake_cooldown_below_the_minimum_is_refused() {
    assert_eq!(MIN_UNSTAKE_COOLDOWN_SECONDS, 3_600);
    let mut env = TestEnv::new().await;
    let admin = env.funded_keypair().await;
    let mint_authority = env.funded_keypair().await;
    let mint = env.create_mint(&mint_authority.pubkey(), 6).await;
    let feed = env.create_feed(1, -6, 60).await;
    let args = |cooldown| InitializeClearinghouseArgs {
        id: 0,
        guardian: Pubkey::new_unique(),
        timelock_seconds: 0,
        collateral_oracle: market_mode_collateral(oracle_config(ORACLE_SOURCE_MANUAL, feed.key)),
        breaker_window_seconds: 3_600,
        breaker_max_net_outflow_bps: 1_000,
        breaker_min_outflow_allowance: 0,
        waterfall: WaterfallParams { insurance_unstake_cooldown_seconds: cooldown, ..default_waterfall() },
    };
    // No cooldown at all would let a staker leave in the same transaction as it sees a payout.
    for cooldown in [0, MIN_UNSTAKE_COOLDOWN_SECONDS - 1] {
        env.send(&[initialize_clearinghouse_ix(&admin.pubkey(), &mint, args(cooldown))], &[&admin])
            .await
            .expect_err(BulwarkError::InvalidParameter);
    }
    env.send(&[initialize_clearinghouse_ix(&admin.pubkey(), &mint, args(MIN_UNSTAKE_COOLDOWN_SECONDS))], &[&admin])
        .await
        .ok();

    // Nor through a waterfall change.
    let mut desk = Desk::new(simple_market_params()).await;
    let admin = desk.fx.admin.insecure_clone();
    for cooldown in [0, MIN_UNSTAKE_COOLDOWN_SECONDS - 1] {
        let params = WaterfallParams { insurance_unstake_cooldown_seconds: cooldown, ..default_waterfall() };
        let change = ParamChange::SetWaterfall { params };
        desk.env
            .send(&[propose_param_change_ix(&admin.pubkey(), &desk.fx.key, change)], &[&admin])
            .await
            .expect_err(BulwarkError::InvalidParameter);
    }
    let params = WaterfallParams { insurance_unstake_cooldown_seconds: 7_200, ..default_waterfall() };
    let change = ParamChange::SetWaterfall { params };
    desk.env.send(&[propose_param_change_ix(&admin.pubkey(), &desk.fx.key, change)], &[&admin]).await.ok();
    desk.env.send(&[execute_param_change_ix(&admin.pubkey(), &desk.fx.key)], &[&admin]).await.ok();
    assert_eq!(desk.env.clearinghouse(&desk.fx).await.waterfall, params);
}

/// The classic inflation attack: be the first staker with a single share, push a large income
/// into the vault, and let later stakes round down in the first staker's favour.
#[tokio::test]
async fn first_staker_cannot_inflate_the_share_price() {
    let mut desk = Desk::new(simple_market_params()).await;
    let attacker = desk.user(0).await;
    let attacker_maker = desk.user(200_000 * USD).await;
    let attacker_taker = desk.user(200_000 * USD).await;
    let victim = desk.user(0).await;

    // A 1-atom first stake is refused; the cheapest is one share on top of the $1 locked.
    desk.env.stake_insurance(&desk.fx, &attacker, 1).await.expect_err(BulwarkError::InsuranceFirstStakeTooSmall);
    desk.env
        .stake_insurance(&desk.fx, &attacker, INSURANCE_LOCKED_SHARES)
        .await
        .expect_err(BulwarkError::InsuranceFirstStakeTooSmall);
    let out = desk.env.stake_insurance(&desk.fx, &attacker, INSURANCE_LOCKED_SHARES + 1).await.ok();
    let staked = &out.events::<InsuranceStakedV1>()[0];
    assert_eq!((staked.shares, staked.total_shares), (1, INSURANCE_LOCKED_SHARES + 1));

    // The attacker trades $1M with itself: $800 of net fees, $400 of them to the vault.
    desk.trade(&attacker_maker, &attacker_taker, SIDE_ASK, 100, 10_000).await;
    let (balance, total_shares) = (INSURANCE_LOCKED_SHARES + 1 + 400 * USD, INSURANCE_LOCKED_SHARES + 1);
    assert_eq!(desk.insurance().await, balance);
    // Had the vault issued one share per atom with nothing locked, the attacker's single share
    // would now be priced at $400: a $1,000 stake would get 2 shares and lose $66.67 to it.
    use bulwark::math::insurance::redeem_amount;
    assert_eq!(1_000 * USD / (400 * USD + 1), 2);
    assert_eq!(1_000 * USD - redeem_amount(2, 1_400 * USD + 1, 3).unwrap(), 66_666_666);
    // With the locked shares, nearly all of the $400 belongs to them: one share is worth 400 atoms.
    assert_eq!(redeem_amount(1, balance, total_shares).unwrap(), 400);

    // The victim's $1,000 gets a fair count of shares and loses 9 atoms to rounding.
    let out = desk.env.stake_insurance(&desk.fx, &victim, 1_000 * USD).await.ok();
    let staked = &out.events::<InsuranceStakedV1>()[0];
    assert_eq!(staked.shares, 2_493_768);
    let (balance, total_shares) = (staked.insurance_balance, staked.total_shares);
    assert_eq!(1_000 * USD - redeem_amount(staked.shares, balance, total_shares).unwrap(), 9);
    // The attacker put in $1.000001 and $400 of fees; its share redeems 400 atoms.
    assert_eq!(redeem_amount(1, balance, total_shares).unwrap(), 400);
    desk.check().await;
}
