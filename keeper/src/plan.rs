//! What to crank, decided from one snapshot with the program's own math. Pure: the executor
//! turns each `Action` into instructions and sends it.

use anchor_lang::prelude::Pubkey;
use bulwark::constants::{ADL_QUEUE_LEN, MAX_ADL_COUNTERPARTIES, MAX_POSITIONS, MAX_PRUNES_PER_CALL};
use bulwark::controller::adl::market_shortfall;
use bulwark::controller::pricing::MarketPrice;
use bulwark::controller::waterfall::adl_eligibility;
use bulwark::math::adl::shortfall;
use bulwark::math::liquidation::{
    band_limit_ticks, book_close_cost_bps, book_liquidation_limit_ticks, is_liquidatable, liquidation_lots,
};
use bulwark::math::margin::Health;
use bulwark::math::perp::base_value;
use bulwark::state::{
    AdlRound, MarginAccount, ACCOUNT_FLAG_BEING_LIQUIDATED, MARKET_STATUS_ACTIVE, MARKET_STATUS_REDUCE_ONLY,
    MARKET_STATUS_SETTLING, SIDE_ASK, SIDE_BID,
};
use bulwark_sdk::adl::{rank_counterparties, RankedCounterparty};
use bulwark_sdk::book::{makers_within, prunable_makers, resting_band_ticks};

use crate::snapshot::{health, Snapshot};

/// Identifies a crank for the in-flight map: two cranks with the same key are the same crank.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActionKey {
    Liquidate(Pubkey),
    FlagLiquidatable(Pubkey),
    /// One ADL round: a target in a market.
    Adl(Pubkey, u16),
    Funding(u16),
    Prune(u16),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Take the position into the keeper's own account at the oracle.
    Takeover {
        target: Pubkey,
        market_index: u16,
    },
    /// Close against the book; `makers` in book order.
    BookLiquidation {
        target: Pubkey,
        market_index: u16,
        makers: Vec<Pubkey>,
    },
    /// `update_liquidation_status`: nobody can close it now, so record it and the ADL grace
    /// clock starts; or it is healthy again with the clock still set, so clear it.
    FlagLiquidatable {
        target: Pubkey,
    },
    /// Open an ADL round on `target` in `market_index` and, in the same transaction, nominate
    /// `nominees` (the keeper's ranking, best first; may be empty).
    AdlBegin {
        target: Pubkey,
        market_index: u16,
        nominees: Vec<Pubkey>,
    },
    /// Nominate `nominees` to the round while its window is open.
    AdlNominate {
        target: Pubkey,
        market_index: u16,
        nominees: Vec<Pubkey>,
    },
    /// Execute the round after its window against `queued`, the queue's first entries (empty:
    /// the queue is, and the window reopens; or the round closes).
    AdlExecute {
        target: Pubkey,
        market_index: u16,
        opener: Pubkey,
        queued: Vec<Pubkey>,
    },
    Funding {
        market_index: u16,
    },
    /// Remove expired orders and orders resting outside the band.
    Prune {
        market_index: u16,
        makers: Vec<Pubkey>,
    },
}

impl Action {
    pub fn key(&self) -> ActionKey {
        match self {
            Self::Takeover { target, .. } | Self::BookLiquidation { target, .. } => ActionKey::Liquidate(*target),
            Self::FlagLiquidatable { target } => ActionKey::FlagLiquidatable(*target),
            Self::AdlBegin { target, market_index, .. }
            | Self::AdlNominate { target, market_index, .. }
            | Self::AdlExecute { target, market_index, .. } => ActionKey::Adl(*target, *market_index),
            Self::Funding { market_index } => ActionKey::Funding(*market_index),
            Self::Prune { market_index, .. } => ActionKey::Prune(*market_index),
        }
    }

    /// The account a liquidation, status update or ADL is about.
    pub fn target(&self) -> Option<Pubkey> {
        match self {
            Self::Takeover { target, .. }
            | Self::BookLiquidation { target, .. }
            | Self::FlagLiquidatable { target }
            | Self::AdlBegin { target, .. }
            | Self::AdlNominate { target, .. }
            | Self::AdlExecute { target, .. } => Some(*target),
            Self::Funding { .. } | Self::Prune { .. } => None,
        }
    }

