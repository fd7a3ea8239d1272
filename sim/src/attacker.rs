//! The attacker population: owners with two margin accounts each, running the known attacks on
//! the exchange during the replay through the same bank (see `scenario::Strategy`), and the
//! ledger that tells what they gained and what honest users lost to them.
//!
//! **Attacker gain** = Σ over attacker accounts of (equity at the end + withdrawals −
//! deposits) − the price PnL of the attackers' net position (Σ over sub-steps of the net base
//! held into the sub-step times the oracle's move, in collateral). Each owner's two accounts
//! trade against each other, so its net position is flat unless a liquidation of one side
//! left it otherwise; a directional bet is not an attack, and is taken out. What is left is
//! what the attacks took from others less what they paid (fees). Equities are the program's
//! valuation, rounded down per account, so the figure errs low by at most an atom an account.
//!
//! **Honest loss** (attributable to the attacker) = insurance paid for attacker accounts'
//! deficits (`InsurancePayoutV1` to an attacker account) + haircuts honest counterparties paid
//! in deleveraging an attacker account (`AdlFillV1` with an attacker target and an honest
//! counterparty) + what honest takers lost against the oracle filling an attacker's resting
//! order (`FillV1` with an attacker maker and an honest taker: the quote paid above, or
//! received below, the oracle value of the lots at that moment). An honest maker's quote
//! filled by an attacker is priced by the honest maker itself and is not counted.

use std::collections::{BTreeMap, BTreeSet};

use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::Instruction;
use bulwark::controller::orders::{ORDER_TYPE_IMMEDIATE_OR_CANCEL, ORDER_TYPE_POST_ONLY};
use bulwark::controller::pricing::{perp_spec, MarketPrice};
use bulwark::events::{
    AdlFillV1, FillV1, FundingSampledV1, FundingUpdatedV1, InsurancePayoutV1, OrderCancelledV1, OrderPlacedV1,
    CANCEL_REASON_EVICTED, CANCEL_REASON_OUT_OF_BAND, CANCEL_REASON_PRICE_BAND,
};
use bulwark::math::liquidation::{band_limit_ticks, is_liquidatable, resting_band_ticks};
use bulwark::math::perp::base_value;
use bulwark::state::*;
use bulwark_sdk::events::decode_events;
use bulwark_sdk::ix::{self, MarketKeys};
use bulwark_tests::{order, TxOutcome};
use serde::Serialize;
use solana_keypair::Keypair;
use solana_signer::Signer;

use crate::replay::Stage;
use crate::scenario::{AttackerSpec, Strategy};

/// Something an honest user lost to the attacker.
#[derive(Clone, Debug, Serialize)]
pub struct Incident {
    pub minute: usize,
    pub substep: usize,
    /// "insurance_payout", "adl_haircut" or "off_market_fill".
    pub kind: &'static str,
    pub attacker_account: String,
    pub honest_account: Option<String>,
    pub amount: u64,
    /// The transaction it happened in: an attacker strategy, the keeper's action or the
    /// population's.
    pub source: String,
    /// For a payout in a liquidation: the account's equity before it (negative: a price move
    /// made the deficit; otherwise the liquidation's fills did).
    pub equity_before_liquidation: Option<i64>,
    /// That liquidation's closed lots (signed like a fill), quote, oracle price and fee.
    pub liquidation: Option<(i64, u64, i64, u64)>,
}

/// Sent and refused attacker transactions of one strategy.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StrategyCount {
    pub strategy: String,
    pub sent: u64,
    pub refused: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct AttackReport {
    pub owners: usize,
    pub accounts: usize,
    pub deposits: u64,
    pub withdrawals: u64,
    pub final_equity: i64,
    /// Price PnL of the attackers' net position, taken out of the gain.
    pub net_position_pnl: i64,
    /// See the module documentation; goal ≤ 0.
    pub gain: i64,
    /// See the module documentation; goal 0.
    pub honest_loss: u64,
    pub insurance_for_attacker: u64,
    /// Of which the deficit a liquidation found already there (equity below zero before it): a
    /// price move made it, not a fill; the hedged pair's other account gained it.
    pub insurance_for_attacker_price_made: u64,
    pub haircuts_from_honest: u64,
    pub off_market_fills: u64,
    pub sent: u64,
    pub refused: u64,
    /// "strategy: ErrorName" → count.
    pub refused_by_error: Vec<(String, u64)>,
    pub by_strategy: Vec<StrategyCount>,
    pub hedged_opens: u64,
    pub hedged_closes: u64,
    pub deposit_pings: u64,
    pub self_liquidations: u64,
    pub funding_cranks: u64,
    /// Largest |mark − oracle| sampled by a steered `update_funding`, bps of the oracle.
    pub steered_mark_offset_bps: i64,
    /// Attacker orders a better one evicted, and ones removed as out of band.
    pub orders_evicted: u64,
    pub orders_removed_out_of_band: u64,
    pub incidents: Vec<Incident>,
}

