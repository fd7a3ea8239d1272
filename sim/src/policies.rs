//! What other venues' auto-deleveraging would have taken in the state Bulwark's program saw at
//! an ADL episode: pure functions over one market's open positions at the oracle price.
//!
//! Each policy is written from its public description, not its code:
//! * **Ranked queue at the bankruptcy price** (Binance, Hyperliquid): profitable opposite
//!   positions ranked by Hyperliquid's queue index, `(mark / entry) · (notional / account
//!   value)` (for a short, `entry / mark`), close the target's size at its bankruptcy price,
//!   which hands every counterparty a per-lot loss of `D / q` — the whole deficit, insurance
//!   ignored (Hyperliquid docs, "Auto-deleveraging"; Binance, "What is auto-deleveraging").
//! * **The same queue closing whole positions**: each counterparty reached is closed entirely
//!   at the bankruptcy price — the over-shoot measured on 10 October 2025 (arXiv 2512.01112,
//!   "Autodeleveraging: impossibilities and optimization").
//! * **dYdX v4**: every opposite position, in a deterministic pseudo-random order (a start
//!   index from the block's seed, then in turn), offset at the bankruptcy price; profit is not
//!   a condition (dYdX v4 docs, "Deleveraging"; `x/clob` deleveraging).
//! * **Pro rata over profitable opposite positions** (Percolator-like: profit is a junior claim
//!   haircut by one ratio): each pays `U · profit / Σ profit`, at most its profit, rounded down,
//!   the atoms left by rounding to the largest profits first (Percolator's README, "profits are
//!   junior claims").
//! * **Socialized over all open interest** (Drift v2's funding-index loss socialization, Mango
//!   v4's perp loss socialization): every open position on both sides pays `U · |lots| / Σ|lots|`,
//!   rounded down, the atoms left to the largest positions first (Drift protocol-v2,
//!   `resolve_perp_bankruptcy`; Mango v4, `perp_settle_pnl` / socialized loss).
//!
//! Figures: what each takes from the accounts it touches, its over-cut against the shortfall
//! insurance could not pay (`U`), how many accounts it touches (and how many at ≤ 2x leverage),
//! principal taken beyond profit, losers or flat accounts charged, and what market makers lose.

use serde::Serialize;

/// One open position in the market at the episode, other than the target's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub key: [u8; 32],
    /// Signed lots: long > 0.
    pub lots: i64,
    /// Quote paid to open, signed as the program keeps it (negative for a long's cost).
    pub quote_entry: i64,
    /// The account's equity at the oracle price, collateral atoms.
    pub equity: i128,
    /// A market maker's account (its inventory is the other side of everyone's trades).
    pub maker: bool,
}

/// The state the program saw when the episode began.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdlState {
    /// One lot's value at the oracle price, collateral atoms.
    pub lot_value: i128,
    /// The target's signed lots.
    pub target_lots: i64,
    /// The target's deficit at the oracle price (`D`), and what insurance cannot pay of it (`U`).
    pub deficit: u128,
    pub uncovered: u128,
    pub holders: Vec<Holder>,
    /// Seeds the pseudo-random start of the dYdX order.
    pub seed: u64,
}

impl AdlState {
    fn opposite(&self, h: &Holder) -> bool {
        h.lots != 0 && (h.lots > 0) != (self.target_lots > 0)
    }

    fn profit(&self, h: &Holder) -> i128 {
        h.lots as i128 * self.lot_value + h.quote_entry as i128
    }

    fn leverage_at_most_2x(&self, h: &Holder) -> bool {
        let notional = (h.lots as i128).abs() * self.lot_value;
        h.equity > 0 && notional <= 2 * h.equity
    }

    /// Hyperliquid's queue index, `(mark / entry) · (notional / account value)`, scaled by
    /// 10^9 and rounded down (saturating on absurd sizes).
    fn queue_index(&self, h: &Holder) -> u128 {
        const SCALE: u128 = 1_000_000_000;
        let value = (h.lots as i128).unsigned_abs() * self.lot_value.unsigned_abs();
        let entry = (h.quote_entry as i128).unsigned_abs().max(1);
        let (num, den) = if h.lots > 0 { (value, entry) } else { (entry, value.max(1)) };
        let ratio = num.saturating_mul(SCALE) / den;
        ratio.saturating_mul(value) / (h.equity.max(1) as u128)
    }

