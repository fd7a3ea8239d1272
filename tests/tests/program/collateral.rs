//! Margin accounts, deposits and withdrawals: exact balances, signers, isolation, delegates,
//! pause and the withdrawal circuit breaker. Invariants are checked after every step.

use anchor_lang::prelude::*;
use bulwark::error::BulwarkError;
use bulwark::events::{DepositV1, MarginAccountClosedV1, WithdrawV1};
use bulwark_tests::*;
use solana_signer::Signer as _;

async fn env_with_clearinghouse(opts: ClearinghouseOptions) -> (TestEnv, ClearinghouseFixture) {
    let mut env = TestEnv::new().await;
    let fx = env.setup_clearinghouse(opts).await;
    (env, fx)
}

#[tokio::test]
async fn deposit_withdraw_round_trip_exact_balances() {
    let (mut env, mut fx) = env_with_clearinghouse(ClearinghouseOptions::default()).await;
    let alice = env.create_user(&mut fx, 1_000_000).await;
    env.check_invariants(&fx).await;

    let out = env.deposit(&fx, &alice, 600_000).await.ok();
    let events = out.events::<DepositV1>();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].amount, 600_000);
    assert_eq!(events[0].balance_after, 600_000);
    assert_eq!(events[0].margin_account, alice.margin_account);
    assert_eq!(env.token_balance(alice.token_account).await, 400_000);
    assert_eq!(env.token_balance(fx.collateral_vault).await, 600_000);
    assert_eq!(env.margin(alice.margin_account).await.collateral_balance, 600_000);
    env.check_invariants(&fx).await;

    let out = env.withdraw(&fx, &alice, 250_001).await.ok();
    let events = out.events::<WithdrawV1>();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].amount, events[0].balance_after, events[0].window_net_outflow), (250_001, 349_999, 0));
    assert_eq!(env.token_balance(alice.token_account).await, 650_001);
    assert_eq!(env.token_balance(fx.collateral_vault).await, 349_999);
    assert_eq!(env.margin(alice.margin_account).await.collateral_balance, 349_999);
    env.check_invariants(&fx).await;

    env.withdraw(&fx, &alice, 349_999).await.ok();
    assert_eq!(env.token_balance(alice.token_account).await, 1_000_000);
    assert_eq!(env.token_balance(fx.collateral_vault).await, 0);
    let ch = env.clearinghouse(&fx).await;
    assert_eq!(ch.total_collateral_balance, 0);
    env.check_invariants(&fx).await;

    // Empty now: the owner closes it and gets the rent back.
    let owner = alice.owner.insecure_clone();
    let rent = env.lamports(alice.margin_account).await;
    let before = env.lamports(owner.pubkey()).await;
    let ix = close_margin_account_ix(&owner.pubkey(), &fx.key, &alice.margin_account, &owner.pubkey());
    let out = env.send(&[ix], &[&owner]).await.ok();
    assert_eq!(out.events::<MarginAccountClosedV1>().len(), 1);
    assert_eq!(env.lamports(owner.pubkey()).await, before + rent);
    assert!(env.account_data(alice.margin_account).await.is_none());
    assert_eq!(env.clearinghouse(&fx).await.margin_account_count, 0);
    env.check_invariants(&fx).await;
}

