//! Economic invariants: what Bulwark promises its users beyond balanced books, checked around
//! every transaction of the property tests (the accounting invariants are in `invariants.rs`):
//!
//! * every fill is priced within the fill band around the oracle;
//! * no fill takes an account below zero equity unless it was already under maintenance, and
//!   a fill leaves each account it touched at its initial requirement, or with its
//!   equity/maintenance ratio not lowered;
//! * insurance pays no deficit in a `place_order` transaction (a fill makes none), and in a
//!   liquidation or ADL only for an account that was under maintenance before, and no more
//!   than the deficit it had before (what a price move made, not what the close made);
//! * only liquidatable accounts are liquidated; a liquidation never widens the account's gap to
//!   its buffer, takes no fee beyond the schedule or the equity left, and costs the account no
//!   more than the fee, the taker fees and the book band's slippage;
//! * ADL targets were under maintenance, and no ADL payer ends below zero;
//! * a deposit never touches the ADL grace clock;
//! * after every step an honest order (a 1-lot resting order inside the band) and a due funding
//!   update still succeed, whatever other accounts did (simulated, so the step's state stays).
//!
//! The attacker's moves the property tests mix in are here too (`Attack`), with a tally of how
//! often each was tried and refused.

use std::collections::BTreeMap;

use anchor_lang::prelude::*;
use anchor_lang::solana_program::instruction::Instruction;
use bulwark::controller::pricing::{health, perp_spec, MarketPrice};
use bulwark::events::{AdlFillV1, FillV1, InsurancePayoutV1, LiquidationV1, LIQUIDATION_KIND_TAKEOVER};
use bulwark::math::adl::profit_on_fill;
use bulwark::math::liquidation::{band_limit_ticks, is_liquidatable, liquidation_fee, resting_band_ticks};
use bulwark::math::margin::{fill_keeps_health, Health};
use bulwark::math::perp::base_value;
use bulwark::state::*;
use bulwark_sdk::accounts::ProgramAccount;
use bulwark_sdk::chain::Chain;
use proptest::prelude::*;
use solana_signer::Signer as _;
use solana_transaction::Transaction;

use crate::fixtures::*;
use crate::harness::{TestEnv, TxOutcome};

const BPS: i128 = bulwark::constants::BPS_DENOMINATOR as i128;
/// Atoms of rounding a liquidation may lose beyond its fee, taker fees and slippage bound.
const ROUNDING_SLACK: i128 = 4;

/// One margin account as a step found it, valued at the step's oracle price.
#[derive(Clone, Copy, Debug)]
pub struct AccountView {
    pub account: MarginAccount,
    pub health: Health,
}

impl AccountView {
    pub fn flagged(&self) -> bool {
        self.account.status_flags & ACCOUNT_FLAG_BEING_LIQUIDATED != 0
    }

    pub fn is_flat(&self) -> bool {
        self.account.positions.iter().all(|p| p.base_lots == 0)
    }

    pub fn liquidatable(&self, buffer_bps: u32) -> bool {
        is_liquidatable(&self.health, self.flagged(), buffer_bps).expect("is_liquidatable")
    }

    /// How far the account is from its buffer, `M·(1 + buffer) − E`, scaled by `BPS`.
    fn buffer_gap(&self, buffer_bps: u32) -> i128 {
        self.health.maintenance_requirement * (BPS + buffer_bps as i128) - self.health.equity * BPS
    }
}

/// The state one market's economic invariants are checked on, before or after a transaction.
#[derive(Clone, Debug)]
pub struct EconomicState {
    /// The oracle price in force, in collateral units (`PRICE_PRECISION`).
    pub price: i64,
    pub market: Market,
    pub waterfall: WaterfallParams,
    pub insurance_balance: u64,
    pub accounts: BTreeMap<Pubkey, AccountView>,
}

impl EconomicState {
    /// The fill band around the oracle, in ticks: `(lowest, highest)`.
    pub fn fill_band(&self) -> (u64, u64) {
        let (tick, band) = (self.market.params.tick_size, self.waterfall.max_fill_deviation_bps);
        (
            band_limit_ticks(self.price, tick, band, true).expect("band"),
            band_limit_ticks(self.price, tick, band, false).expect("band"),
        )
    }

    /// Where orders may rest, in ticks: `(lowest, highest)`.
    pub fn resting_band(&self) -> (u64, u64) {
        resting_band_ticks(self.price, self.market.params.tick_size, self.waterfall.max_fill_deviation_bps)
            .expect("resting band")
    }

    pub fn oracle_ticks(&self) -> u64 {
        (self.price as u64 / self.market.params.tick_size).max(1)
    }
}

