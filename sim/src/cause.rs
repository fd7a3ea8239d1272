//! Why a liquidation happened: the market's move, or only the collateral's print.
//!
//! A liquidation is *caused by the collateral print* when the account would not have been
//! liquidatable had the collateral been valued at its attested redemption rate ("fair" prices).
//! "Liquidatable" is the program's own test (`is_liquidatable`): below maintenance, or flagged
//! and still under maintenance plus the liquidation buffer. So the fair test needs the flag the
//! account would carry at fair prices, not the one the program set at the prices in force: an
//! account flagged when a price move took it under maintenance stays liquidatable under the
//! buffer at fair prices too, and its close is price-driven even when, at that minute, it is
//! back above maintenance.
//!
//! The fair flag is tracked from the keeper's scans: set once a scan sees the account under
//! maintenance at fair prices, cleared once a scan sees it at or above the buffer there (where
//! a liquidation or status update would clear it). Each liquidation is judged on its own, on the
//! account as the scan of its keeper cycle saw it: a close a price move started can be followed
//! by one only the print keeps going, and the other way round.

use std::collections::BTreeSet;

use anchor_lang::prelude::Pubkey;
use anyhow::{anyhow, Result};
use bulwark::controller::pricing::MarketPrice;
use bulwark::math::liquidation::{is_liquidatable, meets_buffer};
use bulwark::state::MarginAccount;

/// Would `account` escape liquidation at `fair` prices, carrying `flagged_at_fair`?
pub fn print_caused(
    account: &MarginAccount,
    fair: &[MarketPrice],
    flagged_at_fair: bool,
    buffer_bps: u32,
) -> Result<bool> {
    let h = bulwark_sdk::health::health(account, fair).map_err(|e| anyhow!("fair health: {e}"))?;
    Ok(!is_liquidatable(&h, flagged_at_fair, buffer_bps).map_err(|e| anyhow!("fair health: {e:?}"))?)
}

/// The fair flags, across a run's scans.
#[derive(Default)]
pub struct CauseTracker {
    flagged_at_fair: BTreeSet<Pubkey>,
}

impl CauseTracker {
    /// One scan's view of an account, before the cranks of its cycle land.
    pub fn observe(&mut self, key: Pubkey, account: &MarginAccount, fair: &[MarketPrice], buffer_bps: u32) {
        // An account priced in a market the fair view lacks keeps its flag as it was.
        let Ok(h) = bulwark_sdk::health::health(account, fair) else { return };
        if !h.meets_maintenance() {
            self.flagged_at_fair.insert(key);
        } else if meets_buffer(&h, buffer_bps).unwrap_or(false) {
            self.flagged_at_fair.remove(&key);
        }
    }

