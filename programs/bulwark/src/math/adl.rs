//! Auto-deleveraging math (DESIGN.md §7.3): who pays first, and exactly how much.
//!
//! The target's position is closed against profitable opposite positions at `P ± U/q`, where
//! `U` is the deficit the insurance vault cannot pay. Haircuts are handed out fill by fill with
//! `haircut_for_fill`, which always leaves the rest of `U` for the rest of the position, so the
//! haircuts of a complete close sum to `U` to the atom.

use crate::math::safe::{MathResult, SafeMath};

/// Fixed-point scale of ADL scores (and of the PnL and leverage factors inside them).
pub const ADL_SCORE_PRECISION: u128 = 1_000_000;

/// A counterparty's priority: `PnL% × effective leverage`, with `PnL% = upnl / |entry|` and
/// `leverage = notional / equity`, each scaled by `ADL_SCORE_PRECISION` and rounded down.
/// Zero for a position not in profit or an account without positive equity; saturates rather
/// than fails on absurd magnitudes (ties are allowed in the ranking).
pub fn adl_score(unrealized_pnl: i128, entry_notional: i128, notional: i128, equity: i128) -> u128 {
    if unrealized_pnl <= 0 || equity <= 0 {
        return 0;
    }
    let entry = entry_notional.unsigned_abs().max(1);
    let pnl_fraction = (unrealized_pnl as u128).saturating_mul(ADL_SCORE_PRECISION) / entry;
    let leverage = notional.unsigned_abs().saturating_mul(ADL_SCORE_PRECISION) / equity as u128;
    pnl_fraction.checked_mul(leverage).map_or(u128::MAX, |v| v / ADL_SCORE_PRECISION)
}

/// What the insurance vault pays of a deficit, and what is left for ADL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Shortfall {
    pub deficit: u128,
    pub insurance_pays: u128,
    /// `U = deficit − insurance_pays`: the total haircut ADL hands to counterparties.
    pub uncovered: u128,
}

/// Split the deficit of an account with `equity` between insurance and ADL.
pub fn shortfall(equity: i128, insurance_balance: u64) -> Shortfall {
    let deficit = if equity < 0 { equity.unsigned_abs() } else { 0 };
    let insurance_pays = deficit.min(insurance_balance as u128);
    Shortfall { deficit, insurance_pays, uncovered: deficit - insurance_pays }
}

/// A market's share of the uncovered shortfall, by its share of the account's notional,
/// rounded down; all of it when the market is the account's whole notional.
pub fn uncovered_for_market(uncovered: u128, market_notional: i128, total_notional: i128) -> MathResult<u128> {
    if market_notional >= total_notional || total_notional <= 0 {
        return Ok(uncovered);
    }
    uncovered.safe_mul(market_notional.max(0) as u128)?.safe_div(total_notional as u128)
}

/// The haircut for closing `fill_lots` of the target's `remaining_lots`, given `uncovered`
/// still to hand out: `U·n/q` rounded down, and all of what is left on the final fill.
pub fn haircut_for_fill(uncovered: u128, fill_lots: u64, remaining_lots: u64) -> MathResult<u128> {
    if fill_lots >= remaining_lots {
        return Ok(uncovered);
    }
    uncovered.safe_mul(fill_lots as u128)?.safe_div(remaining_lots as u128)
}

/// The part of a counterparty's unrealised profit at `P` on the lots an ADL fill closes:
/// `upnl · fill / |position|`, rounded down; zero when the position is not in profit.
pub fn profit_on_fill(unrealized_pnl: i128, fill_lots: u64, position_lots: u64) -> MathResult<u128> {
    if unrealized_pnl <= 0 || position_lots == 0 {
        return Ok(0);
    }
    (unrealized_pnl as u128).safe_mul(fill_lots.min(position_lots) as u128)?.safe_div(position_lots as u128)
}