impl TestEnv {
    /// Every margin account of `fx`, the market and the clearinghouse, valued at `price`.
    pub async fn economic_state(
        &mut self,
        fx: &ClearinghouseFixture,
        market: &MarketFixture,
        price: i64,
    ) -> EconomicState {
        let mut keys = vec![fx.key, market.key];
        keys.extend(fx.margin_accounts.iter().copied());
        let fetched = self.chain().accounts(&keys).await.expect("fetch accounts");
        let data = |i: usize| fetched[i].as_ref().map(|a| a.data.as_slice()).unwrap_or_default();
        let ch = Clearinghouse::decode(data(0)).expect("clearinghouse");
        let market_account = Market::decode(data(1)).expect("market");
        let prices = [MarketPrice::new(&market_account, price)];
        let mut accounts = BTreeMap::new();
        for (i, key) in keys.iter().enumerate().skip(2) {
            let Ok(account) = MarginAccount::decode(data(i)) else { continue }; // closed
            let health = health(&account, &prices).expect("health");
            accounts.insert(*key, AccountView { account, health });
        }
        EconomicState {
            price,
            market: market_account,
            waterfall: ch.waterfall,
            insurance_balance: ch.insurance_balance,
            accounts,
        }
    }
}

fn runs(out: &TxOutcome, instruction: &str) -> bool {
    let needle = format!("Instruction: {instruction}");
    out.logs.iter().any(|l| l.ends_with(&needle))
}

/// Bulwark's error names by code, read from the IDL the program ships.
fn bulwark_error_name(code: u32) -> Option<String> {
    const IDL: &str = include_str!("../../idl/bulwark.json");
    let errors = &IDL[IDL.find("\"errors\"")?..];
    let at = errors.find(&format!("\"code\": {code},"))?;
    let rest = &errors[at..];
    let name = &rest[rest.find("\"name\": \"")? + 9..];
    Some(name[..name.find('"')?].to_string())
}

/// The error's name (Bulwark's by the IDL), else the transaction error.
pub fn error_name(result: &std::result::Result<(), solana_transaction_error::TransactionError>) -> String {
    use anchor_lang::solana_program::instruction::error::InstructionError;
    use solana_transaction_error::TransactionError;
    match result {
        Ok(()) => "ok".to_string(),
        Err(TransactionError::InstructionError(_, InstructionError::Custom(code))) => {
            bulwark_error_name(*code).unwrap_or_else(|| format!("Custom({code})"))
        }
        Err(e) => format!("{e:?}"),
    }
}

