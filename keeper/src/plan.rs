//! What to crank, decided from one snapshot with the program's own math. Pure: the executor
//! turns each `Action` into instructions and sends it.

use anchor_lang::prelude::Pubkey;
use bulwark::constants::MAX_POSITIONS;
use bulwark::controller::pricing::MarketPrice;
use bulwark::controller::waterfall::adl_eligibility;
use bulwark::math::liquidation::{band_limit_ticks, is_liquidatable};
use bulwark::math::margin::Health;
use bulwark::math::perp::base_value;
use bulwark::state::{
    MarginAccount, ACCOUNT_FLAG_BEING_LIQUIDATED, MARKET_STATUS_ACTIVE, MARKET_STATUS_REDUCE_ONLY,
    MARKET_STATUS_SETTLING, SIDE_ASK, SIDE_BID,
};
use bulwark_sdk::adl::{rank_counterparties, RankedCounterparty};
use bulwark_sdk::book::{expired_makers, makers_within, MAX_MAKER_ACCOUNTS};

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
    /// Nobody can close it now: record it, so the ADL grace clock starts.
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

    /// Label for metrics and logs.
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

/// Everything due in this snapshot, most urgent first: ADL and liquidations, then funding,
/// then pruning.
pub fn plan(snapshot: &Snapshot, options: &PlanOptions) -> Vec<Action> {
    let prices = snapshot.prices();
    let mut risk = Vec::new();
    for (key, account) in &snapshot.accounts {
        if account.open_positions().all(|p| p.base_lots == 0) {
            continue;
        }
        let Some(h) = health(account, &prices) else { continue };
        // The program's own test: below maintenance, or flagged and not yet back to the buffer.
        let flagged = account.status_flags & ACCOUNT_FLAG_BEING_LIQUIDATED != 0;
        let buffer = snapshot.clearinghouse.waterfall.liquidation_buffer_bps;
        if !is_liquidatable(&h, flagged, buffer).unwrap_or(false) {
            continue;
        }
        if let Some(action) = plan_unhealthy(snapshot, options, key, account, &prices, &h) {
            risk.push(action);
        }
    }
    // Deepest trouble first: ADL before liquidation.
    risk.sort_by_key(|a| !matches!(a, Action::Adl { .. }));
    risk.extend(plan_upkeep(snapshot));
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

fn plan_unhealthy(
    snapshot: &Snapshot,
    options: &PlanOptions,
    key: &Pubkey,
    account: &MarginAccount,
    prices: &[MarketPrice],
    health: &Health,
) -> Option<Action> {
    let (equity, meets_maintenance) = (health.equity, health.meets_maintenance());
    let ch = &snapshot.clearinghouse;
    let adl_ok = adl_eligibility(
        equity,
        meets_maintenance,
        ch.insurance_balance,
        account.liquidatable_since_slot,
        account.liquidatable_seen_slot,
        ch.waterfall.adl_grace_slots,
        snapshot.clock.slot,
    )
    .is_ok();
    let positions = positions_by_notional(account, prices);
    let status = |index: u16| snapshot.market(index).map(|m| m.market.status);
    if adl_ok {
        // Deleverage the first market (largest first) that has counterparties in profit.
        for &(market_index, lots) in &positions {
            if !matches!(
                status(market_index),
                Some(MARKET_STATUS_ACTIVE | MARKET_STATUS_REDUCE_ONLY | MARKET_STATUS_SETTLING)
            ) {
                continue;
            }
            let ranked =
                rank_counterparties(key, lots, market_index, snapshot.accounts.iter().map(|(k, a)| (k, a)), prices);
            let wanted = match options.adl_max_lots {
                0 => lots.unsigned_abs(),
                max => max.min(lots.unsigned_abs()),
            };
            let counterparties = within_price_limit(snapshot, account, market_index, select(&ranked, wanted));
            if !counterparties.is_empty() {
                return Some(Action::Adl { target: *key, market_index, counterparties });
            }
        }
        return None;
    }
    if *key == options.keeper_account {
        return None; // the program refuses self-liquidation; another keeper's job
    }
    for &(market_index, lots) in &positions {
        let Some(view) = snapshot.market(market_index) else { continue };
        if !matches!(view.market.status, MARKET_STATUS_ACTIVE | MARKET_STATUS_REDUCE_ONLY) {
            continue;
        }
        if options.takeover {
            return Some(Action::Takeover { target: *key, market_index });
        }
        // The close sells a long into the bids, buys a short from the asks, within the band.
        let selling = lots > 0;
        let taker_side = if selling { SIDE_ASK } else { SIDE_BID };
        let (Some(book), Some(price)) = (view.book.as_ref(), view.price) else { continue };
        let tick = view.market.params.tick_size;
        let (Ok(limit), Ok(floor)) = (
            band_limit_ticks(price.price, tick, ch.waterfall.book_liquidation_band_bps, selling),
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
    // Nobody can close it now: record it so the ADL grace clock runs, and keep recording it
    // (the program restarts the clock when sightings are more than a grace period apart).
    let slot = snapshot.clock.slot;
    let grace = snapshot.clearinghouse.waterfall.adl_grace_slots;
    let stale_sighting = slot.saturating_sub(account.liquidatable_seen_slot) >= grace / 2;
    (account.liquidatable_since_slot == 0 || stale_sighting).then_some(Action::FlagLiquidatable { target: *key })
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

/// Counterparties covering `lots`, at most the program's limit, best first.
fn select(ranked: &[RankedCounterparty], lots: u64) -> Vec<Pubkey> {
    bulwark_sdk::adl::select(ranked, lots)
}

fn plan_upkeep(snapshot: &Snapshot) -> Vec<Action> {
    let now = snapshot.clock.unix_timestamp;
    let mut out = Vec::new();
    for view in &snapshot.markets {
        let m = &view.market;
        let tradable = matches!(m.status, MARKET_STATUS_ACTIVE | MARKET_STATUS_REDUCE_ONLY);
        let period = m.params.funding_period_seconds;
        if tradable && view.price.is_some() && period > 0 && now.saturating_sub(m.last_funding_unix) >= period {
            out.push(Action::Funding { market_index: m.index });
        }
        if let Some(book) = &view.book {
            let makers = expired_makers(book, now, MAX_MAKER_ACCOUNTS);
            if !makers.is_empty() {
                out.push(Action::Prune { market_index: m.index, makers });
            }
        }
    }
    out
}
