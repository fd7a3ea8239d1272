//! Insurance vault staking: shares, fee income, cooldown, and no way out but `unstake`.

use bulwark::error::BulwarkError;
use bulwark::events::*;
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
    let requested = &out.events::<UnstakeRequestedV1>()[0];
    assert_eq!(requested.available_unix, desk.env.clock().await.unix_timestamp + 3_600);
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

    // A's 1,000 of 2,008 shares on $2,016: ⌊1,000 × 2,016 / 2,008⌋.
    let wallet = desk.env.token_balance(a.token_account).await;
    let out =
        desk.env.send(&[unstake_insurance_ix(&a_owner.pubkey(), &desk.fx, &a.token_account)], &[&a_owner]).await.ok();
    let expected = (1_000 * USD as u128 * 2_016 * USD as u128 / (2_008 * USD as u128)) as u64;
    assert_eq!(expected, 1_003_984_063);
    let unstaked = &out.events::<InsuranceUnstakedV1>()[0];
    assert_eq!((unstaked.shares, unstaked.amount), (1_000 * USD, expected));
    assert_eq!(desk.env.token_balance(a.token_account).await - wallet, expected);
    assert_eq!(desk.insurance().await, 2_016 * USD - expected);
    let stake = desk.env.insurance_stake(&desk.fx, &a_owner).await;
    assert_eq!((stake.shares, stake.unstake_request_shares), (0, 0));
    let ch = desk.env.clearinghouse(&desk.fx).await;
    assert_eq!(ch.insurance_total_shares, 1_008 * USD);
    desk.check().await;
}

#[tokio::test]
async fn a_wiped_out_vault_starts_a_new_share_epoch() {
    let params = MarketParams { taker_fee_bps: 0, maker_fee_bps: 0, ..simple_market_params() };
    let mut desk = Desk::new(params).await;
    let staker = desk.user(0).await;
    desk.env.stake_insurance(&desk.fx, &staker, 100 * USD).await.ok();
    let bob = desk.user(2_000 * USD).await;
    let alice = desk.user(1_000 * USD).await;
    desk.trade(&bob, &alice, SIDE_ASK, 100, 100).await;
    desk.set_price(85_000_000).await;
    // −$500: insurance pays its $100, ADL the rest; the vault is empty with shares outstanding.
    let out = desk.adl(&alice, &[bob.margin_account], 0).await.ok();
    assert_eq!(out.events::<InsurancePayoutV1>()[0].amount, 100 * USD);
    assert_eq!(out.events::<AdlFillV1>()[0].haircut, 400 * USD);
    assert_eq!(desk.insurance().await, 0);

    // A new staker is not diluted into worthless shares: a new epoch starts at one share per atom.
    let late = desk.user(0).await;
    let out = desk.env.stake_insurance(&desk.fx, &late, 50 * USD).await.ok();
    let staked = &out.events::<InsuranceStakedV1>()[0];
    assert_eq!((staked.shares, staked.total_shares, staked.insurance_balance), (50 * USD, 50 * USD, 50 * USD));
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
async fn an_unstake_request_lapses_after_its_claim_window() {
    let mut desk = Desk::new(simple_market_params()).await;
    let staker = desk.user(0).await;
    desk.env.stake_insurance(&desk.fx, &staker, 100 * USD).await.ok();
    let owner = staker.owner.insecure_clone();
    desk.env.send(&[request_unstake_ix(&owner.pubkey(), &desk.fx.key, 100 * USD)], &[&owner]).await.ok();
    // Cooldown (1 h) plus the one-day claim window, plus a second.
    desk.env.warp(3_600 + 86_400 + 1, 1).await;
    let unstake = unstake_insurance_ix(&owner.pubkey(), &desk.fx, &staker.token_account);
    desk.env.send(&[unstake.clone()], &[&owner]).await.expect_err(BulwarkError::UnstakeRequestExpired);
    // Nor may the tokens go back into the insurance vault itself (Anchor's own duplicate check
    // fires before the program's constraint).
    let mut into_insurance = unstake;
    into_insurance.accounts[4].pubkey = desk.fx.insurance_vault;
    desk.env
        .send(&[into_insurance], &[&owner])
        .await
        .expect_anchor_err(anchor_lang::error::ErrorCode::ConstraintDuplicateMutableAccount);
    assert_eq!(desk.insurance().await, 100 * USD);
}