    pub fn is_adl(&self) -> bool {
        matches!(self, Self::AdlBegin { .. } | Self::AdlNominate { .. } | Self::AdlExecute { .. })
    }

    /// The Bulwark instructions the crank runs, as the program logs them: the keys of their
    /// compute budgets (`bulwark_sdk::compute`).
    pub fn instruction_names(&self) -> Vec<&'static str> {
        match self {
            Self::Takeover { .. } => vec!["LiquidateTakeover"],
            Self::BookLiquidation { .. } => vec!["LiquidateAgainstBook"],
            Self::FlagLiquidatable { .. } => vec!["UpdateLiquidationStatus"],
            Self::AdlBegin { nominees, .. } if nominees.is_empty() => vec!["BeginAdl"],
            Self::AdlBegin { .. } => vec!["BeginAdl", "NominateAdl"],
            Self::AdlNominate { .. } => vec!["NominateAdl"],
            Self::AdlExecute { .. } => vec!["ExecuteAdl"],
            Self::Funding { .. } => vec!["UpdateFunding"],
            Self::Prune { .. } => vec!["PruneExpiredOrders"],
        }
    }

    /// Label for metrics and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Takeover { .. } => "liquidate_takeover",
            Self::BookLiquidation { .. } => "liquidate_against_book",
            Self::FlagLiquidatable { .. } => "update_liquidation_status",
            Self::AdlBegin { .. } => "begin_adl",
            Self::AdlNominate { .. } => "nominate_adl",
            Self::AdlExecute { .. } => "execute_adl",
            Self::Funding { .. } => "update_funding",
            Self::Prune { .. } => "prune_expired_orders",
        }
    }
}

/// What the planner needs to know about the keeper itself.
#[derive(Clone, Copy, Debug)]
pub struct PlanOptions {
    pub keeper_account: Pubkey,
    pub takeover: bool,
    /// With `--defend`, the owner whose margin accounts the keeper defends: while one of them is
    /// queued in an ADL round, every winner ranked above it that is not queued is nominated,
    /// so the winners ahead of it pay first.
    pub defend_owner: Option<Pubkey>,
}

/// What the program refused earlier, so the plan routes around it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Avoid {
    /// Targets the keeper's account could not take over (`LiquidatorInsufficientMargin`):
    /// they are closed against the book instead.
    pub takeover: Vec<Pubkey>,
    /// `(target, winner)`: a nomination for the target that named these was refused (the
    /// program saw the winner differently); the next plan leaves them out.
    pub adl_counterparties: Vec<(Pubkey, Pubkey)>,
}

/// Everything due in this snapshot, most urgent first: ADL and liquidations, then funding,
/// then pruning.
pub fn plan(snapshot: &Snapshot, options: &PlanOptions) -> Vec<Action> {
    plan_with(snapshot, options, &Avoid::default())
}

/// `plan`, routing around what `avoid` names.
pub fn plan_with(snapshot: &Snapshot, options: &PlanOptions, avoid: &Avoid) -> Vec<Action> {
    let (mut actions, stale_clocks) = plan_accounts(snapshot, options, avoid, None);
    actions.extend(plan_upkeep(snapshot));
    actions.extend(stale_clocks);
    actions
}

/// What `plan_with` would do about one account (its liquidation, status, ADL rounds) alone:
/// the re-plan after a crank lands, without ranking every other target again.
pub fn plan_for(snapshot: &Snapshot, options: &PlanOptions, avoid: &Avoid, target: &Pubkey) -> Vec<Action> {
    let (mut actions, stale_clocks) = plan_accounts(snapshot, options, avoid, Some(target));
    actions.extend(stale_clocks);
    actions
}