/// Watches every landed transaction for what honest users lose to attacker accounts.
#[derive(Default)]
pub struct Ledger {
    pub attackers: BTreeSet<Pubkey>,
    /// Market key → (index in the scenario, oracle price in collateral now, spec).
    pub markets: BTreeMap<Pubkey, (usize, i64, bulwark::math::perp::PerpSpec)>,
    pub minute: usize,
    pub substep: usize,
    /// Who sent the transaction being observed.
    pub source: String,
    pub insurance_for_attacker: u64,
    pub insurance_for_attacker_price_made: u64,
    pub haircuts_from_honest: u64,
    pub off_market_fills: u64,
    pub orders_evicted: u64,
    pub orders_removed_out_of_band: u64,
    pub incidents: Vec<Incident>,
}

impl Ledger {
    pub fn observe(&mut self, logs: &[String]) {
        if self.attackers.is_empty() {
            return;
        }
        let source = self.source.clone();
        let incident = |kind, attacker: &Pubkey, honest: Option<&Pubkey>, amount: u64, minute, substep| Incident {
            minute,
            substep,
            kind,
            attacker_account: attacker.to_string(),
            honest_account: honest.map(|h| h.to_string()),
            amount,
            source: source.clone(),
            equity_before_liquidation: None,
            liquidation: None,
        };
        let (minute, substep) = (self.minute, self.substep);
        let liquidations = decode_events::<bulwark::events::LiquidationV1>(logs);
        for p in decode_events::<InsurancePayoutV1>(logs) {
            if self.attackers.contains(&p.margin_account) && p.amount > 0 {
                self.insurance_for_attacker += p.amount;
                let mut i = incident("insurance_payout", &p.margin_account, None, p.amount, minute, substep);
                if let Some(l) = liquidations.iter().find(|l| l.margin_account == p.margin_account) {
                    i.equity_before_liquidation = Some(l.equity_before);
                    i.liquidation = Some((l.base_lots, l.quote, l.oracle_price, l.fee));
                    // Up to the deficit the account already had; the rest its fills made.
                    let price_made = (-(l.equity_before as i128)).clamp(0, p.amount as i128) as u64;
                    self.insurance_for_attacker_price_made += price_made;
                }
                self.incidents.push(i);
            }
        }
        for f in decode_events::<AdlFillV1>(logs) {
            if self.attackers.contains(&f.target) && !self.attackers.contains(&f.counterparty) && f.haircut > 0 {
                self.haircuts_from_honest += f.haircut;
                self.incidents.push(incident(
                    "adl_haircut",
                    &f.target,
                    Some(&f.counterparty),
                    f.haircut,
                    minute,
                    substep,
                ));
            }
        }
        for f in decode_events::<FillV1>(logs) {
            if !self.attackers.contains(&f.maker) || self.attackers.contains(&f.taker) {
                continue;
            }
            let Some((_, oracle, spec)) = self.markets.get(&f.market) else { continue };
            let at_oracle = base_value(f.base_lots as i64, *oracle, spec).unwrap_or(0);
            let loss = if f.taker_side == SIDE_BID { f.quote as i128 - at_oracle } else { at_oracle - f.quote as i128 };
            if loss > 0 {
                self.off_market_fills += loss as u64;
                self.incidents.push(incident(
                    "off_market_fill",
                    &f.maker,
                    Some(&f.taker),
                    loss as u64,
                    minute,
                    substep,
                ));
            }
        }
        for c in decode_events::<OrderCancelledV1>(logs) {
            if self.attackers.contains(&c.margin_account) {
                match c.reason {
                    CANCEL_REASON_EVICTED => self.orders_evicted += 1,
                    CANCEL_REASON_OUT_OF_BAND | CANCEL_REASON_PRICE_BAND => self.orders_removed_out_of_band += 1,
                    _ => {}
                }
            }
        }
    }
}

/// The program's error names in code order, from its source: Anchor numbers the variants of
/// the one error enum from `ERROR_CODE_OFFSET` in declaration order (the committed IDL may not
/// list the newest yet).
fn source_error_names() -> &'static [String] {
    static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        let source = include_str!("../../programs/bulwark/src/error.rs");
        let body = source.split("pub enum BulwarkError {").nth(1).unwrap_or("");
        let body = body.split("\n}").next().unwrap_or("");
        body.lines()
            .map(str::trim)
            .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
            .map(|l| l.trim_end_matches(',').to_string())
            .collect()
    })
}

/// The program error a refused transaction ended with, by name.
pub fn error_name(outcome: &TxOutcome) -> String {
    let Some(code) = outcome.custom_error() else {
        return match &outcome.result {
            Err(e) => format!("{e:?}"),
            Ok(()) => "ok".into(),
        };
    };
    if let Some(e) = bulwark_sdk::errors::program_error(code) {
        return e.name.clone();
    }
    code.checked_sub(anchor_lang::error::ERROR_CODE_OFFSET)
        .and_then(|i| source_error_names().get(i as usize))
        .cloned()
        .unwrap_or_else(|| format!("Custom({code})"))
}