/// Every economic invariant `out` broke between `before` and `after` (both at the price the
/// transaction ran at), described; empty when all hold.
pub fn economic_violations(before: &EconomicState, out: &TxOutcome, after: &EconomicState) -> Vec<String> {
    let mut violations = Vec::new();
    if out.result.is_err() {
        // A failed transaction changes nothing but the fee payer.
        for (key, view) in &before.accounts {
            if let Some(later) = after.accounts.get(key) {
                if bytemuck::bytes_of(&later.account) != bytemuck::bytes_of(&view.account) {
                    violations.push(format!("failed transaction changed margin account {key}"));
                }
            }
        }
        return violations;
    }
    let fills = out.events::<FillV1>();
    let liquidations = out.events::<LiquidationV1>();
    let payouts = out.events::<InsurancePayoutV1>();
    let adl_fills = out.events::<AdlFillV1>();
    let buffer = before.waterfall.liquidation_buffer_bps;
    let (band_low, band_high) = before.fill_band();
    let view = |state: &EconomicState, key: &Pubkey| state.accounts.get(key).copied();
    let paid_to =
        |key: &Pubkey| payouts.iter().filter(|p| p.margin_account == *key).map(|p| p.amount as i128).sum::<i128>();
    let liquidated: Vec<Pubkey> = liquidations.iter().map(|l| l.margin_account).collect();

    // Fills: in the band; nobody driven below zero who met maintenance; each account held to
    // the margin rule the program applies per fill (checkable when it took part once, or as the
    // taker of a single order).
    let mut appearances: BTreeMap<Pubkey, u32> = BTreeMap::new();
    for f in &fills {
        if !(band_low..=band_high).contains(&f.price_ticks) {
            violations.push(format!(
                "fill outside the band: {} lots at {} ticks, band {band_low}..={band_high} (maker {}, taker {})",
                f.base_lots, f.price_ticks, f.maker, f.taker
            ));
        }
        *appearances.entry(f.maker).or_default() += 1;
        *appearances.entry(f.taker).or_default() += 1;
    }
    let single_order = out.logs.iter().filter(|l| l.ends_with("Instruction: PlaceOrder")).count() == 1;
    for (key, count) in &appearances {
        let (Some(b), Some(a)) = (view(before, key), view(after, key)) else { continue };
        let equity_before_payout = a.health.equity - paid_to(key);
        if equity_before_payout < 0 && b.health.meets_maintenance() {
            violations.push(format!(
                "a fill took {key} below zero: equity {} -> {equity_before_payout} (maintenance {} before)",
                b.health.equity, b.health.maintenance_requirement
            ));
        }
        if liquidated.contains(key) {
            continue; // held to the liquidation rules below
        }
        let only_taker = fills.iter().all(|f| f.maker != *key) && single_order;
        if (*count == 1 || only_taker) && !fill_keeps_health(&b.health, &a.health).unwrap() {
            violations.push(format!(
                "a fill left {key} under margin with a lower equity/maintenance ratio: {:?} -> {:?}",
                b.health, a.health
            ));
        }
    }

    // Insurance pays price-made deficits only.
    let liquidation_or_adl = !liquidations.is_empty() || !adl_fills.is_empty() || runs(out, "AutoDeleverage");
    for p in &payouts {
        if !liquidation_or_adl && runs(out, "PlaceOrder") {
            violations.push(format!("insurance paid {} atoms of a fill's deficit to {}", p.amount, p.margin_account));
            continue;
        }
        match view(before, &p.margin_account) {
            Some(b) if !b.health.meets_maintenance() => {
                // What the price left uncovered before this transaction; a close that deepens
                // it (a book fill past the bankruptcy price) made the rest.
                let price_made = (-b.health.equity).max(0);
                if p.amount as i128 > price_made + ROUNDING_SLACK {
                    violations.push(format!(
                        "insurance paid {} atoms to {}, beyond the {price_made} of deficit a price move made \
                         (before: {:?})",
                        p.amount, p.margin_account, b.health
                    ));
                }
            }
            Some(b) => violations.push(format!(
                "insurance paid {} atoms to {}, which met maintenance before ({:?})",
                p.amount, p.margin_account, b.health
            )),
            None => violations.push(format!("insurance paid an unknown account {}", p.margin_account)),
        }
    }

    // Liquidations.
    for l in &liquidations {
        let key = l.margin_account;
        let (Some(b), Some(a)) = (view(before, &key), view(after, &key)) else {
            violations.push(format!("liquidated an unknown account {key}"));
            continue;
        };
        if !b.liquidatable(buffer) {
            violations.push(format!("liquidated {key}, which was not liquidatable: {:?}", b.health));
        }
        if l.equity_before as i128 != b.health.equity {
            violations
                .push(format!("liquidation of {key} valued it at {} (checker: {})", l.equity_before, b.health.equity));
        }
        let scheduled = liquidation_fee(l.quote, before.market.params.liquidation_fee_bps).unwrap();
        if l.fee > scheduled {
            violations.push(format!("liquidation fee {} over the schedule's {scheduled} for {key}", l.fee));
        }
        if l.fee > 0 && l.equity_after < 0 {
            violations
                .push(format!("liquidation fee {} over the equity left by {key} ({} after)", l.fee, l.equity_after));
        }
        if l.kind == LIQUIDATION_KIND_TAKEOVER && l.fee as i128 > b.health.equity.max(0) {
            violations.push(format!("takeover fee {} over {key}'s equity {}", l.fee, b.health.equity));
        }
        // What the account lost: the fee, taker fees, and (book) at most the band's slippage.
        let own_fills = fills.iter().filter(|f| f.taker == key);
        let book_band = before.waterfall.book_liquidation_band_bps as i128;
        let allowed = l.fee as i128
            + own_fills
                .map(|f| f.taker_fee as i128 + (f.quote as i128 * book_band + BPS - book_band - 1) / (BPS - book_band))
                .sum::<i128>()
            + ROUNDING_SLACK;
        let lost = b.health.equity - (a.health.equity - paid_to(&key));
        if lost > allowed {
            violations.push(format!("liquidation took {lost} atoms from {key}, the schedule allows {allowed}"));
        }
        let selling = l.base_lots < 0;
        let limit = band_limit_ticks(before.price, before.market.params.tick_size, book_band as u32, selling).unwrap();
        for f in fills.iter().filter(|f| f.taker == key) {
            let past = if selling { f.price_ticks < limit } else { f.price_ticks > limit };
            if past {
                violations.push(format!(
                    "book liquidation of {key} filled at {} ticks, past its band's {limit}",
                    f.price_ticks
                ));
            }
        }
        let closed = a.is_flat();
        let restored = bulwark::math::liquidation::meets_buffer(&a.health, buffer).unwrap();
        if !(closed || restored || l.still_liquidating) {
            violations.push(format!("liquidation left {key} under its buffer without the flag: {:?}", a.health));
        }
        if !closed && a.buffer_gap(buffer) > b.buffer_gap(buffer) + ROUNDING_SLACK * BPS {
            violations.push(format!("liquidation widened {key}'s gap to its buffer: {:?} -> {:?}", b.health, a.health));
        }
    }

    // ADL.
    for f in &adl_fills {
        if let Some(b) = view(before, &f.target) {
            if b.health.meets_maintenance() {
                violations.push(format!("ADL of {}, which met maintenance: {:?}", f.target, b.health));
            }
        }
        if let Some(a) = view(after, &f.counterparty) {
            if a.health.equity < 0 {
                violations.push(format!("ADL took payer {} below zero: {:?}", f.counterparty, a.health));
            }
        }
        // No winner pays past its profit at the oracle on the lots it closes.
        let held = view(before, &f.counterparty)
            .and_then(|b| b.account.open_positions().find(|p| p.market_index == before.market.index).copied());
        if let Some(p) = held {
            let spec = perp_spec(&before.market);
            let upnl = base_value(p.base_lots, f.oracle_price, &spec).expect("value") + p.quote_entry as i128;
            let cap = profit_on_fill(upnl, f.base_lots.unsigned_abs(), p.base_lots.unsigned_abs()).expect("cap");
            if f.haircut as u128 > cap {
                violations.push(format!(
                    "ADL took {} atoms from {}, more than its {cap} of profit on the {} lots it closed",
                    f.haircut,
                    f.counterparty,
                    f.base_lots.unsigned_abs()
                ));
            }
        }
    }

    // Deposits leave the ADL grace clock alone.
    if runs(out, "Deposit") {
        for (key, b) in &before.accounts {
            if let Some(a) = after.accounts.get(key) {
                if a.account.liquidatable_since_slot != b.account.liquidatable_since_slot {
                    violations.push(format!(
                        "a deposit moved {key}'s ADL grace clock: {} -> {}",
                        b.account.liquidatable_since_slot, a.account.liquidatable_since_slot
                    ));
                }
            }
        }
    }
    violations
}

