//! ADL ranking as the program checks it: eligible counterparties (opposite side, in profit) in
//! non-increasing `PnL% × leverage`, and the per-position indicator clients show as lights.

use anchor_lang::prelude::Pubkey;
use bulwark::constants::MAX_ADL_COUNTERPARTIES;
use bulwark::controller::pricing::{health_for_liquidation, with_exact_price, MarketPrice};
use bulwark::math::adl::{
    adl_quintile, adl_score, capped_haircut, haircut_for_fill, profit_on_fill, shortfall, uncovered_for_market,
};
use bulwark::math::liquidation::marginal_close_value;
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
    let market = prices.iter().find(|m| m.index == market_index)?;
    // The program settles the position's funding first; what the balance cannot pay lands in
    // the position's quote, and so in its profit.
    let mut account = *account;
    let slot = bulwark::controller::position::find_position(&account, market_index)?;
    let owed = bulwark::math::perp::funding_owed(
        account.positions[slot].base_lots,
        market.cumulative_funding_per_lot,
        account.positions[slot].last_cumulative_funding.get(),
    )
    .ok()?;
    account.positions[slot].last_cumulative_funding.set(market.cumulative_funding_per_lot);
    bulwark::controller::position::apply_cash(&mut account, slot, owed).ok()?;
    let account = &account;
    let position = account.open_positions().find(|p| p.market_index == market_index && p.base_lots != 0)?;
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

/// One entry of an ADL round's queue as clients show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueEntry {
    pub margin_account: Pubkey,
    /// Place in the queue (0 pays first).
    pub position: usize,
    /// The score the program gave it at the round's price.
    pub score: u128,
    /// Passed over once: it pays after every other entry.
    pub deferred: bool,
    /// Its position in the market now (`None`: not in the snapshot).
    pub base_lots: Option<i64>,
    /// Its unrealised profit at the round's price, in collateral atoms: the most it can pay.
    pub profit_at_round_price: Option<i128>,
    /// 1 (least exposed) … 5 (first in line), by place in this queue.
    pub light: u8,
}

/// A round's queue with each entry's position and profit at the round's price, and its light.
pub fn queue_view<'a>(
    round: &bulwark::state::AdlRound,
    market_index: u16,
    account: impl Fn(&Pubkey) -> Option<&'a MarginAccount>,
    prices: &[MarketPrice],
) -> Vec<QueueEntry> {
    let market = prices.iter().find(|m| m.index == market_index);
    let queue = round.queue();
    let scores: Vec<u128> = (0..queue.len()).map(|i| (queue.len() - i) as u128).collect();
    queue
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let position = account(&n.margin_account)
                .and_then(|a| a.open_positions().find(|p| p.market_index == market_index).copied());
            let profit = position.zip(market).and_then(|(p, m)| {
                base_value(p.base_lots, round.price, &m.spec).ok().map(|v| v + p.quote_entry as i128)
            });
            QueueEntry {
                margin_account: n.margin_account,
                position: i,
                score: n.score.get(),
                deferred: n.deferred != 0,
                base_lots: position.map(|p| p.base_lots),
                profit_at_round_price: profit,
                light: adl_quintile(scores[i], &scores),
            }
        })
        .collect()
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
/// per-call bound), assuming each pays in full; `simulate_fills` also leaves out the
/// counterparties the program would skip.
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

/// One fill `auto_deleverage` would make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdlFill {
    pub counterparty: Pubkey,
    /// Lots closed against this counterparty.
    pub base_lots: u64,
    /// What it pays of the uncovered shortfall, in collateral atoms.
    pub haircut: u128,
}