    /// The ranked queue: profitable opposite positions, highest index first, ties by key.
    fn ranked(&self) -> Vec<&Holder> {
        let mut q: Vec<&Holder> = self.holders.iter().filter(|h| self.opposite(h) && self.profit(h) > 0).collect();
        q.sort_by(|a, b| self.queue_index(b).cmp(&self.queue_index(a)).then(a.key.cmp(&b.key)));
        q
    }
}

/// What one policy takes from each account it touches: (key, lots closed, amount charged).
pub type Charges = Vec<([u8; 32], u64, u128)>;

/// One policy's figures over one episode or, summed, over a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PolicyOutcome {
    pub policy: &'static str,
    /// Σ charged to accounts other than the target.
    pub taken: u128,
    /// Of it, from accounts in profit.
    pub taken_from_winners: u128,
    /// `taken − U`: above 0 a cut beyond the shortfall, below 0 a shortfall left unpaid.
    pub over_cut: i128,
    pub accounts_touched: u64,
    pub touched_at_most_2x: u64,
    pub principal_beyond_profit: u128,
    pub losers_or_flat_charged: u64,
    pub makers_lost: u128,
}

impl PolicyOutcome {
    pub fn add(&mut self, other: &PolicyOutcome) {
        self.taken += other.taken;
        self.taken_from_winners += other.taken_from_winners;
        self.over_cut += other.over_cut;
        self.accounts_touched += other.accounts_touched;
        self.touched_at_most_2x += other.touched_at_most_2x;
        self.principal_beyond_profit += other.principal_beyond_profit;
        self.losers_or_flat_charged += other.losers_or_flat_charged;
        self.makers_lost += other.makers_lost;
    }
}

/// The figures of `charges` in `state`.
pub fn outcome(policy: &'static str, state: &AdlState, charges: &Charges) -> PolicyOutcome {
    let mut out = PolicyOutcome { policy, ..Default::default() };
    for (key, lots_closed, charged) in charges {
        let Some(h) = state.holders.iter().find(|h| h.key == *key) else { continue };
        if *charged == 0 && *lots_closed == 0 {
            continue;
        }
        let profit = state.profit(h);
        // The profit on the lots closed (all of it when the policy closes none: a charge on
        // the position as a whole).
        let lots = h.lots.unsigned_abs() as u128;
        let profit_here = if *lots_closed == 0 || lots == 0 {
            profit.max(0) as u128
        } else {
            (profit.max(0) as u128) * (*lots_closed as u128).min(lots) / lots
        };
        out.taken += charged;
        if profit > 0 {
            out.taken_from_winners += charged;
        } else if *charged > 0 {
            out.losers_or_flat_charged += 1;
        }
        out.accounts_touched += 1;
        if state.leverage_at_most_2x(h) {
            out.touched_at_most_2x += 1;
        }
        out.principal_beyond_profit += charged.saturating_sub(profit_here);
        if h.maker {
            out.makers_lost += charged;
        }
    }
    out.over_cut = out.taken as i128 - state.uncovered as i128;
    out
}

/// Close `need` lots against `order` at the bankruptcy price: `D / q` a lot, rounded down, the
/// rest on the last lot closed. `whole` closes every position reached entirely.
fn at_bankruptcy(state: &AdlState, order: &[&Holder], whole: bool) -> Charges {
    let q = state.target_lots.unsigned_abs() as u128;
    if q == 0 {
        return Vec::new();
    }
    let mut charges = Vec::new();
    let mut need = q;
    let mut charged_for_target = 0u128;
    for h in order {
        if need == 0 {
            break;
        }
        let lots = h.lots.unsigned_abs() as u128;
        let for_target = lots.min(need);
        let closed = if whole { lots } else { for_target };
        need -= for_target;
        // The target's lots carry D exactly; a whole-position close charges the same per-lot
        // loss on the lots beyond them.
        let mut charge = if need == 0 { state.deficit - charged_for_target } else { state.deficit * for_target / q };
        charged_for_target += charge;
        if closed > for_target {
            charge += state.deficit * (closed - for_target) / q;
        }
        charges.push((h.key, closed as u64, charge));
    }
    charges
}

/// Binance- and Hyperliquid-style: the ranked queue closes the target's size at its
/// bankruptcy price, insurance ignored.
pub fn ranked_queue(state: &AdlState) -> Charges {
    at_bankruptcy(state, &state.ranked(), false)
}

/// The same queue, each counterparty reached closed entirely.
pub fn ranked_queue_whole_positions(state: &AdlState) -> Charges {
    at_bankruptcy(state, &state.ranked(), true)
}