/// How often one kind of attack was tried and refused, and with which errors.
#[derive(Clone, Debug, Default)]
pub struct AttackCount {
    pub tried: u64,
    pub refused: u64,
    /// Fills in the attack's transactions.
    pub fills: u64,
    pub errors: BTreeMap<String, u64>,
}

/// Counts across the economic checks of a run.
#[derive(Clone, Debug, Default)]
pub struct EconomicTally {
    pub transactions: u64,
    pub fills: u64,
    pub liquidations: u64,
    pub payouts: u64,
    /// Liquidation payouts beyond the deficit the account had before: slippage of the close.
    pub payouts_beyond_prior_deficit: u64,
    /// Their atoms beyond that deficit.
    pub payout_atoms_beyond_prior_deficit: u128,
    pub order_probes: u64,
    /// Probes the oracle refused (stale or too volatile): refusals of the probe itself.
    pub probes_refused_by_oracle: u64,
    /// Steps where no 1-lot order could rest without crossing or being the worst order of a
    /// full side (both sides full with a one-tick spread): a taker probe still runs.
    pub probes_without_a_price: u64,
    pub funding_probes: u64,
    pub attacks: BTreeMap<&'static str, AttackCount>,
}

impl EconomicTally {
    pub fn add(&mut self, other: &EconomicTally) {
        self.transactions += other.transactions;
        self.fills += other.fills;
        self.liquidations += other.liquidations;
        self.payouts += other.payouts;
        self.payouts_beyond_prior_deficit += other.payouts_beyond_prior_deficit;
        self.payout_atoms_beyond_prior_deficit += other.payout_atoms_beyond_prior_deficit;
        self.order_probes += other.order_probes;
        self.probes_refused_by_oracle += other.probes_refused_by_oracle;
        self.probes_without_a_price += other.probes_without_a_price;
        self.funding_probes += other.funding_probes;
        for (name, count) in &other.attacks {
            let mine = self.attacks.entry(name).or_default();
            mine.tried += count.tried;
            mine.refused += count.refused;
            mine.fills += count.fills;
            for (error, n) in &count.errors {
                *mine.errors.entry(error.clone()).or_default() += n;
            }
        }
    }

    pub fn report(&self) -> String {
        let mut s = format!(
            "economic checks: {} transactions, {} fills, {} liquidations, {} insurance payouts ({} beyond the \
             deficit before the close, by {} atoms in all), {} honest order probes ({} refused by the oracle, {} \
             without a resting price), {} funding probes\n",
            self.transactions,
            self.fills,
            self.liquidations,
            self.payouts,
            self.payouts_beyond_prior_deficit,
            self.payout_atoms_beyond_prior_deficit,
            self.order_probes,
            self.probes_refused_by_oracle,
            self.probes_without_a_price,
            self.funding_probes
        );
        for (name, c) in &self.attacks {
            let errors: Vec<String> = c.errors.iter().map(|(e, n)| format!("{e} ×{n}")).collect();
            s += &format!(
                "  attack {name}: tried {}, refused {} [{}], {} fills\n",
                c.tried,
                c.refused,
                errors.join(", "),
                c.fills
            );
        }
        s
    }
}

/// Oracle refusals: the honest order's own validity, not anything another account did.
const ORACLE_ERRORS: [&str; 4] =
    ["OracleStale", "OracleTooVolatile", "OracleConfidenceTooWide", "CollateralPriceNotRefreshed"];

/// Watches a run: checks every transaction sent through it, probes for a global DoS after each
/// step and keeps the tally. Violations accumulate; `assert_clean` panics on any.
pub struct EconomicWatch {
    /// Never trades for real: its orders are only simulated.
    pub honest: User,
    pub violations: Vec<String>,
    pub tally: EconomicTally,
}