/// The haircut one ADL fill takes: its share of what is left of `U` (`haircut_for_fill`),
/// never more than the counterparty's profit on the lots it closes (a winner pays from profit,
/// never principal) and, against a short target, never more than those lots' value at `P` (the
/// target buys them back at `P − haircut`, which cannot go below zero). What the cap leaves
/// stays in `U` for the fills after it.
pub fn capped_haircut(share: u128, profit_on_fill: u128, oracle_value: u128, target_is_long: bool) -> u128 {
    let capped = share.min(profit_on_fill);
    if target_is_long {
        capped
    } else {
        capped.min(oracle_value)
    }
}

/// Whether `price` lies more than `max_deviation_bps` from `reference`: an ADL round fills at
/// its frozen price only while the oracle stays within this band of it.
pub fn outside_band(reference: i64, price: i64, max_deviation_bps: u32) -> bool {
    let deviation = (price as i128 - reference as i128).unsigned_abs();
    deviation * 10_000 > reference.unsigned_abs() as u128 * max_deviation_bps as u128
}

/// The ADL close price of the whole position for display and the SDK: `P ± U/q` in collateral
/// atoms per lot relative to the oracle value (`oracle_value` = the position's value at P).
/// Against shorts (a long target) the price rises; against longs it falls.
pub fn adl_close_value(oracle_value: u128, uncovered: u128, target_is_long: bool) -> u128 {
    if target_is_long {
        oracle_value.saturating_add(uncovered)
    } else {
        oracle_value.saturating_sub(uncovered)
    }
}