/// dYdX v4: every opposite position, from a pseudo-random start in key order, at the
/// bankruptcy price, in profit or not.
pub fn dydx_random_start(state: &AdlState) -> Charges {
    let mut opposite: Vec<&Holder> = state.holders.iter().filter(|h| state.opposite(h)).collect();
    opposite.sort_by(|a, b| a.key.cmp(&b.key));
    if opposite.is_empty() {
        return Vec::new();
    }
    let start = (state.seed % opposite.len() as u64) as usize;
    opposite.rotate_left(start);
    at_bankruptcy(state, &opposite, false)
}

/// Split `total` over `weights` pro rata, rounded down, the atoms left to the largest weights
/// first (ties by order).
fn pro_rata(total: u128, weights: &[u128]) -> Vec<u128> {
    let sum: u128 = weights.iter().sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    // total·w fits: totals are collateral atoms (< 2^64) and weights lots or atoms (< 2^64).
    let mut shares: Vec<u128> = weights.iter().map(|w| total * w / sum).collect();
    let mut left = total - shares.iter().sum::<u128>();
    let mut by_weight: Vec<usize> = (0..weights.len()).collect();
    by_weight.sort_by(|&a, &b| weights[b].cmp(&weights[a]).then(a.cmp(&b)));
    for i in by_weight.into_iter().cycle() {
        if left == 0 {
            break;
        }
        shares[i] += 1;
        left -= 1;
    }
    shares
}

/// Percolator-like: the profitable opposite positions pay `U` pro rata to their profit, each
/// at most its profit; no position is closed.
pub fn pro_rata_profit(state: &AdlState) -> Charges {
    let winners: Vec<&Holder> = state.holders.iter().filter(|h| state.opposite(h) && state.profit(h) > 0).collect();
    let profits: Vec<u128> = winners.iter().map(|h| state.profit(h) as u128).collect();
    let total = state.uncovered.min(profits.iter().sum());
    let shares = pro_rata(total, &profits);
    winners.iter().zip(shares).map(|(h, s)| (h.key, 0, s)).collect()
}

/// Drift- and Mango-style: every open position, both sides, pays `U` pro rata to its size.
pub fn socialized(state: &AdlState) -> Charges {
    let open: Vec<&Holder> = state.holders.iter().filter(|h| h.lots != 0).collect();
    let sizes: Vec<u128> = open.iter().map(|h| h.lots.unsigned_abs() as u128).collect();
    let shares = pro_rata(state.uncovered, &sizes);
    open.iter().zip(shares).map(|(h, s)| (h.key, 0, s)).collect()
}

/// Every peer policy's figures on `state`.
pub fn peers(state: &AdlState) -> Vec<PolicyOutcome> {
    vec![
        outcome("ranked queue at bankruptcy (Binance, Hyperliquid)", state, &ranked_queue(state)),
        outcome("ranked queue, whole positions", state, &ranked_queue_whole_positions(state)),
        outcome("dYdX v4 (random start, bankruptcy price)", state, &dydx_random_start(state)),
        outcome("pro rata over winners (Percolator-like)", state, &pro_rata_profit(state)),
        outcome("socialized over open interest (Drift, Mango)", state, &socialized(state)),
    ]
}