#[tokio::test]
async fn withdraw_beyond_balance_and_zero_amounts_are_refused() {
    let (mut env, mut fx) = env_with_clearinghouse(ClearinghouseOptions::default()).await;
    let alice = env.create_user(&mut fx, 1_000).await;
    env.deposit(&fx, &alice, 700).await.ok();
    env.withdraw(&fx, &alice, 701).await.expect_err(BulwarkError::InsufficientCollateral);
    env.withdraw(&fx, &alice, u64::MAX).await.expect_err(BulwarkError::InsufficientCollateral);
    env.withdraw(&fx, &alice, 0).await.expect_err(BulwarkError::ZeroAmount);
    env.deposit(&fx, &alice, 0).await.expect_err(BulwarkError::ZeroAmount);
    assert_eq!(env.margin(alice.margin_account).await.collateral_balance, 700);
    assert_eq!(env.token_balance(alice.token_account).await, 300);
    env.check_invariants(&fx).await;

    // More than the wallet holds: the token program refuses (custom error 1, insufficient funds)
    // and nothing is credited.
    let out = env.deposit(&fx, &alice, 301).await;
    assert_eq!(out.custom_error(), Some(1));
    assert_eq!(env.margin(alice.margin_account).await.collateral_balance, 700);
    env.check_invariants(&fx).await;

    // The vault itself as the destination would debit the balance and strand the tokens.
    let a = alice.owner.insecure_clone();
    let ix = withdraw_ix(&a.pubkey(), &fx.key, &alice.margin_account, &fx.collateral_vault, &fx.collateral_vault, 100);
    env.send(&[ix], &[&a]).await.expect_anchor_err(anchor_lang::error::ErrorCode::ConstraintDuplicateMutableAccount);
    let ix = withdraw_ix(&a.pubkey(), &fx.key, &alice.margin_account, &fx.collateral_vault, &fx.insurance_vault, 100);
    env.send(&[ix], &[&a]).await.expect_err(BulwarkError::DuplicateAccount);
    assert_eq!(env.margin(alice.margin_account).await.collateral_balance, 700);
    env.check_invariants(&fx).await;

    // A non-empty account cannot be closed.
    let owner = alice.owner.insecure_clone();
    let ix = close_margin_account_ix(&owner.pubkey(), &fx.key, &alice.margin_account, &owner.pubkey());
    env.send(&[ix], &[&owner]).await.expect_err(BulwarkError::MarginAccountNotEmpty);
}

#[tokio::test]
async fn wrong_signer_is_refused() {
    let (mut env, mut fx) = env_with_clearinghouse(ClearinghouseOptions::default()).await;
    let alice = env.create_user(&mut fx, 1_000).await;
    let mallory = env.create_user(&mut fx, 1_000).await;
    env.deposit(&fx, &alice, 1_000).await.ok();

    // Mallory signs a withdrawal from Alice's account into her own wallet.
    let m = mallory.owner.insecure_clone();
    let ix =
        withdraw_ix(&m.pubkey(), &fx.key, &alice.margin_account, &fx.collateral_vault, &mallory.token_account, 500);
    env.send(&[ix], &[&m]).await.expect_err(BulwarkError::NotOwner);
    // Mallory deposits into Alice's account: not her account, not its delegate.
    let ix = deposit_ix(&m.pubkey(), &fx.key, &alice.margin_account, &fx.collateral_vault, &mallory.token_account, 10);
    env.send(&[ix], &[&m]).await.expect_err(BulwarkError::NotOwnerOrDelegate);
    // Mallory sets herself as Alice's delegate, or closes Alice's account.
    env.send(&[set_delegate_ix(&m.pubkey(), &alice.margin_account, m.pubkey())], &[&m])
        .await
        .expect_err(BulwarkError::NotOwner);
    let ix = close_margin_account_ix(&m.pubkey(), &fx.key, &alice.margin_account, &m.pubkey());
    env.send(&[ix], &[&m]).await.expect_err(BulwarkError::NotOwner);

    // The right owner key without its signature: the transaction cannot even be built as signed,
    // so strip the signer flag and confirm Anchor refuses a missing signature.
    let a = alice.owner.insecure_clone();
    let mut ix =
        withdraw_ix(&a.pubkey(), &fx.key, &alice.margin_account, &fx.collateral_vault, &alice.token_account, 1);
    ix.accounts[0].is_signer = false;
    env.send(&[ix], &[]).await.expect_anchor_err(anchor_lang::error::ErrorCode::AccountNotSigner);

    assert_eq!(env.margin(alice.margin_account).await.collateral_balance, 1_000);
    assert_eq!(env.token_balance(mallory.token_account).await, 1_000);
    env.check_invariants(&fx).await;
}