/// One attacker owner and its two margin accounts.
struct Owner {
    keypair: Keypair,
    token_account: Pubkey,
    accounts: [Pubkey; 2],
    /// The market this owner works (owners take the markets in turn).
    market: usize,
    /// The account that takes the loss in the hedged pair, and whether it opens short.
    loser: usize,
    loser_short: bool,
    jam_bids: bool,
    steer_up: bool,
}

pub(crate) struct Attackers {
    spec: AttackerSpec,
    owners: Vec<Owner>,
    pub deposits: u64,
    pub withdrawals: u64,
    /// Price PnL of the net position so far, and the prices it was last valued at.
    net_position_pnl: i128,
    last_prices: Vec<i64>,
    sent: u64,
    refused: u64,
    refused_by_error: BTreeMap<String, u64>,
    by_strategy: BTreeMap<&'static str, (u64, u64)>,
    hedged_opens: u64,
    hedged_closes: u64,
    deposit_pings: u64,
    self_liquidations: u64,
    funding_cranks: u64,
    steered_mark_offset_bps: i64,
}

fn strategy_name(s: Option<Strategy>) -> &'static str {
    match s {
        Some(Strategy::HedgedPair) => "hedged_pair",
        Some(Strategy::FarOrders) => "far_orders",
        Some(Strategy::Jam) => "jam",
        Some(Strategy::DepositPing) => "deposit_ping",
        Some(Strategy::FundingSteer) => "funding_steer",
        Some(Strategy::SelfLiquidation) => "self_liquidation",
        None => "upkeep",
    }
}

/// What one sub-step's actions need to know about the prices in force.
pub struct Prices {
    /// Oracle price in collateral per market, `PRICE_PRECISION`.
    pub oracle: Vec<i64>,
    pub markets: Vec<Market>,
}

impl Prices {
    fn market_prices(&self) -> Vec<MarketPrice> {
        self.markets.iter().zip(&self.oracle).map(|(m, p)| MarketPrice::new(m, *p)).collect()
    }
}

impl Attackers {
    /// Create the owners, their accounts and deposits.
    pub(crate) async fn create(stage: &mut Stage, spec: &AttackerSpec) -> Self {
        let unit = 10u64.pow(6);
        let mut owners = Vec::new();
        let mut deposits = 0;
        for i in 0..spec.owners {
            let user = stage.env.create_user(&mut stage.fx, (2 * spec.deposit + 1) * unit).await;
            let owner = user.owner.insecure_clone();
            let second = bulwark_tests::margin_account_pda(&stage.fx.key, &owner.pubkey(), 1);
            stage
                .env
                .send(&[ix::create_margin_account_ix(&stage.fx.key, &owner.pubkey(), &owner.pubkey(), 1)], &[&owner])
                .await
                .ok();
            stage.fx.margin_accounts.push(second);
            for account in [user.margin_account, second] {
                let deposit = ix::deposit_ix(
                    &owner.pubkey(),
                    &stage.fx.key,
                    &account,
                    &stage.fx.collateral_vault,
                    &user.token_account,
                    spec.deposit * unit,
                );
                stage.env.send(&[deposit], &[&owner]).await.ok();
                deposits += spec.deposit * unit;
            }
            stage.ledger.attackers.extend([user.margin_account, second]);
            owners.push(Owner {
                keypair: owner,
                token_account: user.token_account,
                accounts: [user.margin_account, second],
                market: i % stage.markets.len(),
                loser: i % 2,
                loser_short: i % 2 == 0,
                jam_bids: i % 2 == 0,
                steer_up: i % 2 == 0,
            });
        }
        Self {
            spec: spec.clone(),
            owners,
            deposits,
            withdrawals: 0,
            net_position_pnl: 0,
            last_prices: vec![],
            sent: 0,
            refused: 0,
            refused_by_error: BTreeMap::new(),
            by_strategy: BTreeMap::new(),
            hedged_opens: 0,
            hedged_closes: 0,
            deposit_pings: 0,
            self_liquidations: 0,
            funding_cranks: 0,
            steered_mark_offset_bps: 0,
        }
    }

    pub fn accounts(&self) -> Vec<Pubkey> {
        self.owners.iter().flat_map(|o| o.accounts).collect()
    }

    async fn send(
        &mut self,
        stage: &mut Stage,
        strategy: Option<Strategy>,
        ixs: &[Instruction],
        signers: &[&Keypair],
    ) -> TxOutcome {
        let name = strategy_name(strategy);
        stage.ledger.source = format!("attacker {name}");
        let outcome = stage.send_observed(ixs, signers).await;
        stage.ledger.source = "population".into();
        self.sent += 1;
        let counts = self.by_strategy.entry(name).or_default();
        counts.0 += 1;
        if outcome.result.is_err() {
            self.refused += 1;
            counts.1 += 1;
            *self.refused_by_error.entry(format!("{name}: {}", error_name(&outcome))).or_default() += 1;
        }
        outcome
    }

