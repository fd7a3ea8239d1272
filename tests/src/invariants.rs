//! DESIGN.md §7 invariants, checked after every step of the scenario and property tests.

use std::collections::BTreeMap;

use crate::fixtures::ClearinghouseFixture;
use crate::harness::TestEnv;

impl TestEnv {
    /// Panics, naming the broken invariant, unless:
    /// * collateral vault tokens == Σ margin balances + fee pool == clearinghouse totals;
    /// * insurance vault tokens == insurance accounting;
    /// * Σ base lots per market == 0;
    /// * no account holds open orders or a position it cannot account for (positions only
    ///   exist with a market index below the clearinghouse's market count).
    pub async fn check_invariants(&mut self, fx: &ClearinghouseFixture) {
        let ch = self.clearinghouse(fx).await;
        let vault = self.token_balance(fx.collateral_vault).await;
        let insurance = self.token_balance(fx.insurance_vault).await;

        let mut sum_balances: u128 = 0;
        let mut base_by_market: BTreeMap<u16, i128> = BTreeMap::new();
        for key in fx.margin_accounts.clone() {
            let Some(data) = self.account_data(key).await else { continue }; // closed
            if data.is_empty() {
                continue;
            }
            let account = self.margin(key).await;
            assert_eq!(account.clearinghouse, fx.key, "margin account {key} in the wrong clearinghouse");
            sum_balances += account.collateral_balance as u128;
            for p in account.open_positions() {
                assert!(p.market_index < ch.market_count, "position in unknown market {}", p.market_index);
                *base_by_market.entry(p.market_index).or_default() += p.base_lots as i128;
            }
        }
        assert_eq!(sum_balances, ch.total_collateral_balance as u128, "Σ margin balances != clearinghouse total");
        assert_eq!(vault as u128, sum_balances + ch.fee_pool as u128, "collateral vault != Σ balances + fee pool");
        assert_eq!(insurance, ch.insurance_balance, "insurance vault != insurance accounting");
        for (market, base) in base_by_market {
            assert_eq!(base, 0, "Σ base lots in market {market} is {base}");
        }
    }
}