#[tokio::test]
async fn foreign_mint_token_accounts_are_refused() {
    let (mut env, mut fx) = env_with_clearinghouse(ClearinghouseOptions::default()).await;
    let alice = env.create_user(&mut fx, 1_000).await;
    env.deposit(&fx, &alice, 1_000).await.ok();

    let fake_authority = env.funded_keypair().await;
    let fake_mint = env.create_mint(&fake_authority.pubkey(), 6).await;
    let a = alice.owner.insecure_clone();
    let fake_wallet = env.create_token_account(&fake_mint, &a.pubkey()).await;
    env.mint_to(&fake_mint, &fake_authority, &fake_wallet, 1_000_000).await;

    let ix = deposit_ix(&a.pubkey(), &fx.key, &alice.margin_account, &fx.collateral_vault, &fake_wallet, 1_000_000);
    env.send(&[ix], &[&a]).await.expect_err(BulwarkError::CollateralMintMismatch);
    let ix = withdraw_ix(&a.pubkey(), &fx.key, &alice.margin_account, &fx.collateral_vault, &fake_wallet, 10);
    env.send(&[ix], &[&a]).await.expect_err(BulwarkError::CollateralMintMismatch);
    // A fake "vault" of the fake mint.
    let fake_vault = env.create_token_account(&fake_mint, &a.pubkey()).await;
    let ix = deposit_ix(&a.pubkey(), &fx.key, &alice.margin_account, &fake_vault, &fake_wallet, 10);
    env.send(&[ix], &[&a]).await.expect_err(BulwarkError::VaultMismatch);

    assert_eq!(env.margin(alice.margin_account).await.collateral_balance, 1_000);
    assert_eq!(env.token_balance(fake_wallet).await, 1_000_000);
    env.check_invariants(&fx).await;
}

#[tokio::test]
async fn clearinghouses_are_isolated() {
    let mut env = TestEnv::new().await;
    let mut a = env.setup_clearinghouse(ClearinghouseOptions { id: 0, ..Default::default() }).await;
    // Same collateral mint, another clearinghouse.
    let mint_authority = a.mint_authority.insecure_clone();
    let mut b = env
        .setup_clearinghouse_with_mint(ClearinghouseOptions { id: 1, ..Default::default() }, a.mint, mint_authority)
        .await;
    assert_ne!(a.key, b.key);
    assert_ne!(a.collateral_vault, b.collateral_vault);

    let alice = env.create_user(&mut a, 5_000).await;
    let bob = env.create_user(&mut b, 5_000).await;
    env.deposit(&a, &alice, 5_000).await.ok();
    env.deposit(&b, &bob, 3_000).await.ok();

    let k = bob.owner.insecure_clone();
    // Bob's account (in B) withdrawn through A's clearinghouse and vault.
    let ix = withdraw_ix(&k.pubkey(), &a.key, &bob.margin_account, &a.collateral_vault, &bob.token_account, 3_000);
    env.send(&[ix], &[&k]).await.expect_err(BulwarkError::ClearinghouseMismatch);
    // B's clearinghouse with A's vault: B's books say 3,000, A's vault has 5,000.
    let ix = withdraw_ix(&k.pubkey(), &b.key, &bob.margin_account, &a.collateral_vault, &bob.token_account, 3_000);
    env.send(&[ix], &[&k]).await.expect_err(BulwarkError::VaultMismatch);
    // Depositing into B's account while naming A.
    let ix = deposit_ix(&k.pubkey(), &a.key, &bob.margin_account, &a.collateral_vault, &bob.token_account, 1_000);
    env.send(&[ix], &[&k]).await.expect_err(BulwarkError::ClearinghouseMismatch);
    // B's insurance vault passed as its collateral vault.
    let ix = deposit_ix(&k.pubkey(), &b.key, &bob.margin_account, &b.insurance_vault, &bob.token_account, 1_000);
    env.send(&[ix], &[&k]).await.expect_err(BulwarkError::VaultMismatch);

    assert_eq!(env.token_balance(a.collateral_vault).await, 5_000);
    assert_eq!(env.token_balance(b.collateral_vault).await, 3_000);
    assert_eq!(env.clearinghouse(&a).await.total_collateral_balance, 5_000);
    assert_eq!(env.clearinghouse(&b).await.total_collateral_balance, 3_000);
    env.check_invariants(&a).await;
    env.check_invariants(&b).await;
}