impl EconomicWatch {
    pub async fn new(env: &mut TestEnv, fx: &mut ClearinghouseFixture) -> Self {
        let honest = env.create_user(fx, 100_000 * 1_000_000).await;
        env.deposit(fx, &honest, 10_000 * 1_000_000).await.ok();
        Self { honest, violations: Vec::new(), tally: EconomicTally::default() }
    }

    pub async fn before(
        &self,
        env: &mut TestEnv,
        fx: &ClearinghouseFixture,
        market: &MarketFixture,
        price: i64,
    ) -> EconomicState {
        env.economic_state(fx, market, price).await
    }

    /// Check `out` against the state `before` it.
    pub async fn after(
        &mut self,
        env: &mut TestEnv,
        fx: &ClearinghouseFixture,
        market: &MarketFixture,
        before: &EconomicState,
        out: &TxOutcome,
    ) {
        let after = env.economic_state(fx, market, before.price).await;
        self.tally.transactions += 1;
        if out.result.is_ok() {
            self.tally.fills += out.events::<FillV1>().len() as u64;
            self.tally.liquidations += out.events::<LiquidationV1>().len() as u64;
            for p in out.events::<InsurancePayoutV1>() {
                self.tally.payouts += 1;
                let prior_deficit = before.accounts.get(&p.margin_account).map_or(0, |v| (-v.health.equity).max(0));
                if p.amount as i128 > prior_deficit {
                    self.tally.payouts_beyond_prior_deficit += 1;
                    self.tally.payout_atoms_beyond_prior_deficit += (p.amount as i128 - prior_deficit) as u128;
                }
            }
        }
        self.violations.extend(economic_violations(before, out, &after));
    }

    /// Send `ixs` (signed by `signers` and the payer) and check the economic invariants around it.
    pub async fn send(
        &mut self,
        env: &mut TestEnv,
        fx: &ClearinghouseFixture,
        market: &MarketFixture,
        price: i64,
        ixs: &[Instruction],
        signers: &[&solana_keypair::Keypair],
    ) -> TxOutcome {
        let before = self.before(env, fx, market, price).await;
        let out = env.send(ixs, signers).await;
        self.after(env, fx, market, &before, &out).await;
        out
    }

    /// Place an order for `user`, checked.
    #[allow(clippy::too_many_arguments)]
    pub async fn place(
        &mut self,
        env: &mut TestEnv,
        fx: &ClearinghouseFixture,
        market: &MarketFixture,
        price: i64,
        user: &User,
        args: PlaceOrderArgs,
        makers: &[Pubkey],
    ) -> TxOutcome {
        let ix = place_order_ix(&user.owner.pubkey(), fx, &user.margin_account, market, args, makers);
        self.send(env, fx, market, price, &[ix], &[&user.owner]).await
    }

    /// Without committing anything: an honest 1-lot order resting inside the band and a 1-lot
    /// taker order must be accepted, and so must `update_funding` when a sample or a period is
    /// due.
    pub async fn probe(&mut self, env: &mut TestEnv, fx: &ClearinghouseFixture, market: &MarketFixture, price: i64) {
        let state = env.economic_state(fx, market, price).await;
        let book = env.book(market).await;
        // A resting order, and a 1-lot taker against the best price on the book.
        let mut orders = Vec::new();
        match honest_order(&state, &book) {
            None => self.tally.probes_without_a_price += 1,
            Some(args) => orders.push((args, Vec::new())),
        }
        let (band_low, band_high) = state.fill_band();
        let taker = if book.count(SIDE_ASK) > 0 {
            Some(order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, band_high, 1))
        } else if book.count(SIDE_BID) > 0 {
            Some(order(SIDE_ASK, ORDER_TYPE_IMMEDIATE_OR_CANCEL, band_low, 1))
        } else {
            None
        };
        if let Some(args) = taker {
            orders.push((args, makers_for(&book, args.side, &self.honest.margin_account)));
        }
        for (args, makers) in orders {
            self.tally.order_probes += 1;
            let ix =
                place_order_ix(&self.honest.owner.pubkey(), fx, &self.honest.margin_account, market, args, &makers);
            let owner = self.honest.owner.insecure_clone();
            if let Err(e) = simulate(env, &[ix], &[&owner]).await {
                let name = error_name(&Err(e));
                if ORACLE_ERRORS.contains(&name.as_str()) {
                    self.tally.probes_refused_by_oracle += 1;
                } else {
                    self.violations.push(format!("an honest order {args:?} was refused: {name}"));
                }
            }
        }
        let now = env.clock().await.unix_timestamp;
        let period = state.market.params.funding_period_seconds;
        let interval = (period / bulwark::constants::MIN_FUNDING_SAMPLES_PER_PERIOD as i64).max(1);
        let due =
            now - state.market.last_funding_unix >= period || now - state.market.twap_last_update_unix >= interval;
        if due {
            self.tally.funding_probes += 1;
            let result = simulate(env, &[update_funding_ix(&fx.key, market)], &[]).await;
            if let Err(e) = result {
                let name = error_name(&Err(e));
                if !ORACLE_ERRORS.contains(&name.as_str()) {
                    self.violations.push(format!("a due funding update was refused: {name}"));
                }
            }
        }
    }

    /// A permissionless crank or an honest user's call that must succeed unless its oracle
    /// refused it.
    pub fn require_ok(&mut self, out: &TxOutcome, what: &str) {
        if out.result.is_err() {
            let name = error_name(&out.result);
            if !ORACLE_ERRORS.contains(&name.as_str()) {
                self.violations.push(format!("{what} was refused: {name}"));
            }
        }
    }

    /// Panic, naming every broken economic invariant, unless there is none.
    #[track_caller]
    pub fn assert_clean(&self, context: &dyn std::fmt::Debug) {
        assert!(
            self.violations.is_empty(),
            "economic invariants broken after {context:?}:\n{}",
            self.violations.join("\n")
        );
    }

    fn count(&mut self, attack: &'static str, outcomes: &[&TxOutcome]) {
        let c = self.tally.attacks.entry(attack).or_default();
        c.tried += 1;
        c.fills += outcomes.iter().map(|o| o.events::<FillV1>().len() as u64).sum::<u64>();
        if let Some(failed) = outcomes.iter().find(|o| o.result.is_err()) {
            c.refused += 1;
            *c.errors.entry(error_name(&failed.result)).or_default() += 1;
        }
    }
}