    /// Value the net position held since the last sub-step at this sub-step's prices.
    pub(crate) async fn mark_to_market(&mut self, stage: &mut Stage, prices: &Prices) {
        if !self.last_prices.is_empty() {
            let mut net: BTreeMap<u16, i64> = BTreeMap::new();
            for key in self.accounts() {
                let account = stage.env.margin(key).await;
                for p in account.open_positions() {
                    *net.entry(p.market_index).or_default() += p.base_lots;
                }
            }
            for (m, market) in prices.markets.iter().enumerate() {
                let lots = net.get(&market.index).copied().unwrap_or(0);
                if lots != 0 {
                    let spec = perp_spec(market);
                    let now = base_value(lots, prices.oracle[m], &spec).unwrap_or(0);
                    let before = base_value(lots, self.last_prices[m], &spec).unwrap_or(0);
                    self.net_position_pnl += now - before;
                }
            }
        }
        self.last_prices = prices.oracle.clone();
    }

    /// Every sub-step, before the keeper: liquidatable attacker accounts ping a deposit and
    /// liquidate themselves into their sibling's order.
    pub(crate) async fn react(&mut self, stage: &mut Stage, prices: &Prices, minute: usize) {
        if !self.spec.active(minute) {
            return;
        }
        let ping = self.spec.runs(Strategy::DepositPing);
        let self_liquidate = self.spec.runs(Strategy::SelfLiquidation);
        if !ping && !self_liquidate {
            return;
        }
        let ch = stage.env.clearinghouse(&stage.fx).await;
        let market_prices = prices.market_prices();
        for o in 0..self.owners.len() {
            for side in 0..2 {
                let key = self.owners[o].accounts[side];
                let account = stage.env.margin(key).await;
                let Ok(h) = bulwark_sdk::health::health(&account, &market_prices) else { continue };
                let flagged = account.status_flags & ACCOUNT_FLAG_BEING_LIQUIDATED != 0;
                if !is_liquidatable(&h, flagged, ch.waterfall.liquidation_buffer_bps).unwrap_or(false) {
                    continue;
                }
                let owner = self.owners[o].keypair.insecure_clone();
                if ping {
                    let deposit = ix::deposit_ix(
                        &owner.pubkey(),
                        &stage.fx.key,
                        &key,
                        &stage.fx.collateral_vault,
                        &self.owners[o].token_account,
                        1,
                    );
                    if self.send(stage, Some(Strategy::DepositPing), &[deposit], &[&owner]).await.result.is_ok() {
                        self.deposits += 1;
                        self.deposit_pings += 1;
                    }
                }
                if self_liquidate {
                    self.liquidate_into_sibling(stage, prices, &ch, o, side, &account).await;
                }
            }
        }
    }

    async fn liquidate_into_sibling(
        &mut self,
        stage: &mut Stage,
        prices: &Prices,
        ch: &Clearinghouse,
        o: usize,
        side: usize,
        account: &MarginAccount,
    ) {
        let Some(position) = account.open_positions().find(|p| p.base_lots != 0).copied() else { return };
        let Some(m) = prices.markets.iter().position(|x| x.index == position.market_index) else { return };
        let market = stage.markets[m];
        let owner = self.owners[o].keypair.insecure_clone();
        let (target, sibling) = (self.owners[o].accounts[side], self.owners[o].accounts[1 - side]);
        let selling = position.base_lots > 0;
        let worst = band_limit_ticks(
            prices.oracle[m],
            prices.markets[m].params.tick_size,
            ch.waterfall.book_liquidation_band_bps,
            selling,
        )
        .unwrap_or(1);
        let sibling_side = if selling { SIDE_BID } else { SIDE_ASK };
        let rest = order(sibling_side, ORDER_TYPE_POST_ONLY, worst, position.base_lots.unsigned_abs());
        let pairs = self.pairs_of(stage, sibling, m).await;
        let place = ix::place_order_ix(&owner.pubkey(), &stage.fx, &sibling, &market, rest, &pairs);
        self.send(stage, Some(Strategy::SelfLiquidation), &[place], &[&owner]).await;
        let book = stage.env.load::<OrderBook>(market.order_book).await;
        let taker_side = if selling { SIDE_ASK } else { SIDE_BID };
        let mut remaining = self.pairs_of(stage, target, m).await;
        remaining.extend(bulwark_sdk::book::makers_for(&book, taker_side, &target));
        let crank = ix::liquidate_against_book_ix(&owner.pubkey(), &stage.fx, &sibling, &target, &market, &remaining);
        if self.send(stage, Some(Strategy::SelfLiquidation), &[crank], &[&owner]).await.result.is_ok() {
            self.self_liquidations += 1;
        }
        let cancel = ix::cancel_order_ix(&owner.pubkey(), &sibling, &market, None);
        self.send(stage, None, &[cancel], &[&owner]).await;
    }