#[tokio::test]
async fn delegate_may_deposit_but_never_withdraw_or_administer() {
    let (mut env, mut fx) = env_with_clearinghouse(ClearinghouseOptions::default()).await;
    let alice = env.create_user(&mut fx, 1_000).await;
    let dana = env.create_user(&mut fx, 2_000).await; // delegate, with her own wallet
    let a = alice.owner.insecure_clone();
    let d = dana.owner.insecure_clone();

    env.send(&[set_delegate_ix(&a.pubkey(), &alice.margin_account, a.pubkey())], &[&a])
        .await
        .expect_err(BulwarkError::DelegateIsOwner);
    env.send(&[set_delegate_ix(&a.pubkey(), &alice.margin_account, d.pubkey())], &[&a]).await.ok();
    assert_eq!(env.margin(alice.margin_account).await.delegate, d.pubkey());

    // May: deposit into Alice's account from her own wallet.
    let ix = deposit_ix(&d.pubkey(), &fx.key, &alice.margin_account, &fx.collateral_vault, &dana.token_account, 1_500);
    let out = env.send(&[ix], &[&d]).await.ok();
    assert_eq!(out.events::<DepositV1>()[0].depositor, d.pubkey());
    assert_eq!(env.margin(alice.margin_account).await.collateral_balance, 1_500);
    assert_eq!(env.token_balance(dana.token_account).await, 500);
    env.check_invariants(&fx).await;

    // May not: withdraw (to any wallet), change the delegate, close the account.
    let ix = withdraw_ix(&d.pubkey(), &fx.key, &alice.margin_account, &fx.collateral_vault, &dana.token_account, 1);
    env.send(&[ix], &[&d]).await.expect_err(BulwarkError::NotOwner);
    let ix = withdraw_ix(&d.pubkey(), &fx.key, &alice.margin_account, &fx.collateral_vault, &alice.token_account, 1);
    env.send(&[ix], &[&d]).await.expect_err(BulwarkError::NotOwner);
    env.send(&[set_delegate_ix(&d.pubkey(), &alice.margin_account, Pubkey::new_unique())], &[&d])
        .await
        .expect_err(BulwarkError::NotOwner);
    let ix = close_margin_account_ix(&d.pubkey(), &fx.key, &alice.margin_account, &d.pubkey());
    env.send(&[ix], &[&d]).await.expect_err(BulwarkError::NotOwner);

    // Cleared: the former delegate can no longer deposit either.
    env.send(&[set_delegate_ix(&a.pubkey(), &alice.margin_account, Pubkey::default())], &[&a]).await.ok();
    let ix = deposit_ix(&d.pubkey(), &fx.key, &alice.margin_account, &fx.collateral_vault, &dana.token_account, 1);
    env.send(&[ix], &[&d]).await.expect_err(BulwarkError::NotOwnerOrDelegate);

    // Only the owner takes the money out, to the owner's wallet.
    env.withdraw(&fx, &alice, 1_500).await.ok();
    assert_eq!(env.token_balance(alice.token_account).await, 2_500);
    env.check_invariants(&fx).await;
}

