//! Builders and helpers for liquidation, insurance staking and ADL.

use anchor_lang::prelude::*;

use solana_keypair::Keypair;
use solana_signer::Signer as _;

use crate::fixtures::*;
use crate::harness::{TestEnv, TxOutcome};

pub use bulwark_sdk::pda::insurance_stake as insurance_stake_pda;

impl TestEnv {
    /// Open `user`'s insurance stake and stake `amount` from its wallet.
    pub async fn stake_insurance(&mut self, fx: &ClearinghouseFixture, user: &User, amount: u64) -> TxOutcome {
        let owner = user.owner.insecure_clone();
        let payer = self.payer();
        let stake = insurance_stake_pda(&fx.key, &owner.pubkey());
        let mut ixs = vec![];
        if self.account_data(stake).await.is_none() {
            ixs.push(create_insurance_stake_ix(&owner.pubkey(), &payer.pubkey(), &fx.key));
        }
        ixs.push(stake_insurance_ix(&owner.pubkey(), fx, &user.token_account, amount));
        self.send(&ixs, &[&owner]).await
    }

    pub async fn insurance_stake(
        &mut self,
        fx: &ClearinghouseFixture,
        owner: &Keypair,
    ) -> bulwark::state::InsuranceStake {
        self.load(insurance_stake_pda(&fx.key, &owner.pubkey())).await
    }
}

pub const USD: u64 = 1_000_000;

/// One clearinghouse with one market and a price the test moves: the common stage of the
/// waterfall tests. Every helper that sends checks the invariants afterwards.
pub struct Desk {
    pub env: TestEnv,
    pub fx: ClearinghouseFixture,
    pub market: MarketFixture,
    /// Oracle price in `PRICE_PRECISION` (collateral is the unit of account here).
    pub price: i64,
}

impl Desk {
    pub async fn new(params: bulwark::state::MarketParams) -> Self {
        Self::with_options(params, ClearinghouseOptions { timelock_seconds: 0, ..Default::default() }).await
    }

    pub async fn with_options(params: bulwark::state::MarketParams, opts: ClearinghouseOptions) -> Self {
        let mut env = TestEnv::new().await;
        let mut fx = env.setup_clearinghouse(opts).await;
        let market = env.setup_market(&mut fx, params, 100).await;
        Self { env, fx, market, price: 100 * USD as i64 }
    }

    /// A user with a $1M wallet and `deposit` in its margin account.
    pub async fn user(&mut self, deposit: u64) -> User {
        let user = self.env.create_user(&mut self.fx, 1_000_000 * USD).await;
        if deposit > 0 {
            self.env.deposit(&self.fx, &user, deposit).await.ok();
        }
        user
    }

    pub async fn check(&mut self) {
        self.env.check_invariants(&self.fx).await;
    }

    /// `maker` rests `lots` at `price_ticks` on `maker_side`; `taker` takes it all.
    pub async fn trade(&mut self, maker: &User, taker: &User, maker_side: u8, price_ticks: u64, lots: u64) {
        use bulwark::state::{SIDE_ASK, SIDE_BID};
        self.env
            .place(&self.fx, maker, &self.market, order(maker_side, ORDER_TYPE_POST_ONLY, price_ticks, lots), &[])
            .await
            .ok();
        let taker_side = if maker_side == SIDE_ASK { SIDE_BID } else { SIDE_ASK };
        let args = order(taker_side, ORDER_TYPE_IMMEDIATE_OR_CANCEL, price_ticks, lots);
        let out = self.env.place(&self.fx, taker, &self.market, args, &[maker.margin_account]).await.ok();
        assert_eq!(out.events::<bulwark::events::FillV1>().iter().map(|f| f.base_lots).sum::<u64>(), lots);
        self.check().await;
    }

    /// Publish `price` and let the feed's EMA settle on it (publish, wait 50 minutes, publish),
    /// so a large move is not refused as too volatile.
    pub async fn set_price(&mut self, price: i64) {
        self.env.publish(&self.market.feed, price, 0, true, 0).await;
        self.env.warp(3_000, 5).await;
        self.env.publish(&self.market.feed, price, 0, true, 0).await;
        self.price = price;
    }

    /// Republish the current price (after a clock warp made it stale).
    pub async fn refresh_price(&mut self) {
        let price = self.price;
        self.env.publish(&self.market.feed, price, 0, true, 0).await;
    }

    pub async fn margin(&mut self, user: &User) -> bulwark::state::MarginAccount {
        self.env.margin(user.margin_account).await
    }

    pub async fn balance(&mut self, user: &User) -> u64 {
        self.margin(user).await.collateral_balance
    }

    pub async fn position(&mut self, user: &User) -> bulwark::state::PerpPosition {
        let market = self.market.index;
        let account = self.margin(user).await;
        let found = account.open_positions().find(|p| p.market_index == market).copied();
        found.unwrap_or_default()
    }

    /// The account's health at the desk's price, by the program's own functions.
    pub async fn health(&mut self, user: &User) -> bulwark::math::margin::Health {
        let market = self.env.market(&self.market).await;
        let account = self.margin(user).await;
        let prices = [bulwark::controller::pricing::MarketPrice::new(&market, self.price)];
        bulwark::controller::pricing::health(&account, &prices).expect("health")
    }

    pub async fn insurance(&mut self) -> u64 {
        self.env.clearinghouse(&self.fx).await.insurance_balance
    }