    /// After the makers quote: an owner whose net position is not flat (a liquidation closed
    /// one side) closes the difference reduce-only against the book, so a directional bet never
    /// stands in for an attack.
    pub(crate) async fn rebalance(&mut self, stage: &mut Stage, prices: &Prices, minute: usize) {
        if !self.spec.active(minute) {
            return;
        }
        let ch = stage.env.clearinghouse(&stage.fx).await;
        for o in 0..self.owners.len() {
            let m = self.owners[o].market;
            let index = prices.markets[m].index;
            let mut lots = [0i64; 2];
            for (a, key) in self.owners[o].accounts.into_iter().enumerate() {
                let account = stage.env.margin(key).await;
                lots[a] = account.open_positions().find(|p| p.market_index == index).map(|p| p.base_lots).unwrap_or(0);
            }
            let net = lots[0] + lots[1];
            if net == 0 {
                continue;
            }
            // The account holding the net's sign reduces by as much as it can.
            let a = if lots[0].signum() == net.signum() { 0 } else { 1 };
            let size = net.unsigned_abs().min(lots[a].unsigned_abs());
            let selling = net > 0;
            let limit = band_limit_ticks(
                prices.oracle[m],
                prices.markets[m].params.tick_size,
                ch.waterfall.max_fill_deviation_bps,
                selling,
            )
            .unwrap_or(1);
            let side = if selling { SIDE_ASK } else { SIDE_BID };
            let mut args = order(side, ORDER_TYPE_IMMEDIATE_OR_CANCEL, limit, size);
            args.reduce_only = true;
            let key = self.owners[o].accounts[a];
            let market = stage.markets[m];
            let book = stage.env.load::<OrderBook>(market.order_book).await;
            let mut remaining = self.pairs_of(stage, key, m).await;
            remaining.extend(bulwark_sdk::book::makers_for(&book, side, &key));
            let owner = self.owners[o].keypair.insecure_clone();
            let place = ix::place_order_ix(&owner.pubkey(), &stage.fx, &key, &market, args, &remaining);
            self.send(stage, None, &[place], &[&owner]).await;
        }
    }

    /// `price_pairs` of the markets other than `m` that `account` holds.
    async fn pairs_of(&self, stage: &mut Stage, account: Pubkey, m: usize) -> Vec<Pubkey> {
        let account = stage.env.margin(account).await;
        let held: Vec<MarketKeys> = stage
            .markets
            .iter()
            .enumerate()
            .filter(|(i, k)| *i != m && account.open_positions().any(|p| p.market_index == k.index))
            .map(|(_, k)| *k)
            .collect();
        ix::price_pairs(&held)
    }

    /// At the start of an attack minute, between the makers' cancels and their new quotes.
    pub(crate) async fn act(&mut self, stage: &mut Stage, prices: &Prices, minute: usize) {
        if !self.spec.acts(minute) {
            return;
        }
        let ch = stage.env.clearinghouse(&stage.fx).await;
        for o in 0..self.owners.len() {
            let owner = self.owners[o].keypair.insecure_clone();
            let m = self.owners[o].market;
            let market = stage.markets[m];
            let cancels: Vec<Instruction> = self.owners[o]
                .accounts
                .iter()
                .map(|a| ix::cancel_order_ix(&owner.pubkey(), a, &market, None))
                .collect();
            self.send(stage, None, &cancels, &[&owner]).await;
            // Winnings withdrawn go back in: each account starts its turn with the deposit.
            self.top_up(stage, prices, o).await;
            if self.spec.runs(Strategy::FundingSteer) {
                self.steer_funding(stage, prices, &ch, o).await;
            }
            if self.spec.runs(Strategy::FarOrders) {
                self.far_orders(stage, prices, &ch, o).await;
            }
            if self.spec.runs(Strategy::Jam) {
                self.jam(stage, prices, &ch, o).await;
            }
            // Last: it uses up the margin the orders above left.
            if self.spec.runs(Strategy::HedgedPair) {
                self.hedged_pair(stage, prices, &ch, o).await;
            }
        }
    }