#[tokio::test]
async fn paused_clearinghouse_refuses_collateral_moves() {
    let (mut env, mut fx) = env_with_clearinghouse(ClearinghouseOptions::default()).await;
    let alice = env.create_user(&mut fx, 1_000).await;
    env.deposit(&fx, &alice, 400).await.ok();
    let g = fx.guardian.insecure_clone();
    let admin = fx.admin.insecure_clone();

    // Only the guardian pauses.
    env.send(&[pause_ix(&admin.pubkey(), &fx.key)], &[&admin]).await.expect_err(BulwarkError::NotGuardian);
    env.send(&[pause_ix(&g.pubkey(), &fx.key)], &[&g]).await.ok();
    env.send(&[pause_ix(&g.pubkey(), &fx.key)], &[&g]).await.expect_err(BulwarkError::StatusUnchanged);
    env.deposit(&fx, &alice, 100).await.expect_err(BulwarkError::ClearinghousePaused);
    env.withdraw(&fx, &alice, 100).await.expect_err(BulwarkError::ClearinghousePaused);
    assert_eq!(env.margin(alice.margin_account).await.collateral_balance, 400);
    env.check_invariants(&fx).await;

    env.send(&[unpause_ix(&admin.pubkey(), &fx.key)], &[&admin]).await.expect_err(BulwarkError::NotGuardian);
    env.send(&[unpause_ix(&g.pubkey(), &fx.key)], &[&g]).await.ok();
    env.deposit(&fx, &alice, 100).await.ok();
    env.withdraw(&fx, &alice, 500).await.ok();
    assert_eq!(env.token_balance(alice.token_account).await, 1_000);
    env.check_invariants(&fx).await;
}

#[tokio::test]
async fn withdrawal_circuit_breaker_trips_and_resets() {
    let opts = ClearinghouseOptions {
        breaker_window_seconds: 3_600,
        breaker_max_net_outflow_bps: 2_000, // 20% of the balance at the window's start
        breaker_min_outflow_allowance: 0,
        ..Default::default()
    };
    let (mut env, mut fx) = env_with_clearinghouse(opts).await;
    let alice = env.create_user(&mut fx, 10_000).await;
    let bob = env.create_user(&mut fx, 10_000).await;
    env.deposit(&fx, &alice, 10_000).await.ok();
    env.deposit(&fx, &bob, 10_000).await.ok();

    // New window opens on the next withdrawal: 20,000 in the vault -> 4,000 allowed net out.
    env.warp(3_600, 10).await;
    env.withdraw(&fx, &alice, 3_000).await.ok();
    let out = env.withdraw(&fx, &bob, 1_000).await.ok();
    assert_eq!(out.events::<WithdrawV1>()[0].window_net_outflow, 4_000);
    env.withdraw(&fx, &bob, 1).await.expect_err(BulwarkError::WithdrawalCircuitBreakerTripped);
    env.check_invariants(&fx).await;

    // A deposit in the same window makes room for the same amount.
    env.deposit(&fx, &alice, 500).await.ok();
    env.withdraw(&fx, &bob, 501).await.expect_err(BulwarkError::WithdrawalCircuitBreakerTripped);
    env.withdraw(&fx, &bob, 500).await.ok();

    // One second before the window ends it still holds; at its end it resets on the new balance
    // (16,000 -> 3,200 allowed).
    env.warp(3_598, 10).await;
    env.withdraw(&fx, &bob, 1).await.expect_err(BulwarkError::WithdrawalCircuitBreakerTripped);
    env.warp(2, 10).await;
    env.withdraw(&fx, &bob, 3_200).await.ok();
    env.withdraw(&fx, &alice, 1).await.expect_err(BulwarkError::WithdrawalCircuitBreakerTripped);
    assert_eq!(env.token_balance(bob.token_account).await, 1_000 + 500 + 3_200);
    assert_eq!(env.clearinghouse(&fx).await.total_collateral_balance, 20_500 - 3_000 - 1_000 - 500 - 3_200);
    env.check_invariants(&fx).await;
}

// ---- a stale collateral print does not freeze the clearinghouse ---------------------------

/// A clearinghouse whose collateral is redemption-aware (market print, rate and health feeds)
/// with one market at $100; every priced instruction goes with a collateral refresh in the
/// same transaction, as clients send it.
struct Redeemable {
    env: TestEnv,
    fx: ClearinghouseFixture,
    print: Feed,
    rate: Feed,
    health: Feed,
    market: MarketFixture,
}

