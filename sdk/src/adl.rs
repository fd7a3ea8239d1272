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

/// Every market's ADL queues, both sides, built in one pass over the accounts with each
/// account's health computed once (the per-target `rank_counterparties` recomputes it per
/// call). A queue holds the accounts in profit on that side, best score first, in exactly the
/// order `rank_counterparties` gives.
#[derive(Clone, Debug, Default)]
pub struct AdlQueues {
    /// `(market index, [longs, shorts])`.
    queues: Vec<(u16, [Vec<RankedCounterparty>; 2])>,
}

impl AdlQueues {
    /// Add `account`'s profitable positions, scored with its `equity` (from `health`).
    pub fn push(&mut self, key: &Pubkey, account: &MarginAccount, equity: i128, prices: &[MarketPrice]) {
        for position in account.open_positions().filter(|p| p.base_lots != 0) {
            let Some(market) = prices.iter().find(|m| m.index == position.market_index) else { continue };
            let Ok(value) = base_value(position.base_lots, market.price, &market.spec) else { continue };
            let Some(upnl) = value.checked_add(position.quote_entry as i128) else { continue };
            if upnl <= 0 {
                continue;
            }
            let score = adl_score(upnl, position.quote_entry as i128, value.abs(), equity);
            let side = usize::from(position.base_lots < 0);
            let entry = RankedCounterparty { margin_account: *key, score, base_lots: position.base_lots };
            match self.queues.iter_mut().find(|(index, _)| *index == position.market_index) {
                Some((_, sides)) => sides[side].push(entry),
                None => {
                    let mut sides = [Vec::new(), Vec::new()];
                    sides[side].push(entry);
                    self.queues.push((position.market_index, sides));
                }
            }
        }
    }

    /// Sort every queue (best first, ties by key, as the ranking does).
    pub fn finish(&mut self) {
        for (_, sides) in &mut self.queues {
            for queue in sides {
                queue.sort_unstable_by(|a, b| b.score.cmp(&a.score).then(a.margin_account.cmp(&b.margin_account)));
            }
        }
    }

    /// The counterparties of a target on the other side: longs for a short target, shorts for
    /// a long one.
    pub fn counterparties(&self, market_index: u16, target_is_long: bool) -> &[RankedCounterparty] {
        self.queues
            .iter()
            .find(|(index, _)| *index == market_index)
            .map(|(_, sides)| &sides[usize::from(target_is_long)][..])
            .unwrap_or(&[])
    }

    pub fn markets(&self) -> impl Iterator<Item = u16> + '_ {
        self.queues.iter().map(|(index, _)| *index)
    }
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

/// The indicator of every entry of `ranked` (as `rank_counterparties` returns it: scores
/// non-increasing), in one pass: the same values as `indicator` for each, without its O(n) scan.
pub fn indicators(ranked: &[RankedCounterparty]) -> Vec<u8> {
    let n = ranked.len();
    let mut out = Vec::with_capacity(n);
    let mut ahead = 0; // index of the first entry with the current score
    for (i, c) in ranked.iter().enumerate() {
        if i > 0 && c.score != ranked[i - 1].score {
            ahead = i;
        }
        out.push(if c.score == 0 { 0 } else { (5 - (ahead * 5 / n).min(4)) as u8 });
    }
    out
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

    #[test]
    fn queues_rank_exactly_as_the_per_target_ranking() {
        let prices = [market_price(&market(0), 85_000_000), market_price(&market(1), 85_000_000)];
        let keys: Vec<Pubkey> = (1..=5u8).map(|i| Pubkey::new_from_array([i; 32])).collect();
        let accounts = [
            account(2_001_200_000, &[(0, -60, 6_000_000_000), (1, 5, -400_000_000)]),
            account(2_000_808_000, &[(0, -40, 4_040_000_000)]),
            account(1_000_000_000, &[(0, 10, -840_000_000), (1, -3, 270_000_000)]),
            account(1_000_000_000, &[(0, -10, 800_000_000)]),
            account(1_000_000_000, &[(1, -20, 2_000_000_000)]),
        ];
        let mut queues = AdlQueues::default();
        for (key, a) in keys.iter().zip(accounts.iter()) {
            queues.push(key, a, health(a, &prices).unwrap().equity, &prices);
        }
        queues.finish();
        let target = Pubkey::new_from_array([9; 32]);
        for market_index in [0u16, 1] {
            for target_lots in [7i64, -7] {
                let ranked =
                    rank_counterparties(&target, target_lots, market_index, keys.iter().zip(accounts.iter()), &prices);
                assert_eq!(queues.counterparties(market_index, target_lots > 0), &ranked[..]);
            }
        }
        assert_eq!(queues.counterparties(0, true).len(), 2);
        assert_eq!(queues.counterparties(7, true).len(), 0);
    }

    #[test]
    fn batch_indicators_equal_the_program_quintiles() {
        let scores = [900u128, 900, 800, 700, 700, 700, 300, 200, 200, 100, 50, 0];
        let ranked: Vec<RankedCounterparty> = scores
            .iter()
            .map(|&score| RankedCounterparty { margin_account: Pubkey::default(), score, base_lots: 1 })
            .collect();
        let one_by_one: Vec<u8> = ranked.iter().map(|c| indicator(c.score, &ranked)).collect();
        assert_eq!(indicators(&ranked), one_by_one);
        assert_eq!(one_by_one[..3], [5, 5, 5]);
        assert_eq!(*one_by_one.last().unwrap(), 0);
    }
}