    /// Rest `args` from `maker`, then take it with `taker`; leftovers cancelled. Returns
    /// whether the take landed.
    #[allow(clippy::too_many_arguments)]
    async fn rest_and_take(
        &mut self,
        stage: &mut Stage,
        o: usize,
        m: usize,
        maker: Pubkey,
        rest: bulwark_tests::PlaceOrderArgs,
        taker: Pubkey,
        take: bulwark_tests::PlaceOrderArgs,
    ) -> bool {
        let owner = self.owners[o].keypair.insecure_clone();
        let market = stage.markets[m];
        let pairs = self.pairs_of(stage, maker, m).await;
        let place = ix::place_order_ix(&owner.pubkey(), &stage.fx, &maker, &market, rest, &pairs);
        let rested = self.send(stage, Some(Strategy::HedgedPair), &[place], &[&owner]).await.result.is_ok();
        let mut took = false;
        if rested {
            let book = stage.env.load::<OrderBook>(market.order_book).await;
            let mut remaining = self.pairs_of(stage, taker, m).await;
            remaining.extend(bulwark_sdk::book::makers_for(&book, take.side, &taker));
            let place = ix::place_order_ix(&owner.pubkey(), &stage.fx, &taker, &market, take, &remaining);
            took = self.send(stage, Some(Strategy::HedgedPair), &[place], &[&owner]).await.result.is_ok();
        }
        let book = stage.env.load::<OrderBook>(market.order_book).await;
        if book.resting_of(rest.side, &maker).1 > 0 {
            let cancel = ix::cancel_order_ix(&owner.pubkey(), &maker, &market, None);
            self.send(stage, None, &[cancel], &[&owner]).await;
        }
        took
    }

    async fn hedged_pair(&mut self, stage: &mut Stage, prices: &Prices, ch: &Clearinghouse, o: usize) {
        let m = self.owners[o].market;
        let spec = &prices.markets[m].params;
        let market_index = prices.markets[m].index;
        let (loser, winner) = {
            let w = &self.owners[o];
            (w.accounts[w.loser], w.accounts[1 - w.loser])
        };
        let band = ch.waterfall.max_fill_deviation_bps;
        let oracle = prices.oracle[m];
        let market_prices = prices.market_prices();
        let lots_of = |a: &MarginAccount| {
            a.open_positions().find(|p| p.market_index == market_index).map(|p| p.base_lots).unwrap_or(0)
        };
        let loser_lots = lots_of(&stage.env.margin(loser).await);
        let winner_lots = lots_of(&stage.env.margin(winner).await);
        if loser_lots == 0 && winner_lots == 0 {
            // Open: the loser takes the winner's order at the edge of the fill band that hurts
            // it, as large as its free margin allows: first oversized, then just inside.
            let short = self.owners[o].loser_short;
            let edge = band_limit_ticks(oracle, spec.tick_size, band, short).unwrap_or(1);
            let account = stage.env.margin(loser).await;
            let Ok(h) = bulwark_sdk::health::health(&account, &market_prices) else { return };
            let qplt = prices.markets[m].quote_per_lot_tick as i128;
            let oracle_ticks = (oracle as u64 / spec.tick_size) as i128;
            let per_lot = oracle_ticks * qplt * spec.initial_margin_bps as i128 / 10_000
                + (oracle_ticks - edge as i128).abs() * qplt
                + edge as i128 * qplt * spec.taker_fee_bps as i128 / 10_000
                + 1;
            let lots = ((h.equity - h.initial_requirement).max(0) / per_lot.max(1)) as u64;
            let mut opened = false;
            for (num, den) in [(11u64, 10u64), (97, 100)] {
                let size = lots * num / den;
                if size == 0 {
                    break;
                }
                let (rest_side, take_side) = if short { (SIDE_BID, SIDE_ASK) } else { (SIDE_ASK, SIDE_BID) };
                let rest = order(rest_side, ORDER_TYPE_POST_ONLY, edge, size);
                let take = order(take_side, ORDER_TYPE_IMMEDIATE_OR_CANCEL, edge, size);
                if self.rest_and_take(stage, o, m, winner, rest, loser, take).await {
                    opened = true;
                    break;
                }
            }
            if opened {
                self.hedged_opens += 1;
                self.withdraw_free(stage, o, winner, &market_prices).await;
            }
        } else {
            // Close: the loser buys back (sells back) reduce-only at the other edge, so it
            // loses again; the winner's order is reduce-only too.
            if loser_lots != 0 {
                let buying = loser_lots < 0;
                let edge = band_limit_ticks(oracle, spec.tick_size, band, !buying).unwrap_or(1);
                let size = loser_lots.unsigned_abs();
                let (rest_side, take_side) = if buying { (SIDE_ASK, SIDE_BID) } else { (SIDE_BID, SIDE_ASK) };
                let mut rest = order(rest_side, ORDER_TYPE_POST_ONLY, edge, size);
                rest.reduce_only = winner_lots != 0 && (winner_lots > 0) == buying;
                let mut take = order(take_side, ORDER_TYPE_IMMEDIATE_OR_CANCEL, edge, size);
                take.reduce_only = true;
                if self.rest_and_take(stage, o, m, winner, rest, loser, take).await {
                    self.hedged_closes += 1;
                }
            }
            self.withdraw_free(stage, o, winner, &market_prices).await;
            let w = &mut self.owners[o];
            w.loser = 1 - w.loser;
            w.loser_short = !w.loser_short;
        }
    }