/// The risk actions (ADL first) and the status updates of accounts healthy again, for every
/// account or only `only`.
fn plan_accounts(
    snapshot: &Snapshot,
    options: &PlanOptions,
    avoid: &Avoid,
    only: Option<&Pubkey>,
) -> (Vec<Action>, Vec<Action>) {
    let prices = snapshot.prices();
    let buffer = snapshot.clearinghouse.waterfall.liquidation_buffer_bps;
    let mut risk = Vec::new();
    let mut stale_clocks = Vec::new();
    let accounts: Vec<&(Pubkey, MarginAccount)> = match only {
        Some(key) => snapshot.accounts.iter().filter(|(k, _)| k == key).collect(),
        None => snapshot.accounts.iter().collect(),
    };
    for (key, account) in accounts {
        let Some(h) = health(account, &prices) else { continue };
        // The program's own test: below maintenance, or flagged and not yet back to the buffer.
        let flagged = account.status_flags & ACCOUNT_FLAG_BEING_LIQUIDATED != 0;
        if !is_liquidatable(&h, flagged, buffer).unwrap_or(false) {
            // Healthy again with the grace clock still running: clear it, so an old clock
            // cannot make a later dip ADL-eligible at once.
            if account.liquidatable_since_slot != 0 {
                stale_clocks.push(Action::FlagLiquidatable { target: *key });
            }
            continue;
        }
        if account.open_positions().all(|p| p.base_lots == 0) {
            continue;
        }
        if let Some(action) = plan_unhealthy(snapshot, options, avoid, key, account, &prices, &h) {
            risk.push(action);
        }
    }
    // Every round whose window has closed is executed, whatever the target's state now: the
    // program fills it, restarts it at a new price, reopens its window or closes it.
    for (_, round) in &snapshot.adl_rounds {
        if snapshot.clock.slot > round.window_end_slot && only.is_none_or(|k| *k == round.target) {
            if let Some(action) = plan_execute(snapshot, round) {
                risk.push(action);
            }
        }
    }
    // Deepest trouble first: ADL before liquidation.
    risk.sort_by_key(|a| !a.is_adl());
    (risk, stale_clocks)
}

/// `(market index, base lots)` of each open position, largest notional first.
fn positions_by_notional(account: &MarginAccount, prices: &[MarketPrice]) -> Vec<(u16, i64)> {
    let mut positions: Vec<(i128, u16, i64)> = account
        .open_positions()
        .filter(|p| p.base_lots != 0)
        .filter_map(|p| {
            let m = prices.iter().find(|m| m.index == p.market_index)?;
            let notional = base_value(p.base_lots, m.price, &m.spec).ok()?.abs();
            Some((notional, p.market_index, p.base_lots))
        })
        .collect();
    positions.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    positions.into_iter().map(|(_, index, lots)| (index, lots)).collect()
}

/// A liquidatable account: ADL when its deficit is more than insurance holds (a liquidation
/// could only deepen it, and the program refuses that); otherwise a liquidation while anyone
/// can take it (takeover, or the book within the band), ADL only when the grace clock has run
/// out and nothing else can close it, and a status update to start the clock when nothing can.
fn plan_unhealthy(
    snapshot: &Snapshot,
    options: &PlanOptions,
    avoid: &Avoid,
    key: &Pubkey,
    account: &MarginAccount,
    prices: &[MarketPrice],
    health: &Health,
) -> Option<Action> {
    let ch = &snapshot.clearinghouse;
    let adl_ok = adl_eligibility(
        health.equity,
        health.meets_maintenance(),
        ch.insurance_available(),
        account.liquidatable_since_slot,
        account.liquidatable_seen_slot,
        ch.waterfall.adl_grace_slots,
        snapshot.clock.slot,
    )
    .is_ok();
    let positions = positions_by_notional(account, prices);
    let insurance_short = shortfall(health.equity, ch.insurance_available()).uncovered > 0;
    if adl_ok && insurance_short {
        return plan_adl(snapshot, options, avoid, key, account, prices, &positions);
    }
    if let Some(liquidation) = plan_liquidation(snapshot, options, avoid, key, health, &positions) {
        return Some(liquidation);
    }
    if adl_ok {
        return plan_adl(snapshot, options, avoid, key, account, prices, &positions);
    }
    // Nobody can close it now: record it so the ADL grace clock runs, and keep recording it
    // (the program restarts the clock when sightings are more than a grace period apart).
    let grace = ch.waterfall.adl_grace_slots;
    let stale_sighting = snapshot.clock.slot.saturating_sub(account.liquidatable_seen_slot) >= grace / 2;
    (account.liquidatable_since_slot == 0 || stale_sighting).then_some(Action::FlagLiquidatable { target: *key })
}