pub const BULWARK: &str = "Bulwark (what the program did)";

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> [u8; 32] {
        [b; 32]
    }

    /// One lot is worth 100 atoms. The target is long 10 lots with a deficit of 300, of which
    /// insurance pays 100: U = 200. Opposite it: A short 6 from 120 (profit 120, equity 200,
    /// 3x), B short 6 from 110 (profit 60, equity 1,000, 0.6x), C short 5 from 90 (loss 50,
    /// equity 300, 1.67x). M, a maker, is long 7 from 95 (profit 35, equity 5,000, 0.14x).
    fn state() -> AdlState {
        let holder = |b: u8, lots: i64, entry: i64, equity: i128, maker: bool| Holder {
            key: key(b),
            lots,
            quote_entry: -lots * entry,
            equity,
            maker,
        };
        AdlState {
            lot_value: 100,
            target_lots: 10,
            deficit: 300,
            uncovered: 200,
            holders: vec![
                holder(1, -6, 120, 200, false),
                holder(2, -6, 110, 1_000, false),
                holder(3, -5, 90, 300, false),
                holder(9, 7, 95, 5_000, true),
            ],
            seed: 2,
        }
    }

    #[test]
    fn the_ranked_queue_takes_the_whole_deficit_at_the_bankruptcy_price() {
        let s = state();
        // Index: A 1.2 × 3 = 3.6, B 1.1 × 0.6 = 0.66: A first. D/q = 30 a lot.
        assert_eq!(ranked_queue(&s), vec![(key(1), 6, 180), (key(2), 4, 120)]);
        let o = outcome("q", &s, &ranked_queue(&s));
        // B's profit on 4 of its 6 lots is 40: 80 beyond it; A's 120 on 6: 60 beyond.
        assert_eq!((o.taken, o.over_cut, o.accounts_touched, o.touched_at_most_2x), (300, 100, 2, 1));
        assert_eq!((o.principal_beyond_profit, o.losers_or_flat_charged, o.makers_lost), (140, 0, 0));
    }

    #[test]
    fn closing_whole_positions_overshoots() {
        let s = state();
        // B is closed on all 6 lots: 4 for the target (120) and 2 more at 30 each.
        assert_eq!(ranked_queue_whole_positions(&s), vec![(key(1), 6, 180), (key(2), 6, 180)]);
        let o = outcome("w", &s, &ranked_queue_whole_positions(&s));
        assert_eq!((o.taken, o.over_cut, o.principal_beyond_profit), (360, 160, 180));
    }

    #[test]
    fn dydx_starts_anywhere_and_charges_losers_too() {
        let s = state();
        // Keys in order A, B, C; seed 2 starts at C (5 lots, 150), then A (5 of 6 lots, 150).
        assert_eq!(dydx_random_start(&s), vec![(key(3), 5, 150), (key(1), 5, 150)]);
        let o = outcome("d", &s, &dydx_random_start(&s));
        // C lost 50 already: all 150 is principal. A's profit on 5 lots is 100: 50 beyond.
        assert_eq!((o.taken, o.over_cut, o.losers_or_flat_charged, o.principal_beyond_profit), (300, 100, 1, 200));
        assert_eq!(o.touched_at_most_2x, 1, "C at 1.67x");
    }

    #[test]
    fn pro_rata_over_winners_takes_at_most_their_profit() {
        let s = state();
        // Σ profit 180 < U: each pays all of it; 20 stays unpaid.
        assert_eq!(pro_rata_profit(&s), vec![(key(1), 0, 120), (key(2), 0, 60)]);
        let o = outcome("p", &s, &pro_rata_profit(&s));
        assert_eq!((o.taken, o.over_cut, o.principal_beyond_profit), (180, -20, 0));
        // With U = 90: 60 and 30.
        let s = AdlState { uncovered: 90, ..state() };
        assert_eq!(pro_rata_profit(&s), vec![(key(1), 0, 60), (key(2), 0, 30)]);
    }

    #[test]
    fn socialization_charges_both_sides_and_the_maker() {
        let s = state();
        // 24 lots open: 200·6/24 = 50, 50, 200·5/24 = 41, 200·7/24 = 58; the atom left goes
        // to the largest position, M.
        assert_eq!(socialized(&s), vec![(key(1), 0, 50), (key(2), 0, 50), (key(3), 0, 41), (key(9), 0, 59)]);
        let o = outcome("s", &s, &socialized(&s));
        assert_eq!((o.taken, o.over_cut, o.accounts_touched, o.touched_at_most_2x), (200, 0, 4, 3));
        // C (a loser) pays 41 of principal; M pays 59 on a profit of 35: 24 beyond.
        assert_eq!((o.principal_beyond_profit, o.losers_or_flat_charged, o.makers_lost), (65, 1, 59));
    }

    #[test]
    fn bulwark_cuts_exactly_u_from_profit() {
        let s = AdlState { uncovered: 150, ..state() };
        // U/q = 15 a lot: A pays 90 for its 6 lots (profit 120), B 60 for 4 (profit 40 on
        // them: the program would cap at 40; here the fills say what it did).
        let fills = vec![(key(1), 6, 90), (key(2), 4, 40)];
        let o = outcome(BULWARK, &s, &fills);
        assert_eq!((o.taken, o.over_cut, o.principal_beyond_profit), (130, -20, 0));
    }

    #[test]
    fn rounding_never_loses_an_atom() {
        assert_eq!(pro_rata(10, &[1, 1, 1]), vec![4, 3, 3]);
        assert_eq!(pro_rata(0, &[5, 5]), vec![0, 0]);
        assert_eq!(pro_rata(7, &[0, 0]), vec![0, 0]);
        assert_eq!(pro_rata(1, &[2, 5, 5]).iter().sum::<u128>(), 1);
    }
}