/// Quintile (1 = least exposed … 5 = first in line) of `score` within `sorted_scores`
/// (non-increasing), for "ADL lights" in clients.
pub fn adl_quintile(score: u128, sorted_scores: &[u128]) -> u8 {
    if sorted_scores.is_empty() || score == 0 {
        return 0;
    }
    let ahead = sorted_scores.iter().filter(|s| **s > score).count();
    let rank_fraction = ahead * 5 / sorted_scores.len();
    (5 - rank_fraction.min(4)) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_is_pnl_fraction_times_leverage() {
        // +20% on a 1,000 entry, notional 1,200 on 400 equity: 0.2 × 3 = 0.6.
        assert_eq!(adl_score(200, 1_000, 1_200, 400), 600_000);
        // Same PnL at 1.2x leverage ranks far lower.
        assert_eq!(adl_score(200, 1_000, 1_200, 1_000), 240_000);
        assert_eq!(adl_score(0, 1_000, 1_200, 400), 0, "not in profit");
        assert_eq!(adl_score(-5, 1_000, 1_200, 400), 0);
        assert_eq!(adl_score(200, 1_000, 1_200, 0), 0, "no equity");
        assert_eq!(adl_score(i128::MAX, 1, i128::MAX, 1), u128::MAX, "saturates, never fails");
    }

    #[test]
    fn shortfall_splits_deficit() {
        assert_eq!(shortfall(-1_000, 300), Shortfall { deficit: 1_000, insurance_pays: 300, uncovered: 700 });
        assert_eq!(shortfall(-1_000, 5_000), Shortfall { deficit: 1_000, insurance_pays: 1_000, uncovered: 0 });
        assert_eq!(shortfall(50, 0), Shortfall::default());
    }

    #[test]
    fn haircuts_sum_to_the_uncovered_shortfall_exactly() {
        for (uncovered, fills) in [(700u128, vec![3u64, 3, 4]), (1u128, vec![1, 1, 1]), (999_999, vec![7, 1, 13, 2])] {
            let mut remaining: u64 = fills.iter().sum();
            let mut left = uncovered;
            let mut total = 0;
            for n in fills {
                let h = haircut_for_fill(left, n, remaining).unwrap();
                assert!(h <= left);
                left -= h;
                remaining -= n;
                total += h;
            }
            assert_eq!(total, uncovered);
            assert_eq!(left, 0);
        }
        // Rounded down on a partial fill: 700·3/10 = 210, 1·1/3 = 0.
        assert_eq!(haircut_for_fill(700, 3, 10).unwrap(), 210);
        assert_eq!(haircut_for_fill(1, 1, 3).unwrap(), 0);
    }

    #[test]
    fn shortfall_is_shared_by_notional() {
        assert_eq!(uncovered_for_market(1_000, 3_000, 3_000).unwrap(), 1_000);
        assert_eq!(uncovered_for_market(1_000, 1_000, 3_000).unwrap(), 333);
        // The last market closed takes what is left, so nothing is lost across calls.
        assert_eq!(uncovered_for_market(667, 2_000, 2_000).unwrap(), 667);
        assert_eq!(uncovered_for_market(1_000, 0, 0).unwrap(), 1_000);
    }

    #[test]
    fn close_value_moves_against_counterparties() {
        assert_eq!(adl_close_value(10_000, 700, true), 10_700);
        assert_eq!(adl_close_value(10_000, 700, false), 9_300);
    }

    #[test]
    fn the_round_band_is_inclusive_and_symmetric() {
        // 4% of 100.000000 is 4.000000.
        assert!(!outside_band(100_000_000, 104_000_000, 400));
        assert!(!outside_band(100_000_000, 96_000_000, 400));
        assert!(outside_band(100_000_000, 104_000_001, 400));
        assert!(outside_band(100_000_000, 95_999_999, 400));
        assert!(!outside_band(i64::MAX, i64::MAX, 0), "no overflow at the edges");
        assert!(outside_band(1, i64::MAX, 10_000));
    }

    #[test]
    fn quintiles() {
        let scores = [900, 800, 700, 600, 500, 400, 300, 200, 100, 50];
        assert_eq!(adl_quintile(900, &scores), 5);
        assert_eq!(adl_quintile(700, &scores), 4);
        assert_eq!(adl_quintile(50, &scores), 1);
        assert_eq!(adl_quintile(0, &scores), 0);
    }

    #[test]
    fn a_winner_pays_at_most_the_profit_of_the_lots_it_closes() {
        // +$0.50 a lot on 100 lots: closing 10 of them yields at most $5.
        assert_eq!(profit_on_fill(50_000_000, 10, 100).unwrap(), 5_000_000);
        assert_eq!(profit_on_fill(50_000_000, 100, 100).unwrap(), 50_000_000);
        assert_eq!(profit_on_fill(50_000_000, 150, 100).unwrap(), 50_000_000, "never beyond its position");
        assert_eq!(profit_on_fill(-1, 10, 100).unwrap(), 0, "a loser has nothing to give");
        assert_eq!(profit_on_fill(7, 1, 3).unwrap(), 2, "rounded down, against the taker of the haircut");
        // U/q = $6 a lot on 10 lots, against $0.50 a lot of profit: $5 taken, $55 carried.
        let share = haircut_for_fill(60_000_000, 10, 10).unwrap();
        assert_eq!(capped_haircut(share, profit_on_fill(5_000_000, 10, 10).unwrap(), 1_000_000_000, true), 5_000_000);
    }

    #[test]
    fn a_short_target_never_buys_back_below_zero() {
        // Ten lots worth $50 at P, $80 of share, $200 of profit: capped at the $50 value.
        assert_eq!(capped_haircut(80_000_000, 200_000_000, 50_000_000, false), 50_000_000);
        assert_eq!(
            capped_haircut(80_000_000, 200_000_000, 50_000_000, true),
            80_000_000,
            "a long target sells above P"
        );
    }

    #[test]
    fn capped_haircuts_carry_the_rest_to_later_fills_and_never_exceed_u() {
        // U = 1,000 over 4 fills of 25 lots; the first two winners can give 100 each.
        let (mut left, mut remaining, mut taken) = (1_000u128, 100u64, Vec::new());
        for profit in [100u128, 100, 10_000, 10_000] {
            let share = haircut_for_fill(left, 25, remaining).unwrap();
            let haircut = capped_haircut(share, profit, u128::MAX, true);
            left -= haircut;
            remaining -= 25;
            taken.push(haircut);
        }
        // 250 → 100, then (900·25/75 = 300) → 100, then 800·25/50 = 400, then the last 400.
        assert_eq!(taken, vec![100, 100, 400, 400]);
        assert_eq!(left, 0, "later winners with room absorb what the capped ones could not");
    }
}
