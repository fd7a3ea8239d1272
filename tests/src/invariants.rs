//! DESIGN.md §7 invariants, checked after every step of the scenario and property tests.

use std::collections::BTreeMap;

use bulwark::math::perp::funding_owed;
use bulwark::state::{MarginAccount, Market};
use bulwark_sdk::accounts::ProgramAccount;
use bulwark_sdk::chain::Chain;

use crate::fixtures::ClearinghouseFixture;
use crate::harness::TestEnv;

impl TestEnv {
    /// Panics, naming the broken invariant, unless:
    /// * collateral vault tokens + bad debt written off == Σ account cash + fee pool, where an account's cash is its
    ///   collateral balance plus, per position, its quote and its unsettled funding (realised
    ///   PnL is paid into balances at once, so a closed winner's profit sits in its balance
    ///   while the open losers' side of it sits in their quote);
    /// * the clearinghouse's total equals Σ collateral balances;
    /// * insurance vault tokens == insurance accounting, and what open ADL rounds set aside of
    ///   it is the sum of their shares, never more than the balance;
    /// * Σ base lots per market == 0, and open interest == Σ long lots;
    /// * resting orders' reserves match the book;
    /// * no account without a position carries a debt (it is covered, ADL'd or written off),
    ///   and the markets' bad debt sums to the clearinghouse's;
    /// * the embedded chain's scan (served from its cache where no transaction wrote since)
    ///   matches the bank, byte for byte, for every margin account and ADL round it returns,
    ///   and returns every open margin account the fixture created.
    pub async fn check_invariants(&mut self, fx: &ClearinghouseFixture) {
        let violations = self.invariant_violations(fx).await;
        assert!(violations.is_empty(), "invariants broken:\n{}", violations.join("\n"));
    }