/// The honest probe: a 1-lot post-only order at the oracle (or just inside the other side),
/// bid first, ask if a bid cannot rest; `None` when neither can without crossing or being the
/// worst order of a full side.
fn honest_order(state: &EconomicState, book: &OrderBook) -> Option<PlaceOrderArgs> {
    let oracle = state.oracle_ticks();
    let (rest_low, rest_high) = state.resting_band();
    let full_and_not_better = |side: u8, price: u64| {
        let orders = book.orders(side);
        orders.len() >= bulwark::constants::MAX_ORDERS_PER_SIDE && {
            let worst = orders[orders.len() - 1].price_ticks;
            if side == SIDE_BID {
                worst >= price
            } else {
                worst <= price
            }
        }
    };
    let bid = book.best_price(SIDE_ASK).map_or(oracle, |ask| oracle.min(ask.saturating_sub(1)));
    if bid >= rest_low && bid > 0 && !full_and_not_better(SIDE_BID, bid) {
        return Some(order(SIDE_BID, ORDER_TYPE_POST_ONLY, bid, 1));
    }
    let ask = book.best_price(SIDE_BID).map_or(oracle, |b| oracle.max(b + 1));
    if ask <= rest_high && !full_and_not_better(SIDE_ASK, ask) {
        return Some(order(SIDE_ASK, ORDER_TYPE_POST_ONLY, ask, 1));
    }
    None
}

/// Simulate `ixs` on the current bank without committing them.
async fn simulate(
    env: &mut TestEnv,
    ixs: &[Instruction],
    signers: &[&solana_keypair::Keypair],
) -> std::result::Result<(), solana_transaction_error::TransactionError> {
    let payer = env.payer();
    let mut keys: Vec<&solana_keypair::Keypair> = vec![&payer];
    keys.extend(signers.iter().copied().filter(|k| k.pubkey() != payer.pubkey()));
    let blockhash = env.ctx.banks_client.get_latest_blockhash().await.expect("blockhash");
    let tx = Transaction::new_signed_with_payer(ixs, Some(&payer.pubkey()), &keys, blockhash);
    let sim = env.ctx.banks_client.simulate_transaction(tx).await.expect("simulate");
    sim.result.expect("the bank simulated the transaction")
}

// ---- the attacker --------------------------------------------------------------------------

/// Two margin accounts of one owner (sub-accounts 0 and 1): a hedged pair.
pub struct Attacker {
    pub long: User,
    pub short: User,
}

impl Attacker {
    pub async fn new(env: &mut TestEnv, fx: &mut ClearinghouseFixture, deposit_each: u64) -> Self {
        let long = env.create_user(fx, 1_000_000 * 1_000_000).await;
        let owner = long.owner.insecure_clone();
        env.send(&[create_margin_account_ix(&fx.key, &owner.pubkey(), &owner.pubkey(), 1)], &[&owner]).await.ok();
        let short_account = margin_account_pda(&fx.key, &owner.pubkey(), 1);
        fx.margin_accounts.push(short_account);
        let short = User { owner, margin_account: short_account, token_account: long.token_account };
        env.deposit(fx, &long, deposit_each).await.ok();
        env.deposit(fx, &short, deposit_each).await.ok();
        Self { long, short }
    }

    fn accounts(&self) -> [&User; 2] {
        [&self.long, &self.short]
    }
}