/// The fills one `auto_deleverage` of `target`'s position in `market_index` (at most
/// `max_base_lots`, 0: all) would make against `ranked` (best first), replaying the program:
/// the shortfall insurance cannot pay is split by notional across the target's markets and
/// handed out fill by fill, and a counterparty whose haircut would take its equity below zero
/// is skipped, as the program skips it. So every counterparty returned fills, in ranked order;
/// passing exactly these (price pairs first) never ends in `AdlNoFill` on the same state.
/// At most `MAX_ADL_COUNTERPARTIES`; empty when nothing can fill or a price is missing.
///
/// A haircut is capped at the counterparty's profit on the lots it closes, so a winner with
/// little profit may pay less than its share; the rest must then come from the winners after
/// it in the same call (the program refuses a call that leaves it on the lots still open).
/// When they cannot carry it, the winners whose cap binds are passed over instead.
pub fn simulate_fills<'a>(
    target: &MarginAccount,
    market_index: u16,
    max_base_lots: u64,
    ranked: &[RankedCounterparty],
    account: impl Fn(&Pubkey) -> Option<&'a MarginAccount>,
    prices: &[MarketPrice],
    insurance_balance: u64,
) -> Vec<AdlFill> {
    for pass_over_capped in [false, true] {
        match simulate(
            target,
            market_index,
            max_base_lots,
            ranked,
            &account,
            prices,
            insurance_balance,
            pass_over_capped,
        ) {
            Some(plan) if plan.completes => return plan.fills,
            Some(_) => continue,
            None => return Vec::new(),
        }
    }
    Vec::new()
}

/// Simulated fills, and whether the program would accept them.
struct SimulatedAdl {
    fills: Vec<AdlFill>,
    completes: bool,
}