/// ADL of the first market (largest first) the keeper can move: open a round there with the
/// keeper's nominations, or, while a round's window is open, nominate the winners it still
/// needs (and, defending, everyone ranked above a defended account). A round whose window has
/// closed is executed by `plan_with`.
fn plan_adl(
    snapshot: &Snapshot,
    options: &PlanOptions,
    avoid: &Avoid,
    key: &Pubkey,
    account: &MarginAccount,
    prices: &[MarketPrice],
    positions: &[(u16, i64)],
) -> Option<Action> {
    for &(market_index, lots) in positions {
        let status = snapshot.market(market_index).map(|m| m.market.status);
        if !matches!(status, Some(MARKET_STATUS_ACTIVE | MARKET_STATUS_REDUCE_ONLY | MARKET_STATUS_SETTLING)) {
            continue;
        }
        let round = snapshot.adl_round(market_index, key);
        if round.is_some_and(|r| snapshot.clock.slot > r.window_end_slot) {
            continue; // executed by `plan_with`
        }
        let mut ranked =
            rank_counterparties(key, lots, market_index, snapshot.accounts.iter().map(|(k, a)| (k, a)), prices);
        ranked.retain(|c| !avoid.adl_counterparties.contains(&(*key, c.margin_account)));
        let nominees = nominations(snapshot, options, account, market_index, lots, round, &ranked);
        match round {
            None if !ranked.is_empty() => return Some(Action::AdlBegin { target: *key, market_index, nominees }),
            Some(_) if !nominees.is_empty() => {
                return Some(Action::AdlNominate { target: *key, market_index, nominees })
            }
            _ => {}
        }
    }
    None
}