    /// Deposit what each account's equity lacks of the configured deposit, as far as the
    /// owner's wallet goes.
    async fn top_up(&mut self, stage: &mut Stage, prices: &Prices, o: usize) {
        let target = (self.spec.deposit * 10u64.pow(6)) as i128;
        let market_prices = prices.market_prices();
        for a in 0..2 {
            let key = self.owners[o].accounts[a];
            let account = stage.env.margin(key).await;
            let Ok(h) = bulwark_sdk::health::health(&account, &market_prices) else { continue };
            // One unit stays in the wallet for deposit pings.
            let wallet = stage.env.token_balance(self.owners[o].token_account).await as i128 - 10i128.pow(6);
            let amount = (target - h.equity).min(wallet);
            if amount <= 0 {
                continue;
            }
            let owner = self.owners[o].keypair.insecure_clone();
            let deposit = ix::deposit_ix(
                &owner.pubkey(),
                &stage.fx.key,
                &key,
                &stage.fx.collateral_vault,
                &self.owners[o].token_account,
                amount as u64,
            );
            if self.send(stage, None, &[deposit], &[&owner]).await.result.is_ok() {
                self.deposits += amount as u64;
            }
        }
    }

    /// Withdraw everything above the account's initial requirement.
    async fn withdraw_free(&mut self, stage: &mut Stage, o: usize, account_key: Pubkey, prices: &[MarketPrice]) {
        let account = stage.env.margin(account_key).await;
        let Ok(h) = bulwark_sdk::health::health(&account, prices) else { return };
        let free = (h.equity - h.initial_requirement).min(account.collateral_balance as i128);
        if free <= 0 {
            return;
        }
        let owner = self.owners[o].keypair.insecure_clone();
        let held: Vec<MarketKeys> = stage
            .markets
            .iter()
            .filter(|k| account.open_positions().any(|p| p.market_index == k.index))
            .copied()
            .collect();
        let withdraw = ix::with_remaining(
            ix::withdraw_ix(
                &owner.pubkey(),
                &stage.fx.key,
                &account_key,
                &stage.fx.collateral_vault,
                &self.owners[o].token_account,
                free as u64,
            ),
            &ix::price_pairs(&held),
        );
        if self.send(stage, Some(Strategy::HedgedPair), &[withdraw], &[&owner]).await.result.is_ok() {
            self.withdrawals += free as u64;
        }
    }

    async fn far_orders(&mut self, stage: &mut Stage, prices: &Prices, ch: &Clearinghouse, o: usize) {
        let m = self.owners[o].market;
        let tick = prices.markets[m].params.tick_size;
        let Ok((low, high)) = resting_band_ticks(prices.oracle[m], tick, ch.waterfall.max_fill_deviation_bps) else {
            return;
        };
        let owner = self.owners[o].keypair.insecure_clone();
        let account = self.owners[o].accounts[0];
        let market = stage.markets[m];
        let pairs = self.pairs_of(stage, account, m).await;
        // At the resting band's edges (allowed), one tick outside them, and absurd.
        for (side, price) in [
            (SIDE_BID, low),
            (SIDE_ASK, high),
            (SIDE_BID, low - 1),
            (SIDE_ASK, high + 1),
            (SIDE_BID, 1),
            (SIDE_ASK, u64::MAX / 4),
        ] {
            let args = order(side, ORDER_TYPE_POST_ONLY, price, 1);
            let place = ix::place_order_ix(&owner.pubkey(), &stage.fx, &account, &market, args, &pairs);
            self.send(stage, Some(Strategy::FarOrders), &[place], &[&owner]).await;
        }
    }

    async fn jam(&mut self, stage: &mut Stage, prices: &Prices, ch: &Clearinghouse, o: usize) {
        let m = self.owners[o].market;
        let tick = prices.markets[m].params.tick_size;
        let Ok((low, high)) = resting_band_ticks(prices.oracle[m], tick, ch.waterfall.max_fill_deviation_bps) else {
            return;
        };
        let side = if self.owners[o].jam_bids { SIDE_BID } else { SIDE_ASK };
        self.owners[o].jam_bids = !self.owners[o].jam_bids;
        let owner = self.owners[o].keypair.insecure_clone();
        let market = stage.markets[m];
        let mut step = 0u64;
        for a in 0..2 {
            let account_key = self.owners[o].accounts[a];
            let account = stage.env.margin(account_key).await;
            let open = account
                .open_positions()
                .find(|p| p.market_index == prices.markets[m].index)
                .map(|p| p.open_order_count as usize)
                .unwrap_or(0);
            let pairs = self.pairs_of(stage, account_key, m).await;
            // Two slots stay free for the hedged pair's and the self-liquidation's orders.
            let room = (bulwark::constants::MAX_OPEN_ORDERS_PER_MARKET as usize).saturating_sub(open + 2);
            // Four orders a transaction, one lot each, from the far edge inward.
            let mut placed = 0;
            while placed < room {
                let mut ixs = Vec::new();
                for _ in 0..4.min(room - placed) {
                    let price = if side == SIDE_BID { low + step } else { high - step };
                    step += 1;
                    let args = order(side, ORDER_TYPE_POST_ONLY, price, 1);
                    ixs.push(ix::place_order_ix(&owner.pubkey(), &stage.fx, &account_key, &market, args, &pairs));
                }
                placed += ixs.len();
                self.send(stage, Some(Strategy::Jam), &ixs, &[&owner]).await;
            }
        }
    }

