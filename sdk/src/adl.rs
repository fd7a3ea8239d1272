//! ADL ranking as the program checks it: eligible counterparties (opposite side, in profit) in
//! non-increasing `PnL% × leverage`, and the per-position indicator clients show as lights.

use anchor_lang::prelude::Pubkey;
use bulwark::constants::MAX_ADL_COUNTERPARTIES;
use bulwark::controller::pricing::MarketPrice;
use bulwark::math::adl::{adl_quintile, adl_score};
use bulwark::math::perp::base_value;
use bulwark::state::MarginAccount;

use crate::health::health;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RankedCounterparty {
    pub margin_account: Pubkey,
    pub score: u128,
    /// Its position in the market (opposite to the target's).
    pub base_lots: i64,
}

/// The score the program would compute for `account`'s position in `market_index`, or `None`
/// when the position is empty, its markets are not all priced, or it is not in profit.
pub fn score(account: &MarginAccount, market_index: u16, prices: &[MarketPrice]) -> Option<u128> {
    let position = account.open_positions().find(|p| p.market_index == market_index && p.base_lots != 0)?;
    let market = prices.iter().find(|m| m.index == market_index)?;
    let value = base_value(position.base_lots, market.price, &market.spec).ok()?;
    let upnl = value.checked_add(position.quote_entry as i128)?;
    if upnl <= 0 {
        return None;
    }
    let equity = health(account, prices).ok()?.equity;
    Some(adl_score(upnl, position.quote_entry as i128, value.abs(), equity))
}

/// Counterparties for a target holding `target_lots` in `market_index`, best first (ties by
/// key, so every keeper ranks alike).
pub fn rank_counterparties<'a>(
    target: &Pubkey,
    target_lots: i64,
    market_index: u16,
    candidates: impl IntoIterator<Item = (&'a Pubkey, &'a MarginAccount)>,
    prices: &[MarketPrice],
) -> Vec<RankedCounterparty> {
    let mut ranked: Vec<RankedCounterparty> = candidates
        .into_iter()
        .filter(|(key, _)| *key != target)
        .filter_map(|(key, account)| {
            let lots = account.open_positions().find(|p| p.market_index == market_index)?.base_lots;
            if lots == 0 || (lots > 0) == (target_lots > 0) {
                return None;
            }
            let score = score(account, market_index, prices)?;
            Some(RankedCounterparty { margin_account: *key, score, base_lots: lots })
        })
        .collect();
    ranked.sort_by(|a, b| b.score.cmp(&a.score).then(a.margin_account.cmp(&b.margin_account)));
    ranked
}

/// The prefix of `ranked` one `auto_deleverage` needs to close `lots` (at most the program's
/// per-call bound).
pub fn select(ranked: &[RankedCounterparty], lots: u64) -> Vec<Pubkey> {
    let mut covered = 0u64;
    let mut out = Vec::new();
    for c in ranked.iter().take(MAX_ADL_COUNTERPARTIES) {
        if covered >= lots {
            break;
        }
        out.push(c.margin_account);
        covered = covered.saturating_add(c.base_lots.unsigned_abs());
    }
    out
}

/// The five-light ADL indicator of a score among all scores on its side (5: first in line).
pub fn indicator(score: u128, ranked: &[RankedCounterparty]) -> u8 {
    let scores: Vec<u128> = ranked.iter().map(|c| c.score).collect();
    adl_quintile(score, &scores)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::market_price;
    use crate::health::tests::{account, market};

    #[test]
    fn ranks_opposite_profitable_positions_by_score() {
        let prices = [market_price(&market(0), 85_000_000)];
        let keys: Vec<Pubkey> = (1..=5u8).map(|i| Pubkey::new_from_array([i; 32])).collect();
        let accounts = [
            account(2_001_200_000, &[(0, -60, 6_000_000_000)]), // short from 100: +900, 1.76x
            account(2_000_808_000, &[(0, -40, 4_040_000_000)]), // short from 101: +640, 1.29x
            account(1_000_000_000, &[(0, 10, -840_000_000)]),   // long: same side as the target
            account(1_000_000_000, &[(0, -10, 800_000_000)]),   // short from 80: losing
            account(1_000_000_000, &[]),                        // nothing
        ];
        let target = Pubkey::new_from_array([9; 32]);
        let ranked = rank_counterparties(&target, 100, 0, keys.iter().zip(accounts.iter()), &prices);
        assert_eq!(ranked.iter().map(|c| c.margin_account).collect::<Vec<_>>(), vec![keys[0], keys[1]]);
        // The same scores the program checks on-chain (see the ADL scenario test).
        assert_eq!((ranked[0].score, ranked[1].score), (263_683, 203_956));
        assert_eq!(select(&ranked, 50), vec![keys[0]]);
        assert_eq!(select(&ranked, 100), vec![keys[0], keys[1]]);
        assert_eq!(indicator(ranked[0].score, &ranked), 5);
        assert_eq!(indicator(ranked[1].score, &ranked), 3);
    }
}