/// Whom to nominate, best first, at most one call's worth: the ranked winners not yet queued
/// until the queue holds enough lots to close the target's, and, defending, every winner
/// ranked above a queued account of the defended owner. Only winners that would enter the
/// queue (it is not full, or they rank above its last entry) and whose markets fit one call.
fn nominations(
    snapshot: &Snapshot,
    options: &PlanOptions,
    target: &MarginAccount,
    market_index: u16,
    target_lots: i64,
    round: Option<&AdlRound>,
    ranked: &[RankedCounterparty],
) -> Vec<Pubkey> {
    let queue = round.map(|r| r.queue()).unwrap_or(&[]);
    let queued = |k: &Pubkey| queue.iter().any(|n| n.margin_account == *k);
    let lots_of = |k: &Pubkey| {
        snapshot
            .account(k)
            .and_then(|a| a.open_positions().find(|p| p.market_index == market_index))
            .map_or(0, |p| p.base_lots.unsigned_abs())
    };
    // The shortfall still to hand out per lot, at the round's price (or today's, before one).
    let Some(market_price) = snapshot.market(market_index).and_then(|m| m.price) else { return Vec::new() };
    let (price, remaining, uncovered_left) = match round {
        Some(r) => (r.price, r.remaining_lots, r.uncovered_left as u128),
        None => {
            let prices = snapshot.prices();
            let insurance = snapshot.clearinghouse.insurance_available();
            let Ok(share) = market_shortfall(target, market_index, market_price.price, &prices, insurance) else {
                return Vec::new();
            };
            (market_price.price, target_lots.unsigned_abs(), share.market_uncovered)
        }
    };
    // A winner's lots count toward the close only when its profit per lot covers that rate: a
    // capped one passes part of its share on, so someone after it must take lots too.
    let pays_in_full = |k: &Pubkey| {
        let Some(position) =
            snapshot.account(k).and_then(|a| a.open_positions().find(|p| p.market_index == market_index))
        else {
            return false;
        };
        let Ok(value) = base_value(position.base_lots, price, &market_price.spec) else { return false };
        let upnl = value + position.quote_entry as i128;
        upnl > 0
            && (upnl as u128).saturating_mul(remaining as u128)
                >= uncovered_left.saturating_mul(position.base_lots.unsigned_abs() as u128)
    };
    let mut covered: u64 =
        queue.iter().filter(|n| pays_in_full(&n.margin_account)).map(|n| lots_of(&n.margin_account)).sum();
    // The lowest-ranked defended account queued: everyone ranked above it should pay first.
    let defended_score = options.defend_owner.and_then(|owner| {
        queue
            .iter()
            .filter(|n| snapshot.account(&n.margin_account).is_some_and(|a| a.owner == owner))
            .map(|n| n.score.get())
            .min()
    });
    let full_floor = (queue.len() >= ADL_QUEUE_LEN).then(|| queue.last().map(|n| n.score.get())).flatten();
    let mut chosen = Vec::new();
    for candidate in ranked {
        let needed = covered < remaining;
        let defends = defended_score.is_some_and(|d| candidate.score > d);
        // Ranked: once nothing is needed and nobody left ranks above a defended account, or a
        // full queue would refuse the rest, or one call's worth is chosen, stop.
        if chosen.len() >= MAX_ADL_COUNTERPARTIES
            || (!needed && !defends)
            || full_floor.is_some_and(|floor| candidate.score <= floor)
        {
            break;
        }
        if queued(&candidate.margin_account) {
            continue;
        }
        chosen.push(candidate.margin_account);
        if pays_in_full(&candidate.margin_account) {
            covered = covered.saturating_add(candidate.base_lots.unsigned_abs());
        }
    }
    within_price_limit(snapshot, target, market_index, chosen, false)
}

/// Execute `round` against the queue's head: as many entries as one call takes whose markets,
/// with the target's, fit its price pairs.
fn plan_execute(snapshot: &Snapshot, round: &AdlRound) -> Option<Action> {
    let view = snapshot.markets.iter().find(|m| m.keys.key == round.market)?;
    let target = snapshot.account(&round.target)?;
    let head: Vec<Pubkey> = round.queue().iter().take(MAX_ADL_COUNTERPARTIES).map(|n| n.margin_account).collect();
    let queued = within_price_limit(snapshot, target, view.market.index, head, true);
    Some(Action::AdlExecute { target: round.target, market_index: view.market.index, opener: round.opener, queued })
}

/// A takeover (when configured and not refused before), else a close against the book when a
/// live order within the band can fill.
fn plan_liquidation(
    snapshot: &Snapshot,
    options: &PlanOptions,
    avoid: &Avoid,
    key: &Pubkey,
    health: &Health,
    positions: &[(u16, i64)],
) -> Option<Action> {
    if *key == options.keeper_account {
        return None; // the program refuses self-liquidation; another keeper's job
    }
    let ch = &snapshot.clearinghouse;
    for &(market_index, lots) in positions {
        let Some(view) = snapshot.market(market_index) else { continue };
        if !matches!(view.market.status, MARKET_STATUS_ACTIVE | MARKET_STATUS_REDUCE_ONLY) {
            continue;
        }
        if options.takeover && !avoid.takeover.contains(key) {
            return Some(Action::Takeover { target: *key, market_index });
        }
        // The close sells a long into the bids, buys a short from the asks, within the band.
        let selling = lots > 0;
        let taker_side = if selling { SIDE_ASK } else { SIDE_BID };
        let (Some(book), Some(price)) = (view.book.as_ref(), view.price) else { continue };
        let tick = view.market.params.tick_size;
        // The program's limit: the band, tightened to where the close makes no deficit (for
        // the lots it will size: the same sizing function, at the band's worst price).
        let params = &view.market.params;
        let close_cost = book_close_cost_bps(
            ch.waterfall.book_liquidation_band_bps,
            params.liquidation_fee_bps,
            params.taker_fee_bps,
        );
        let notional = base_value(lots, price.price, &price.spec).map(|v| v.abs()).unwrap_or(0);
        let sized = liquidation_lots(
            health,
            ch.waterfall.liquidation_buffer_bps,
            lots.unsigned_abs(),
            notional,
            params.maintenance_margin_bps,
            close_cost,
        )
        .unwrap_or(lots.unsigned_abs())
        .max(params.min_order_lots)
        .min(lots.unsigned_abs());
        let (Ok(limit), Ok(floor)) = (
            book_liquidation_limit_ticks(
                price.price,
                ch.waterfall.book_liquidation_band_bps,
                health.equity,
                sized,
                params.taker_fee_bps,
                selling,
                &price.spec,
            ),
            // Orders better than the oracle by more than the fill band are cancelled, not filled.
            band_limit_ticks(price.price, tick, ch.waterfall.max_fill_deviation_bps, !selling),
        ) else {
            continue;
        };
        let makers = makers_within(book, taker_side, key, snapshot.clock.unix_timestamp, floor, limit);
        if !makers.is_empty() {
            return Some(Action::BookLiquidation { target: *key, market_index, makers });
        }
    }
    None
}