    /// Whether a liquidation of `account` (as the cycle's scan saw it) was caused by the print.
    pub fn liquidation(
        &self,
        key: Pubkey,
        account: &MarginAccount,
        fair: &[MarketPrice],
        buffer_bps: u32,
    ) -> Result<bool> {
        print_caused(account, fair, self.flagged_at_fair.contains(&key), buffer_bps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulwark::state::{Market, PerpPosition, PodI128, ACCOUNT_FLAG_BEING_LIQUIDATED};

    const BUFFER_BPS: u32 = 2_000;

    /// One market: tick 1, 1 quote atom per lot-tick, 10% initial, 5% maintenance.
    fn market() -> Market {
        let mut m: Market = bytemuck::Zeroable::zeroed();
        m.params.tick_size = 1;
        m.params.initial_margin_bps = 1_000;
        m.params.maintenance_margin_bps = 500;
        m.quote_per_lot_tick = 1;
        m
    }

    /// A long of 10 lots entered at 100 (quote 1,000) on `balance` of collateral.
    fn long(balance: u64, flagged: bool) -> MarginAccount {
        let mut a: MarginAccount = bytemuck::Zeroable::zeroed();
        a.collateral_balance = balance;
        a.status_flags = if flagged { ACCOUNT_FLAG_BEING_LIQUIDATED } else { 0 };
        a.positions[0] = PerpPosition {
            market_index: 0,
            base_lots: 10,
            quote_entry: -1_000,
            last_cumulative_funding: PodI128::new(0),
            ..Default::default()
        };
        a
    }

    fn at(price: i64) -> Vec<MarketPrice> {
        vec![MarketPrice::new(&market(), price)]
    }

    // Balance 100, 10 lots: equity = 100 + 10·(p − 100), maintenance = 0.5·p, the buffer's
    // level 1.2 × maintenance. p = 92: equity 20 < 46, under maintenance. p = 95: equity 50 ≥
    // 47.5 meets maintenance, < 57 under the buffer. p = 98: equity 80 ≥ 58.8, above both.

    #[test]
    fn a_price_move_under_maintenance_is_price_driven() {
        let key = Pubkey::new_unique();
        let mut t = CauseTracker::default();
        let a = long(100, false);
        t.observe(key, &a, &at(92), BUFFER_BPS);
        assert!(!t.liquidation(key, &a, &at(92), BUFFER_BPS).unwrap());
    }

    #[test]
    fn an_account_healthy_at_the_redemption_rate_is_print_caused() {
        // At the print, the oracle in collateral is 92; at the redemption rate it is 98.
        let key = Pubkey::new_unique();
        let mut t = CauseTracker::default();
        let a = long(100, false);
        t.observe(key, &a, &at(98), BUFFER_BPS);
        assert!(t.liquidation(key, &a, &at(98), BUFFER_BPS).unwrap());
    }

    #[test]
    fn a_flagged_partial_close_under_the_buffer_keeps_the_price_move_as_its_cause() {
        // A scan saw the account under maintenance at 92 (at both valuations); the program
        // flagged it. The price bounced to 95, above maintenance but under the buffer: the
        // flagged account is liquidatable at fair prices too. Judged by maintenance alone, as an
        // unflagged account, this close would be called print-caused.
        let key = Pubkey::new_unique();
        let mut t = CauseTracker::default();
        t.observe(key, &long(100, false), &at(92), BUFFER_BPS);
        let flagged = long(100, true);
        t.observe(key, &flagged, &at(95), BUFFER_BPS);
        assert!(print_caused(&flagged, &at(95), false, BUFFER_BPS).unwrap(), "unflagged: not liquidatable at 95");
        assert!(!t.liquidation(key, &flagged, &at(95), BUFFER_BPS).unwrap());
    }

    #[test]
    fn a_flag_only_the_print_set_does_not_make_the_close_price_driven() {
        // The program flagged the account at the print's price; at the redemption rate it never
        // went under maintenance, so at fair prices it carries no flag and 95 is not liquidatable.
        let key = Pubkey::new_unique();
        let mut t = CauseTracker::default();
        let flagged = long(100, true);
        t.observe(key, &flagged, &at(98), BUFFER_BPS);
        t.observe(key, &flagged, &at(95), BUFFER_BPS);
        assert!(t.liquidation(key, &flagged, &at(95), BUFFER_BPS).unwrap());
    }

    #[test]
    fn the_fair_flag_clears_once_the_account_is_above_the_buffer_at_fair_prices() {
        let key = Pubkey::new_unique();
        let mut t = CauseTracker::default();
        t.observe(key, &long(100, false), &at(92), BUFFER_BPS);
        // Above the buffer at fair prices, even while the program (at the print) keeps its flag.
        t.observe(key, &long(100, true), &at(98), BUFFER_BPS);
        let flagged = long(100, true);
        t.observe(key, &flagged, &at(95), BUFFER_BPS);
        assert!(t.liquidation(key, &flagged, &at(95), BUFFER_BPS).unwrap());
    }

    #[test]
    fn each_liquidation_is_judged_on_its_own() {
        let key = Pubkey::new_unique();
        let mut t = CauseTracker::default();
        // The price move starts it: price-driven.
        t.observe(key, &long(100, false), &at(92), BUFFER_BPS);
        assert!(!t.liquidation(key, &long(100, true), &at(92), BUFFER_BPS).unwrap());
        // Back above the buffer at fair prices; only the print keeps the program's flag and the
        // closes going: print-caused.
        t.observe(key, &long(100, true), &at(98), BUFFER_BPS);
        assert!(t.liquidation(key, &long(100, true), &at(98), BUFFER_BPS).unwrap());
        // The other way round: a print-caused start, then a price move under maintenance.
        let other = Pubkey::new_unique();
        t.observe(other, &long(100, true), &at(98), BUFFER_BPS);
        assert!(t.liquidation(other, &long(100, true), &at(98), BUFFER_BPS).unwrap());
        t.observe(other, &long(100, true), &at(92), BUFFER_BPS);
        assert!(!t.liquidation(other, &long(100, true), &at(92), BUFFER_BPS).unwrap());
    }
}
