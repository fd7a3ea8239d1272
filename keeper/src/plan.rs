//! What to crank, decided from one snapshot with the program's own math. Pure: the executor
//! turns each `Action` into instructions and sends it.

use anchor_lang::prelude::Pubkey;
use bulwark::constants::{MAX_POSITIONS, MAX_PRUNES_PER_CALL};
use bulwark::controller::pricing::MarketPrice;
use bulwark::controller::waterfall::adl_eligibility;
use bulwark::math::adl::shortfall;
use bulwark::math::liquidation::{
    band_limit_ticks, book_close_cost_bps, book_liquidation_limit_ticks, is_liquidatable, liquidation_lots,
};
use bulwark::math::margin::Health;
use bulwark::math::perp::base_value;
use bulwark::state::{
    MarginAccount, ACCOUNT_FLAG_BEING_LIQUIDATED, MARKET_STATUS_ACTIVE, MARKET_STATUS_REDUCE_ONLY,
    MARKET_STATUS_SETTLING, SIDE_ASK, SIDE_BID,
};
use bulwark_sdk::adl::{rank_counterparties, simulate_fills};
use bulwark_sdk::book::{makers_within, prunable_makers, resting_band_ticks};

use crate::snapshot::{health, Snapshot};

/// Identifies a crank for the in-flight map: two cranks with the same key are the same crank.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActionKey {
    Liquidate(Pubkey),
    FlagLiquidatable(Pubkey),
    Adl(Pubkey),
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
    /// Deleverage against `counterparties` (ranked by the SDK, best first).
    Adl {
        target: Pubkey,
        market_index: u16,
        counterparties: Vec<Pubkey>,
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
            Self::Adl { target, .. } => ActionKey::Adl(*target),
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
            | Self::Adl { target, .. } => Some(*target),
            Self::Funding { .. } | Self::Prune { .. } => None,
        }
    }

    /// Label for metrics and logs.
    /// The instruction as the program logs it, the key of its compute budget
    /// (`bulwark_sdk::compute`).
    pub fn instruction_name(&self) -> &'static str {
        match self {
            Self::Takeover { .. } => "LiquidateTakeover",
            Self::BookLiquidation { .. } => "LiquidateAgainstBook",
            Self::FlagLiquidatable { .. } => "UpdateLiquidationStatus",
            Self::Adl { .. } => "AutoDeleverage",
            Self::Funding { .. } => "UpdateFunding",
            Self::Prune { .. } => "PruneExpiredOrders",
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Takeover { .. } => "liquidate_takeover",
            Self::BookLiquidation { .. } => "liquidate_against_book",
            Self::FlagLiquidatable { .. } => "update_liquidation_status",
            Self::Adl { .. } => "auto_deleverage",
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
    /// Lots per ADL crank (0: all).
    pub adl_max_lots: u64,
}

/// What the program refused earlier, so the plan routes around it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Avoid {
    /// Targets the keeper's account could not take over (`LiquidatorInsufficientMargin`):
    /// they are closed against the book instead.
    pub takeover: Vec<Pubkey>,
    /// `(target, counterparty)`: an ADL of the target that named these filled nothing
    /// (`AdlNoFill`); the next plan leaves them out.
    pub adl_counterparties: Vec<(Pubkey, Pubkey)>,
}

/// Everything due in this snapshot, most urgent first: ADL and liquidations, then funding,
/// then pruning.
pub fn plan(snapshot: &Snapshot, options: &PlanOptions) -> Vec<Action> {
    plan_with(snapshot, options, &Avoid::default())
}

/// `plan`, routing around what `avoid` names.
pub fn plan_with(snapshot: &Snapshot, options: &PlanOptions, avoid: &Avoid) -> Vec<Action> {
    let prices = snapshot.prices();
    let buffer = snapshot.clearinghouse.waterfall.liquidation_buffer_bps;
    let mut risk = Vec::new();
    let mut stale_clocks = Vec::new();
    for (key, account) in &snapshot.accounts {
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
    // Deepest trouble first: ADL before liquidation.
    risk.sort_by_key(|a| !matches!(a, Action::Adl { .. }));
    risk.extend(plan_upkeep(snapshot));
    risk.extend(stale_clocks);
    risk
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
        ch.insurance_balance,
        account.liquidatable_since_slot,
        account.liquidatable_seen_slot,
        ch.waterfall.adl_grace_slots,
        snapshot.clock.slot,
    )
    .is_ok();
    let positions = positions_by_notional(account, prices);
    let insurance_short = shortfall(health.equity, ch.insurance_balance).uncovered > 0;
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

/// Deleverage the first market (largest first) with counterparties the program would fill.
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
        let mut ranked =
            rank_counterparties(key, lots, market_index, snapshot.accounts.iter().map(|(k, a)| (k, a)), prices);
        ranked.retain(|c| !avoid.adl_counterparties.contains(&(*key, c.margin_account)));
        let fills = simulate_fills(
            account,
            market_index,
            options.adl_max_lots,
            &ranked,
            |k| snapshot.account(k),
            prices,
            snapshot.clearinghouse.insurance_balance,
        );
        let chosen = fills.iter().map(|f| f.counterparty).collect();
        let counterparties = within_price_limit(snapshot, account, market_index, chosen);
        if !counterparties.is_empty() {
            return Some(Action::Adl { target: *key, market_index, counterparties });
        }
    }
    None
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

/// Keep counterparties while the markets they and the target hold (besides this one) still fit
/// the program's limit of price pairs per instruction.
fn within_price_limit(
    snapshot: &Snapshot,
    target: &MarginAccount,
    market_index: u16,
    candidates: Vec<Pubkey>,
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
    if !add(target, &mut markets) {
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