#[allow(clippy::too_many_arguments)]
fn simulate<'a>(
    target: &MarginAccount,
    market_index: u16,
    max_base_lots: u64,
    ranked: &[RankedCounterparty],
    account: &impl Fn(&Pubkey) -> Option<&'a MarginAccount>,
    prices: &[MarketPrice],
    insurance_balance: u64,
    pass_over_capped: bool,
) -> Option<SimulatedAdl> {
    let market = prices.iter().find(|m| m.index == market_index)?;
    let (price, spec) = (market.price, &market.spec);
    let target_lots = target.open_positions().find(|p| p.market_index == market_index)?.base_lots;
    if target_lots == 0 {
        return None;
    }
    // As the program sizes it: this market at exactly the fill price, the others read in the
    // target's favour.
    let at_fill_price = with_exact_price(prices, market_index, price);
    let split = shortfall(health_for_liquidation(target, &at_fill_price).ok()?.equity, insurance_balance);
    let mut notional_here = 0i128;
    let mut notional_total = 0i128;
    for position in target.open_positions() {
        let Some(p) = prices.iter().find(|m| m.index == position.market_index) else { continue };
        let notional = base_value(position.base_lots, p.price, &p.spec).ok()?.abs();
        notional_total = notional_total.checked_add(notional)?;
        if position.market_index == market_index {
            notional_here = notional;
        }
    }
    let mut uncovered_left = uncovered_for_market(split.uncovered, notional_here, notional_total).ok()?;
    let mut uncovered_left_uncapped = uncovered_left;
    let target_is_long = target_lots > 0;
    let mut remaining_lots = target_lots.unsigned_abs();
    let mut to_fill = if max_base_lots == 0 { remaining_lots } else { max_base_lots.min(remaining_lots) };
    let mut fills = Vec::new();
    for candidate in ranked {
        if to_fill == 0 || fills.len() == MAX_ADL_COUNTERPARTIES {
            break;
        }
        let Some(counterparty) = account(&candidate.margin_account) else { continue };
        let Some(position) = counterparty.open_positions().find(|p| p.market_index == market_index) else { continue };
        let lots = position.base_lots;
        if lots == 0 || (lots > 0) == target_is_long {
            continue;
        }
        let value = base_value(lots, price, spec).ok()?;
        let upnl = value.checked_add(position.quote_entry as i128)?;
        if upnl <= 0 {
            continue; // not in profit: the program would refuse it
        }
        let equity = health(counterparty, prices).ok()?.equity;
        let n = to_fill.min(lots.unsigned_abs());
        let share = haircut_for_fill(uncovered_left, n, remaining_lots).ok()?;
        let signed_remaining = if target_is_long { remaining_lots as i64 } else { -(remaining_lots as i64) };
        let oracle_quote = marginal_close_value(signed_remaining, n, price, spec).ok()? as u128;
        // Capped at the profit on the lots it closes (and a short target's buy-back at zero),
        // as the program caps it.
        let haircut =
            capped_haircut(share, profit_on_fill(upnl, n, lots.unsigned_abs()).ok()?, oracle_quote, target_is_long);
        if pass_over_capped && haircut < share {
            continue;
        }
        let quote =
            if target_is_long { oracle_quote.checked_add(haircut)? } else { oracle_quote.checked_sub(haircut)? };
        let quote = i128::try_from(quote).ok()?;
        let fill = if target_is_long { n as i64 } else { -(n as i64) };
        let value_after = base_value(lots + fill, price, spec).ok()?;
        let cash = if fill > 0 { -quote } else { quote };
        if equity + (value_after - value) + cash < 0 {
            continue; // it cannot pay its haircut: skipped on chain
        }
        fills.push(AdlFill { counterparty: candidate.margin_account, base_lots: n, haircut });
        uncovered_left -= haircut;
        uncovered_left_uncapped -= haircut_for_fill(uncovered_left_uncapped, n, remaining_lots).ok()?;
        remaining_lots -= n;
        to_fill -= n;
    }
    // The program refuses a call that leaves more of U on the lots still open than full
    // payers would have (a capped winner's shortfall must be absorbed within the call).
    let completes = uncovered_left <= uncovered_left_uncapped;
    Some(SimulatedAdl { fills, completes })
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
    fn simulated_fills_skip_a_counterparty_that_cannot_pay_its_haircut() {
        // Alice: long 100 from $100 with $1,100, oracle $85: equity −$400; insurance $100, so
        // U = $300. Pat is short 100 from $100 (+$1,500) but loses $1,600 long 20 from $100 in
        // market 1 (oracle $20): equity $100 at 85x, first in line. Quinn is short 100 from
        // $100 with $2,000: equity $3,500.
        let prices = [market_price(&market(0), 85_000_000), market_price(&market(1), 20_000_000)];
        let alice = account(1_100_000_000, &[(0, 100, -10_000_000_000)]);
        let (pat_key, quinn_key) = (Pubkey::new_from_array([1; 32]), Pubkey::new_from_array([2; 32]));
        let pat = account(200_000_000, &[(0, -100, 10_000_000_000), (1, 20, -2_000_000_000)]);
        let quinn = account(2_000_000_000, &[(0, -100, 10_000_000_000)]);
        let keys = [pat_key, quinn_key];
        let accounts = [pat, quinn];
        let target = Pubkey::new_from_array([9; 32]);
        let ranked = rank_counterparties(&target, 100, 0, keys.iter().zip(accounts.iter()), &prices);
        assert_eq!((ranked[0].margin_account, ranked[0].score), (pat_key, 12_750_000));
        assert_eq!((ranked[1].margin_account, ranked[1].score), (quinn_key, 364_285));
        let lookup = |k: &Pubkey| keys.iter().position(|x| x == k).map(|i| &accounts[i]);

        // The plain prefix names Pat alone, who cannot pay the whole $300 with $100 of equity:
        // the program would skip Pat and fill nothing (`AdlNoFill`).
        assert_eq!(select(&ranked, 100), vec![pat_key]);
        // The simulation passes Pat over: Quinn takes all 100 lots and the whole $300.
        assert_eq!(
            simulate_fills(&alice, 0, 0, &ranked, lookup, &prices, 100_000_000),
            vec![AdlFill { counterparty: quinn_key, base_lots: 100, haircut: 300_000_000 }]
        );
        // 30 lots at a time, Pat's share is $90 (300 × 30 / 100), which its $100 can pay.
        assert_eq!(
            simulate_fills(&alice, 0, 30, &ranked, lookup, &prices, 100_000_000),
            vec![AdlFill { counterparty: pat_key, base_lots: 30, haircut: 90_000_000 }]
        );
        // With insurance for the whole deficit it is a force-out at the oracle: Pat pays nothing.
        assert_eq!(
            simulate_fills(&alice, 0, 0, &ranked, lookup, &prices, 400_000_000),
            vec![AdlFill { counterparty: pat_key, base_lots: 100, haircut: 0 }]
        );
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