impl Redeemable {
    async fn new() -> Self {
        let mut env = TestEnv::new().await;
        let print = env.create_feed(1, -6, 60).await;
        let rate = env.create_feed(2, -6, 60).await;
        let health = env.create_feed(3, -6, 60).await;
        let config = redemption_aware_collateral(
            oracle_config(bulwark::state::ORACLE_SOURCE_MANUAL, print.key),
            rate.key,
            health.key,
        );
        let mut fx = env
            .setup_clearinghouse(ClearinghouseOptions {
                collateral_oracle: config,
                timelock_seconds: 0,
                ..Default::default()
            })
            .await;
        let market = env.setup_market(&mut fx, simple_market_params(), 100).await;
        let mut s = Self { env, fx, print, rate, health, market };
        s.attest().await;
        s.env.publish(&s.print, 1_000_000, 0, true, 0).await;
        s
    }

    /// Redemption open at 1:1, reserves 102%.
    async fn attest(&mut self) {
        self.env.publish(&self.rate, 1_000_000, 0, true, 0).await;
        self.env.publish(&self.health, 0, 0, true, 1_020_000).await;
    }

    fn refresh_ix(&self) -> anchor_lang::solana_program::instruction::Instruction {
        refresh_collateral_price_ix(&self.fx.key, Some(self.print.key), Some(self.rate.key), Some(self.health.key))
    }

    async fn send_priced(
        &mut self,
        ix: anchor_lang::solana_program::instruction::Instruction,
        signer: &solana_keypair::Keypair,
    ) -> TxOutcome {
        let out = self.env.send(&[self.refresh_ix(), ix], &[signer]).await;
        self.env.check_invariants(&self.fx).await;
        out
    }

    async fn place(&mut self, user: &User, args: PlaceOrderArgs, makers: &[&User]) -> TxOutcome {
        let owner = user.owner.insecure_clone();
        let makers: Vec<Pubkey> = makers.iter().map(|u| u.margin_account).collect();
        let ix = place_order_ix(&owner.pubkey(), &self.fx, &user.margin_account, &self.market, args, &makers);
        self.send_priced(ix, &owner).await
    }

    async fn withdraw(&mut self, user: &User, amount: u64) -> TxOutcome {
        let owner = user.owner.insecure_clone();
        let mut ix = withdraw_ix(
            &owner.pubkey(),
            &self.fx.key,
            &user.margin_account,
            &self.fx.collateral_vault,
            &user.token_account,
            amount,
        );
        for key in [self.market.key, self.market.oracle] {
            ix.accounts.push(anchor_lang::solana_program::instruction::AccountMeta::new_readonly(key, false));
        }
        self.send_priced(ix, &owner).await
    }

    async fn user(&mut self, deposit: u64) -> User {
        let user = self.env.create_user(&mut self.fx, 1_000_000 * USD).await;
        self.env.deposit(&self.fx, &user, deposit).await.ok();
        user
    }

    async fn balance(&mut self, user: &User) -> u64 {
        self.env.margin(user.margin_account).await.collateral_balance
    }
}