/// An attacker's move, mixed into the random sequences. Each may be refused; the invariants
/// must hold either way.
#[derive(Clone, Debug)]
pub enum Attack {
    /// Open (or grow) the hedged pair: the long account bids at the oracle, the short sells.
    HedgeOpen { lots: u64 },
    /// One account of the pair rests a reduce-only order `beyond` ticks past the fill band's
    /// edge (down: a bid under the floor), the other closes reduce-only into it.
    HedgeDump { down: bool, beyond: u64, lots: u64 },
    /// A 1-lot order far from the oracle: 0 at the resting band's edge, 1 a tick past it,
    /// 2 at an absurd price, 3 at the fill band's edge.
    FarOrder { side: u8, how: u8 },
    /// Both accounts rest 16 one-lot orders on one side: at the resting band's worst edge, or
    /// at the top of the book.
    FullSide { side: u8, at_top: bool },
    /// A 1-atom deposit by a liquidatable account (the first from the `target`-th of the
    /// victims and the attacker's own), to reset its ADL grace clock.
    DepositPing { target: usize },
    /// An account near maintenance (the first from the `target`-th of the victims and the
    /// attacker's own) closes `pct`% reduce-only at the fill band's worst edge, against the
    /// attacker's order resting there (its twin's, when the closer is the attacker's).
    EdgeClose { target: usize, pct: u64 },
}

pub fn attack() -> impl Strategy<Value = Attack> {
    prop_oneof![
        2 => (1..30u64).prop_map(|lots| Attack::HedgeOpen { lots }),
        3 => (any::<bool>(), prop_oneof![3 => Just(0u64), 1 => 1..3u64], 1..30u64)
            .prop_map(|(down, beyond, lots)| Attack::HedgeDump { down, beyond, lots }),
        1 => (0..2u8, 0..4u8).prop_map(|(side, how)| Attack::FarOrder { side, how }),
        1 => (0..2u8, any::<bool>()).prop_map(|(side, at_top)| Attack::FullSide { side, at_top }),
        1 => (0..8usize).prop_map(|target| Attack::DepositPing { target }),
        2 => (0..8usize, 10..101u64).prop_map(|(target, pct)| Attack::EdgeClose { target, pct }),
    ]
}