    pub async fn takeover(&mut self, liquidator: &User, target: &User, max_base_lots: u64) -> TxOutcome {
        let owner = liquidator.owner.insecure_clone();
        let ix = liquidate_takeover_ix(
            &owner.pubkey(),
            &self.fx,
            &liquidator.margin_account,
            &target.margin_account,
            &self.market,
            max_base_lots,
            &[],
        );
        let out = self.env.send(&[ix], &[&owner]).await;
        self.check().await;
        out
    }

    pub async fn book_liquidate(&mut self, cranker: &User, target: &User, makers: &[&User]) -> TxOutcome {
        let owner = cranker.owner.insecure_clone();
        let makers: Vec<Pubkey> = makers.iter().map(|u| u.margin_account).collect();
        let ix = liquidate_against_book_ix(
            &owner.pubkey(),
            &self.fx,
            &cranker.margin_account,
            &target.margin_account,
            &self.market,
            &makers,
        );
        let out = self.env.send(&[ix], &[&owner]).await;
        self.check().await;
        out
    }

    pub async fn adl(&mut self, target: &User, counterparties: &[Pubkey], max_base_lots: u64) -> TxOutcome {
        let ix = auto_deleverage_ix(&self.fx, &self.market, &target.margin_account, max_base_lots, counterparties);
        let out = self.env.send(&[ix], &[]).await;
        self.check().await;
        out
    }

    /// Open an ADL round on `target` in the desk's market (the test payer pays the rent).
    pub async fn begin_adl(&mut self, target: &User) -> TxOutcome {
        let payer = self.env.payer().pubkey();
        let ix = begin_adl_ix(&payer, &self.fx.key, &self.market, &target.margin_account, &[]);
        let out = self.env.send(&[ix], &[]).await;
        self.check().await;
        out
    }

    /// Nominate `nominees` to `target`'s round; `remaining` price pairs first when they hold
    /// other markets.
    pub async fn nominate(&mut self, target: &User, price_pairs: &[Pubkey], nominees: &[Pubkey]) -> TxOutcome {
        let payer = self.env.payer().pubkey();
        let ix = nominate_adl_ix(&payer, &self.fx.key, &self.market, &target.margin_account, price_pairs, nominees);
        let out = self.env.send(&[ix], &[]).await;
        self.check().await;
        out
    }

    /// Execute `target`'s round against `queued` (the queue's first entries).
    pub async fn execute_adl(&mut self, target: &User, price_pairs: &[Pubkey], queued: &[Pubkey]) -> TxOutcome {
        let opener = self.env.payer().pubkey();
        let ix = execute_adl_ix(&self.fx, &self.market, &target.margin_account, &opener, price_pairs, queued);
        let out = self.env.send(&[ix], &[]).await;
        self.check().await;
        out
    }

    /// `target`'s open round in the desk's market, if any.
    pub async fn round(&mut self, target: &User) -> Option<bulwark::state::AdlRound> {
        use bulwark_sdk::accounts::ProgramAccount;
        let key = bulwark_sdk::pda::adl_round(&self.market.key, &target.margin_account);
        let data = self.env.account_data(key).await?;
        bulwark::state::AdlRound::decode(&data).ok()
    }

    pub async fn update_status(&mut self, user: &User) -> TxOutcome {
        let ix =
            update_liquidation_status_ix(&self.fx.key, &user.margin_account, &[self.market.key, self.market.oracle]);
        let out = self.env.send(&[ix], &[]).await;
        self.check().await;
        out
    }
}

impl Desk {
    /// Bob sells 60 lots at $100 and Carol 40 at $101 to Alice, who has $1,100 deposited; a
    /// staker has put $200 into insurance. Fees: Alice pays $10.04, Bob and Carol earn $1.2 and
    /// $0.808, insurance gets half the $8.032 net: $204.016 in all. Returns (Alice, Bob, Carol).
    pub async fn two_shorts(&mut self) -> (User, User, User) {
        use bulwark::controller::orders::{ORDER_TYPE_IMMEDIATE_OR_CANCEL, ORDER_TYPE_LIMIT};
        use bulwark::state::{SIDE_ASK, SIDE_BID};
        let staker = self.user(0).await;
        self.env.stake_insurance(&self.fx, &staker, 200 * USD).await.ok();
        let bob = self.user(2_000 * USD).await;
        let carol = self.user(2_000 * USD).await;
        let alice = self.user(1_100 * USD).await;
        self.env.place(&self.fx, &bob, &self.market, order(SIDE_ASK, ORDER_TYPE_LIMIT, 100, 60), &[]).await.ok();
        self.env.place(&self.fx, &carol, &self.market, order(SIDE_ASK, ORDER_TYPE_LIMIT, 101, 40), &[]).await.ok();
        let makers = [bob.margin_account, carol.margin_account];
        let args = order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 101, 100);
        self.env.place(&self.fx, &alice, &self.market, args, &makers).await.ok();
        self.check().await;
        assert_eq!(self.balance(&alice).await, 1_089_960_000);
        assert_eq!(self.insurance().await, 204_016_000);
        (alice, bob, carol)
    }

    /// `two_shorts`, then the price falls to $85: Alice's deficit is $450.04 and the shortfall
    /// insurance cannot cover $246.024.
    pub async fn alice_bankrupt(&mut self) -> (User, User, User) {
        let users = self.two_shorts().await;
        self.set_price(85_000_000).await;
        assert_eq!(self.health(&users.0).await.equity, -450_040_000);
        users
    }
}