    async fn steer_funding(&mut self, stage: &mut Stage, prices: &Prices, ch: &Clearinghouse, o: usize) {
        let m = self.owners[o].market;
        let tick = prices.markets[m].params.tick_size;
        let oracle = prices.oracle[m];
        let band = ch.waterfall.max_fill_deviation_bps;
        let Ok((low, high)) = resting_band_ticks(oracle, tick, band) else { return };
        let up = self.owners[o].steer_up;
        self.owners[o].steer_up = !up;
        // Up: the best bid just under the fill band's top and the best ask at the resting
        // band's top, so the mid sits far above the oracle; down mirrored.
        let (bid, ask) = if up {
            (band_limit_ticks(oracle, tick, band, false).unwrap_or(1) - 1, high)
        } else {
            (low, band_limit_ticks(oracle, tick, band, true).unwrap_or(1) + 1)
        };
        let owner = self.owners[o].keypair.insecure_clone();
        let account = self.owners[o].accounts[0];
        let market = stage.markets[m];
        let pairs = self.pairs_of(stage, account, m).await;
        let mut ixs = Vec::new();
        for (side, price) in [(SIDE_BID, bid), (SIDE_ASK, ask)] {
            let args = order(side, ORDER_TYPE_POST_ONLY, price, 1);
            ixs.push(ix::place_order_ix(&owner.pubkey(), &stage.fx, &account, &market, args, &pairs));
        }
        let placed = self.send(stage, Some(Strategy::FundingSteer), &ixs, &[&owner]).await;
        let ids: Vec<u64> = placed.events::<OrderPlacedV1>().iter().map(|e| e.order_id).collect();
        let crank =
            self.send(stage, Some(Strategy::FundingSteer), &[ix::update_funding_ix(&stage.fx.key, &market)], &[]).await;
        if crank.result.is_ok() {
            self.funding_cranks += 1;
            let marks = crank
                .events::<FundingSampledV1>()
                .iter()
                .map(|e| (e.mark, e.oracle_price))
                .chain(crank.events::<FundingUpdatedV1>().iter().map(|e| (e.mark_twap, e.oracle_twap)))
                .collect::<Vec<_>>();
            for (mark, oracle) in marks {
                if oracle > 0 {
                    let offset = ((mark as i128 - oracle as i128).abs() * 10_000 / oracle as i128) as i64;
                    self.steered_mark_offset_bps = self.steered_mark_offset_bps.max(offset);
                }
            }
        }
        // Gone before the makers quote: a bid above the oracle would cross their asks.
        let cancels: Vec<Instruction> =
            ids.iter().map(|id| ix::cancel_order_ix(&owner.pubkey(), &account, &market, Some(*id))).collect();
        if !cancels.is_empty() {
            self.send(stage, None, &cancels, &[&owner]).await;
        }
    }

    /// The figures, given the final scan's valuation of every attacker account.
    pub fn report(&self, final_equity: i128, ledger: &Ledger) -> AttackReport {
        let gain = final_equity + self.withdrawals as i128 - self.deposits as i128 - self.net_position_pnl;
        let mut by_strategy: Vec<StrategyCount> = self
            .by_strategy
            .iter()
            .map(|(s, (sent, refused))| StrategyCount { strategy: s.to_string(), sent: *sent, refused: *refused })
            .collect();
        by_strategy.sort_by(|a, b| a.strategy.cmp(&b.strategy));
        AttackReport {
            owners: self.owners.len(),
            accounts: self.owners.len() * 2,
            deposits: self.deposits,
            withdrawals: self.withdrawals,
            final_equity: final_equity as i64,
            net_position_pnl: self.net_position_pnl as i64,
            gain: gain as i64,
            honest_loss: ledger.insurance_for_attacker + ledger.haircuts_from_honest + ledger.off_market_fills,
            insurance_for_attacker: ledger.insurance_for_attacker,
            insurance_for_attacker_price_made: ledger.insurance_for_attacker_price_made,
            haircuts_from_honest: ledger.haircuts_from_honest,
            off_market_fills: ledger.off_market_fills,
            sent: self.sent,
            refused: self.refused,
            refused_by_error: self.refused_by_error.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            by_strategy,
            hedged_opens: self.hedged_opens,
            hedged_closes: self.hedged_closes,
            deposit_pings: self.deposit_pings,
            self_liquidations: self.self_liquidations,
            funding_cranks: self.funding_cranks,
            steered_mark_offset_bps: self.steered_mark_offset_bps,
            orders_evicted: ledger.orders_evicted,
            orders_removed_out_of_band: ledger.orders_removed_out_of_band,
            incidents: ledger.incidents.clone(),
        }
    }
}