impl EconomicWatch {
    /// Carry out `attack` by `attacker` against `victims`, every transaction checked; count it.
    #[allow(clippy::too_many_arguments)]
    pub async fn attack(
        &mut self,
        env: &mut TestEnv,
        fx: &ClearinghouseFixture,
        market: &MarketFixture,
        price: i64,
        attacker: &Attacker,
        victims: &[&User],
        attack: &Attack,
    ) {
        let state = env.economic_state(fx, market, price).await;
        let (band_low, band_high) = state.fill_band();
        let (rest_low, rest_high) = state.resting_band();
        let oracle = state.oracle_ticks();
        let position = |user: &User| {
            state.accounts[&user.margin_account]
                .account
                .open_positions()
                .find(|p| p.market_index == market.index)
                .map_or(0, |p| p.base_lots)
        };
        match *attack {
            Attack::HedgeOpen { lots } => {
                let book = env.book(market).await;
                let at = book.best_price(SIDE_ASK).map_or(oracle, |ask| oracle.min(ask.saturating_sub(1))).max(1);
                let bid = order(SIDE_BID, ORDER_TYPE_POST_ONLY, at, lots);
                let rested = self.place(env, fx, market, price, &attacker.long, bid, &[]).await;
                let book = env.book(market).await;
                let makers = makers_for(&book, SIDE_ASK, &attacker.short.margin_account);
                let sell = order(SIDE_ASK, ORDER_TYPE_IMMEDIATE_OR_CANCEL, at, lots);
                let sold = self.place(env, fx, market, price, &attacker.short, sell, &makers).await;
                self.cancel_all(env, fx, market, price, &attacker.long).await;
                self.count("hedge_open", &[&rested, &sold]);
            }
            Attack::HedgeDump { down, beyond, lots } => {
                // Down: the short rests a reduce-only bid at (under) the floor, the long sells into it.
                let (maker, taker, maker_side, at) = if down {
                    (&attacker.short, &attacker.long, SIDE_BID, band_low.saturating_sub(beyond).max(1))
                } else {
                    (&attacker.long, &attacker.short, SIDE_ASK, band_high + beyond)
                };
                if position(maker) == 0 || position(taker) == 0 {
                    return;
                }
                let resting = PlaceOrderArgs { reduce_only: true, ..order(maker_side, ORDER_TYPE_POST_ONLY, at, lots) };
                let rested = self.place(env, fx, market, price, maker, resting, &[]).await;
                let taker_side = if maker_side == SIDE_BID { SIDE_ASK } else { SIDE_BID };
                let book = env.book(market).await;
                let makers = makers_for(&book, taker_side, &taker.margin_account);
                let close =
                    PlaceOrderArgs { reduce_only: true, ..order(taker_side, ORDER_TYPE_IMMEDIATE_OR_CANCEL, at, lots) };
                let closed = self.place(env, fx, market, price, taker, close, &makers).await;
                self.cancel_all(env, fx, market, price, maker).await;
                self.count("hedge_dump", &[&rested, &closed]);
            }
            Attack::FarOrder { side, how } => {
                let at = match (how, side) {
                    (0, SIDE_BID) => rest_low,
                    (0, _) => rest_high,
                    (1, SIDE_BID) => rest_low.saturating_sub(1).max(1),
                    (1, _) => rest_high + 1,
                    (2, SIDE_BID) => 1,
                    (2, _) => 20_000_000_000_000,
                    (_, SIDE_BID) => band_low,
                    (_, _) => band_high,
                };
                let out = self
                    .place(env, fx, market, price, &attacker.long, order(side, ORDER_TYPE_POST_ONLY, at, 1), &[])
                    .await;
                self.count(
                    [
                        "far_order_at_resting_edge",
                        "far_order_past_resting_edge",
                        "far_order_absurd",
                        "far_order_at_fill_edge",
                    ][how.min(3) as usize],
                    &[&out],
                );
            }
            Attack::FullSide { side, at_top } => {
                let book = env.book(market).await;
                let at = if !at_top {
                    if side == SIDE_BID {
                        rest_low
                    } else {
                        rest_high
                    }
                } else if side == SIDE_BID {
                    book.best_price(SIDE_ASK).map_or(oracle, |a| oracle.min(a.saturating_sub(1))).max(1)
                } else {
                    book.best_price(SIDE_BID).map_or(oracle, |b| oracle.max(b + 1))
                };
                let mut outcomes = Vec::new();
                for user in attacker.accounts() {
                    let ixs: Vec<Instruction> = (0..bulwark::constants::MAX_OPEN_ORDERS_PER_MARKET)
                        .map(|_| {
                            place_order_ix(
                                &user.owner.pubkey(),
                                fx,
                                &user.margin_account,
                                market,
                                order(side, ORDER_TYPE_POST_ONLY, at, 1),
                                &[],
                            )
                        })
                        .collect();
                    for chunk in ixs.chunks(8) {
                        let owner = user.owner.insecure_clone();
                        outcomes.push(self.send(env, fx, market, price, chunk, &[&owner]).await);
                    }
                }
                let refs: Vec<&TxOutcome> = outcomes.iter().collect();
                self.count(if at_top { "full_side_at_top" } else { "full_side_at_edge" }, &refs);
            }
            Attack::DepositPing { target } => {
                // The first liquidatable account from the `target`-th on.
                let candidates: Vec<&User> = victims.iter().copied().chain(attacker.accounts()).collect();
                let buffer = state.waterfall.liquidation_buffer_bps;
                let Some(user) = (0..candidates.len())
                    .map(|i| candidates[(target + i) % candidates.len()])
                    .find(|u| state.accounts[&u.margin_account].liquidatable(buffer))
                else {
                    return;
                };
                let ix = deposit_ix(
                    &user.owner.pubkey(),
                    &fx.key,
                    &user.margin_account,
                    &fx.collateral_vault,
                    &user.token_account,
                    1,
                );
                let owner = user.owner.insecure_clone();
                let out = self.send(env, fx, market, price, &[ix], &[&owner]).await;
                self.count("deposit_ping", &[&out]);
            }
            Attack::EdgeClose { target, pct } => {
                // The first account near maintenance (under its initial requirement, with a
                // position) from the `target`-th on.
                let candidates: Vec<&User> = victims.iter().copied().chain(attacker.accounts()).collect();
                let Some(user) = (0..candidates.len())
                    .map(|i| candidates[(target + i) % candidates.len()])
                    .find(|u| position(u) != 0 && !state.accounts[&u.margin_account].health.meets_initial())
                else {
                    return;
                };
                let lots = position(user);
                let maker =
                    if user.margin_account == attacker.long.margin_account { &attacker.short } else { &attacker.long };
                let (maker_side, at) = if lots > 0 { (SIDE_BID, band_low) } else { (SIDE_ASK, band_high) };
                let close_lots = (lots.unsigned_abs() * pct / 100).max(1);
                let rested = self
                    .place(env, fx, market, price, maker, order(maker_side, ORDER_TYPE_POST_ONLY, at, close_lots), &[])
                    .await;
                let taker_side = if maker_side == SIDE_BID { SIDE_ASK } else { SIDE_BID };
                let book = env.book(market).await;
                let makers = makers_for(&book, taker_side, &user.margin_account);
                let close = PlaceOrderArgs {
                    reduce_only: true,
                    ..order(taker_side, ORDER_TYPE_IMMEDIATE_OR_CANCEL, at, close_lots)
                };
                let closed = self.place(env, fx, market, price, user, close, &makers).await;
                self.cancel_all(env, fx, market, price, maker).await;
                self.count("edge_close", &[&rested, &closed]);
            }
        }
    }

    async fn cancel_all(
        &mut self,
        env: &mut TestEnv,
        fx: &ClearinghouseFixture,
        market: &MarketFixture,
        price: i64,
        user: &User,
    ) {
        let owner = user.owner.insecure_clone();
        let ix = cancel_order_ix(&owner.pubkey(), &user.margin_account, market, None);
        self.send(env, fx, market, price, &[ix], &[&owner]).await;
    }
}