/// Keep counterparties while the markets they (and, `with_target`, the target) hold besides
/// this one still fit the program's limit of price pairs per instruction.
fn within_price_limit(
    snapshot: &Snapshot,
    target: &MarginAccount,
    market_index: u16,
    candidates: Vec<Pubkey>,
    with_target: bool,
) -> Vec<Pubkey> {
    let mut markets: Vec<u16> = Vec::new();
    let add = |account: &MarginAccount, markets: &mut Vec<u16>| {
        let mut next = markets.clone();
        for p in account.open_positions() {
            if p.market_index != market_index && !next.contains(&p.market_index) {
                next.push(p.market_index);
            }
        }
        let fits = next.len() <= MAX_POSITIONS;
        if fits {
            *markets = next;
        }
        fits
    };
    if with_target && !add(target, &mut markets) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for key in candidates {
        match snapshot.account(&key) {
            Some(account) if add(account, &mut markets) => out.push(key),
            _ => break, // order matters on chain: stop at the first that does not fit
        }
    }
    out
}

fn plan_upkeep(snapshot: &Snapshot) -> Vec<Action> {
    let now = snapshot.clock.unix_timestamp;
    let mut out = Vec::new();
    for view in &snapshot.markets {
        let m = &view.market;
        let tradable = matches!(m.status, MARKET_STATUS_ACTIVE | MARKET_STATUS_REDUCE_ONLY);
        let period = m.params.funding_period_seconds;
        // Funding accrues when a period is due; between due times the same crank samples the
        // mark, which a period needs `MIN_FUNDING_SAMPLES_PER_PERIOD` times to charge a premium.
        let due = now.saturating_sub(m.last_funding_unix) >= period;
        let sample_due = now.saturating_sub(m.twap_last_update_unix)
            >= (period / bulwark::constants::MIN_FUNDING_SAMPLES_PER_PERIOD as i64).max(1);
        if tradable && view.price.is_some() && period > 0 && (due || sample_due) {
            out.push(Action::Funding { market_index: m.index });
        }
        if let Some(book) = &view.book {
            // Expired orders, and orders resting outside the band around the oracle TWAP (the
            // program's reference for pruning).
            let fill_band = snapshot.clearinghouse.waterfall.max_fill_deviation_bps;
            let around =
                |price: i64| (price > 0).then(|| resting_band_ticks(price, m.params.tick_size, fill_band)).flatten();
            // The program prunes only outside both bands; their union is the keeper's band.
            let band = match (around(m.oracle_twap), around(m.last_oracle_sample)) {
                (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
                (a, b) => a.or(b),
            };
            let makers = prunable_makers(book, now, band, MAX_PRUNES_PER_CALL);
            if !makers.is_empty() {
                out.push(Action::Prune { market_index: m.index, makers });
            }
        }
    }
    out
}