    /// Every broken invariant (see `check_invariants`), described; empty when all hold.
    pub async fn invariant_violations(&mut self, fx: &ClearinghouseFixture) -> Vec<String> {
        let mut violations: Vec<String> = Vec::new();
        macro_rules! check {
            ($cond:expr, $($msg:tt)+) => {
                if !$cond {
                    violations.push(format!($($msg)+));
                }
            };
        }
        macro_rules! check_eq {
            ($a:expr, $b:expr, $($msg:tt)+) => {{
                let (a, b) = ($a, $b);
                if a != b {
                    violations.push(format!("{}: {a} != {b}", format!($($msg)+)));
                }
            }};
        }
        let ch = self.clearinghouse(fx).await;
        let vault = self.token_balance(fx.collateral_vault).await;
        let insurance = self.token_balance(fx.insurance_vault).await;
        let mut markets: BTreeMap<u16, Market> = BTreeMap::new();
        for key in fx.markets.clone() {
            let m = self.load::<Market>(key).await;
            markets.insert(m.index, m);
        }

        let mut sum_balances: i128 = 0;
        let mut sum_cash: i128 = 0;
        let mut base_by_market: BTreeMap<u16, i128> = BTreeMap::new();
        let mut longs_by_market: BTreeMap<u16, i128> = BTreeMap::new();
        // One pipelined fetch of every account (the replay checks a thousand each minute).
        let keys = fx.margin_accounts.clone();
        let fetched = match self.chain().accounts(&keys).await {
            Ok(fetched) => fetched,
            Err(e) => return vec![format!("could not read the margin accounts: {e}")],
        };
        // The embedded chain's scan serves accounts no transaction wrote since it last read them
        // from its cache: margin accounts and ADL rounds must match the bank, read afresh, to the
        // byte, and every margin account the fixture knows must be in it unless closed.
        let chain = self.chain();
        let mut scanned_margin_accounts = std::collections::BTreeSet::new();
        for (i, filter) in [
            bulwark_sdk::accounts::AccountFilter::margin_accounts(&fx.key),
            bulwark_sdk::accounts::AccountFilter::adl_rounds(&fx.key),
        ]
        .iter()
        .enumerate()
        {
            let scanned = match chain.program_accounts(filter).await {
                Ok(scanned) => scanned,
                Err(e) => return vec![format!("could not scan: {e}")],
            };
            let scanned_keys: Vec<_> = scanned.iter().map(|(k, _)| *k).collect();
            if i == 0 {
                scanned_margin_accounts.extend(scanned_keys.iter().copied());
            }
            let fresh = match chain.accounts(&scanned_keys).await {
                Ok(fresh) => fresh,
                Err(e) => return vec![format!("could not read the scanned accounts: {e}")],
            };
            for ((key, data), raw) in scanned.iter().zip(fresh) {
                check!(
                    raw.is_some_and(|r| r.owner == bulwark::ID && r.data == *data),
                    "the chain's scan of {key} differs from the bank"
                );
            }
        }
        for (key, raw) in keys.iter().zip(&fetched) {
            let live = raw.as_ref().is_some_and(|r| !r.data.is_empty());
            check!(
                scanned_margin_accounts.contains(key) == live,
                "the chain's scan of margin account {key} misses it or a closed one"
            );
        }
        for (key, raw) in keys.into_iter().zip(fetched) {
            let Some(raw) = raw else { continue }; // closed
            if raw.data.is_empty() {
                continue;
            }
            let account = match MarginAccount::decode(&raw.data) {
                Ok(account) => account,
                Err(e) => {
                    violations.push(format!("margin account {key} does not decode: {e}"));
                    continue;
                }
            };
            check!(account.clearinghouse == fx.key, "margin account {key} in the wrong clearinghouse");
            if account.positions.iter().all(|p| p.base_lots == 0) {
                check!(
                    account.positions.iter().all(|p| p.quote_entry >= 0),
                    "margin account {key} has no position but an uncovered debt"
                );
            }
            sum_balances += account.collateral_balance as i128;
            sum_cash += account.collateral_balance as i128;
            for p in account.open_positions() {
                let Some(market) = markets.get(&p.market_index) else {
                    violations.push(format!("position in unknown market {}", p.market_index));
                    continue;
                };
                let funding =
                    funding_owed(p.base_lots, market.cumulative_funding_per_lot.get(), p.last_cumulative_funding.get())
                        .unwrap();
                sum_cash += p.quote_entry as i128 + funding;
                *base_by_market.entry(p.market_index).or_default() += p.base_lots as i128;
                *longs_by_market.entry(p.market_index).or_default() += p.base_lots.max(0) as i128;
                check!(p.open_bid_lots >= 0 && p.open_ask_lots >= 0, "negative reserve on {key}");
            }
        }
        check_eq!(sum_balances, ch.total_collateral_balance as i128, "Σ margin balances != clearinghouse total");
        // A written-off debt left the accounts but was never paid into the vault.
        check_eq!(
            vault as i128 + ch.bad_debt_total as i128,
            sum_cash + ch.fee_pool as i128,
            "collateral vault + bad debt != Σ account cash + fee pool"
        );
        check_eq!(
            markets.values().map(|m| m.bad_debt_total as u128).sum::<u128>(),
            ch.bad_debt_total as u128,
            "Σ markets' bad debt != clearinghouse bad debt"
        );
        check_eq!(insurance, ch.insurance_balance, "insurance vault != insurance accounting");
        // What open ADL rounds set aside is exactly the sum of their promises, and held.
        let rounds =
            match self.chain().program_accounts(&bulwark_sdk::accounts::AccountFilter::adl_rounds(&fx.key)).await {
                Ok(raw) => bulwark_sdk::accounts::decode_all::<bulwark::state::AdlRound>(&raw),
                Err(e) => return vec![format!("could not read the ADL rounds: {e}")],
            };
        check_eq!(
            rounds.iter().map(|(_, r)| r.insurance_pays as u128).sum::<u128>(),
            ch.insurance_reserved as u128,
            "insurance reserved != Σ open ADL rounds' insurance share"
        );
        check!(ch.insurance_reserved <= ch.insurance_balance, "insurance reserved beyond the balance");
        for (index, market) in &markets {
            check_eq!(base_by_market.get(index).copied().unwrap_or(0), 0, "Σ base lots in market {index} != 0");
            check_eq!(
                longs_by_market.get(index).copied().unwrap_or(0),
                market.open_interest_long_lots as i128,
                "open interest of market {index} != Σ long lots"
            );
        }
        violations
    }
}