#[tokio::test]
async fn stale_collateral_print_in_healthy_mode_does_not_freeze_the_clearinghouse() {
    use bulwark::events::{CollateralPriceSourceChangedV1, LiquidationV1};
    use bulwark::state::{COLLATERAL_PRICE_MARKET, COLLATERAL_PRICE_SOFT_FLOOR, SIDE_ASK, SIDE_BID};

    let mut s = Redeemable::new().await;
    let bob = s.user(1_000 * USD).await;
    let alice = s.user(110 * USD).await;
    let mo = s.user(1_000 * USD).await;
    let liquidator = s.user(10_000 * USD).await;
    let carol = s.user(50 * USD).await;

    // Alice buys 10 at $100 from Bob with the collateral at par: $109 left after the $1 fee.
    s.place(&bob, order(SIDE_ASK, ORDER_TYPE_POST_ONLY, 100, 10), &[]).await.ok();
    s.place(&alice, order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 100, 10), &[&bob]).await.ok();
    assert_eq!(s.balance(&alice).await, 109 * USD);
    assert_eq!(s.balance(&bob).await, 1_000 * USD + 200_000);
    // The market falls to $90; Mo rests an ask for 2 at $91.
    s.env.publish(&s.market.feed, 90_000_000, 0, true, 0).await;
    s.place(&mo, order(SIDE_ASK, ORDER_TYPE_POST_ONLY, 91, 2), &[]).await.ok();

    // The collateral's market print stops (61 s > its 60 s limit); the attestations and the
    // market's feed keep coming. The refresh does not fail: healthy mode's soft floor, announced.
    s.env.warp(61, 1).await;
    s.attest().await;
    s.env.publish(&s.market.feed, 90_000_000, 0, true, 0).await;
    let ix = s.refresh_ix();
    let out = s.env.send(&[ix], &[]).await.ok();
    let source = out.events::<CollateralPriceSourceChangedV1>();
    assert_eq!(
        (source[0].previous_source, source[0].source, source[0].price),
        (COLLATERAL_PRICE_MARKET, COLLATERAL_PRICE_SOFT_FLOOR, 990_000)
    );

    // Risk-raising orders and withdrawals against positions need a price from a live print.
    s.place(&alice, order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 91, 1), &[&mo])
        .await
        .expect_err(BulwarkError::CollateralPriceFallback);
    s.withdraw(&bob, USD).await.expect_err(BulwarkError::CollateralPriceFallback);
    // An account with no position needs no price at all.
    s.withdraw(&carol, 10 * USD).await.ok();
    assert_eq!(s.balance(&carol).await, 40 * USD);

    // A reduce-only exit works: Bob buys back 2 at $91 ($18 realised, $0.182 taker fee; Mo
    // earns the $0.0364 rebate).
    let mut args = order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 91, 2);
    args.reduce_only = true;
    s.place(&bob, args, &[&mo]).await.ok();
    assert_eq!(s.balance(&bob).await, 1_000 * USD + 200_000 + 18 * USD - 182_000);
    assert_eq!(s.balance(&mo).await, 1_000 * USD + 36_400);

    // So does a liquidation. $90 at a collateral price of 0.99 is 90.909090 collateral; with
    // the collateral somewhere in [0.99, 1.00] Alice is judged at the end that favours her
    // (PnL at 90.909091, requirement at 90.00): equity 109 − 90.909090 = $18.09 under $45.
    // The liquidator takes 4 lots at 90.909090: $363.63636. The 2.5% fee ($9.090909) is capped
    // at her equity at the end of the band against her ($109 − $100 = $9): a band must not let
    // a fee run past what is really left.
    let owner = liquidator.owner.insecure_clone();
    let ix = liquidate_takeover_ix(
        &owner.pubkey(),
        &s.fx,
        &liquidator.margin_account,
        &alice.margin_account,
        &s.market,
        4,
        &[],
    );
    let out = s.send_priced(ix, &owner).await.ok();
    let liq = &out.events::<LiquidationV1>()[0];
    assert_eq!((liq.base_lots, liq.oracle_price, liq.quote), (-4, 90_909_090, 363_636_360));
    assert_eq!((liq.fee, liq.liquidator_reward, liq.insurance_fee), (9_000_000, 4_500_000, 4_500_000));
    assert_eq!(liq.equity_before, 18_090_910);
    assert_eq!(s.balance(&alice).await, 109 * USD - 36_363_640 - 9_000_000);
    assert_eq!(s.balance(&liquidator).await, 10_000 * USD + 4_500_000);

    // The print comes back: the fallback ends (announced) and withdrawals are open again.
    s.env.publish(&s.print, 1_000_000, 0, true, 0).await;
    let out = s.withdraw(&bob, USD).await.ok();
    let source = out.events::<CollateralPriceSourceChangedV1>();
    assert_eq!((source[0].previous_source, source[0].source), (COLLATERAL_PRICE_SOFT_FLOOR, COLLATERAL_PRICE_MARKET));
}
