//! Insurance vault shares (DESIGN.md §8). Shares are claims on the vault balance: fee income
//! raises every share's value, payouts lower it. Amounts paid out round down, shares issued
//! round down, so rounding always stays in the vault.
//!
//! First-staker inflation: a first staker holding a handful of shares could push one share's
//! price up with income (its own trading fees) until a later stake rounds to few or no shares,
//! the rounding going to the first staker. Each share epoch therefore starts with
//! `INSURANCE_LOCKED_SHARES` unowned shares that never leave, paid from the first stake when the
//! vault does not already hold that much. We chose these locked shares over virtual
//! shares/assets in the price: redemptions stay exactly pro rata (virtual assets would let real
//! shares claim more than the real balance after a payout), one share per atom stays the unit
//! (u64 shares have no room for a large virtual offset), and the cost is one-off and small.
//! An attacker holding `a` shares keeps only `a / (a + locked)` of the income it pushes in, while
//! a later staker loses at most one share's price (≈ that income / (a + locked)) to rounding.

use crate::constants::{INSURANCE_LOCKED_SHARES, UNSTAKE_CLAIM_WINDOW_COOLDOWN_DIVISOR, UNSTAKE_CLAIM_WINDOW_SECONDS};
use crate::math::safe::{to_u64, MathResult, SafeMath};

/// Shares issued for a stake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StakeQuote {
    pub shares: u64,
    /// Shares minted to nobody when a share epoch starts: the income the vault earned before it
    /// had any stakers, topped up to `INSURANCE_LOCKED_SHARES` from the stake itself. That
    /// balance stays in the vault for good instead of going to the first staker.
    pub unowned_shares: u64,
}

/// Shares for staking `amount` into a vault holding `balance` with `total_shares` issued.
/// `None` when no shares can be issued: a first stake of an epoch that does not cover the
/// locked shares, a vault whose stakers were wiped out (balance 0, shares outstanding) or an
/// amount worth less than one share.
pub fn stake_quote(amount: u64, balance: u64, total_shares: u64) -> MathResult<Option<StakeQuote>> {
    if total_shares == 0 {
        // One share per atom: lock what is already there, at least `INSURANCE_LOCKED_SHARES`,
        // as unowned shares at that price; the stake pays for any top-up.
        let locked = balance.max(INSURANCE_LOCKED_SHARES);
        let shares = amount.saturating_sub(locked - balance);
        return Ok((shares > 0).then_some(StakeQuote { shares, unowned_shares: locked }));
    }
    if balance == 0 {
        return Ok(None);
    }
    let shares = to_u64((amount as u128).safe_mul(total_shares as u128)?.safe_div(balance as u128)?)?;
    Ok((shares > 0).then_some(StakeQuote { shares, unowned_shares: 0 }))
}

/// Tokens `shares` redeem for, rounded down.
pub fn redeem_amount(shares: u64, balance: u64, total_shares: u64) -> MathResult<u64> {
    if total_shares == 0 {
        return Ok(0);
    }
    to_u64((shares as u128).safe_mul(balance as u128)?.safe_div(total_shares as u128)?)
}

/// What an unstake claim pays: the requested shares' value now, but never more than their value
/// when the request was made. A payout during the cooldown hits the leaver; income after the
/// request stays in the vault for the stakers who remain.
pub fn unstake_claim_amount(request_value: u64, shares: u64, balance: u64, total_shares: u64) -> MathResult<u64> {
    Ok(redeem_amount(shares, balance, total_shares)?.min(request_value))
}

/// How long after its cooldown an unstake request may be claimed: `UNSTAKE_CLAIM_WINDOW_SECONDS`,
/// and at most `1 / UNSTAKE_CLAIM_WINDOW_COOLDOWN_DIVISOR` of the cooldown.
pub fn unstake_claim_window_seconds(cooldown_seconds: i64) -> i64 {
    // The divisor is a positive constant: the division cannot fail.
    UNSTAKE_CLAIM_WINDOW_SECONDS
        .min(cooldown_seconds.max(0).safe_div(UNSTAKE_CLAIM_WINDOW_COOLDOWN_DIVISOR).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCKED: u64 = INSURANCE_LOCKED_SHARES;

    #[test]
    fn first_staker_does_not_take_earlier_income() {
        // Income above the locked minimum is locked as it is: the stake pays nothing towards it.
        let q = stake_quote(5_000_000, 4_000_000, 0).unwrap().unwrap();
        assert_eq!(q, StakeQuote { shares: 5_000_000, unowned_shares: 4_000_000 });
        // Vault now 9,000,000 with 9,000,000 shares: the staker redeems exactly its 5,000,000.
        assert_eq!(redeem_amount(5_000_000, 9_000_000, 9_000_000).unwrap(), 5_000_000);
        // Income under the minimum is topped up from the stake: 40 atoms there, 999,960 paid in.
        let q = stake_quote(3_000_000, 40, 0).unwrap().unwrap();
        assert_eq!(q, StakeQuote { shares: 2_000_040, unowned_shares: LOCKED });
        // Vault 3,000,040 with as many shares: the staker redeems its stake less the top-up.
        assert_eq!(redeem_amount(2_000_040, 3_000_040, 3_000_040).unwrap(), 3_000_000 - 999_960);
    }

    #[test]
    fn a_first_stake_must_cover_the_locked_shares() {
        assert_eq!(stake_quote(LOCKED, 0, 0).unwrap(), None);
        assert_eq!(stake_quote(1, 0, 0).unwrap(), None);
        assert_eq!(stake_quote(LOCKED + 1, 0, 0).unwrap(), Some(StakeQuote { shares: 1, unowned_shares: LOCKED }));
        assert_eq!(stake_quote(LOCKED - 9, 10, 0).unwrap(), Some(StakeQuote { shares: 1, unowned_shares: LOCKED }));
    }

    #[test]
    fn income_and_payouts_move_share_value() {
        // 1,000 shares on 1,000; 100 of fees arrive: a new 1,100 stake gets 1,000 shares.
        assert_eq!(stake_quote(1_100, 1_100, 1_000).unwrap().unwrap().shares, 1_000);
        // A 600 payout leaves 1,600 for 2,000 shares: each 1,000 redeems 800.
        assert_eq!(redeem_amount(1_000, 1_600, 2_000).unwrap(), 800);
        // Rounding stays in the vault.
        assert_eq!(redeem_amount(1, 2, 3).unwrap(), 0);
        assert_eq!(stake_quote(2, 3, 1).unwrap(), None, "worth less than a share");
    }

    #[test]
    fn wiped_out_vault_issues_nothing() {
        assert_eq!(stake_quote(1_000, 0, 500).unwrap(), None);
        assert_eq!(stake_quote(0, 0, 0).unwrap(), None);
        assert_eq!(redeem_amount(500, 0, 500).unwrap(), 0);
    }

    /// The classic attack: stake 1 atom first, push a large income into the vault, and let a
    /// later stake round down to a fraction of its worth.
    #[test]
    fn first_staker_inflation_does_not_pay() {
        let income: u64 = 1_000_000_000_000; // $1M of fees (6 decimals) the attacker trades in
        let victim: u64 = 2_000_000_000_000 - 1;

        // Without locked shares (one share per atom, nothing locked) the attack works: the
        // attacker's 1 share is priced at 1e12 + 1 atoms, the victim's ~2e12 rounds to 1 share,
        // and the two shares split the pot evenly: the victim loses ~$500k to the attacker.
        let (mut balance, mut shares) = (1 + income, 1u64);
        let victim_shares = (victim as u128 * shares as u128 / balance as u128) as u64;
        assert_eq!(victim_shares, 1);
        (balance, shares) = (balance + victim, shares + victim_shares);
        let attacker_out = redeem_amount(1, balance, shares).unwrap();
        assert_eq!(attacker_out, 1_500_000_000_000);
        assert_eq!(redeem_amount(1, balance, shares).unwrap() as i128 - victim as i128, -499_999_999_999);
        assert_eq!(attacker_out as i128 - (1 + income) as i128, 499_999_999_999);
        // ... and a stake under one share's price would have been worth nothing at all.
        assert_eq!(stake_quote(income, 1 + income, 1).unwrap(), None);

        // Now: a 1-atom first stake is refused; the cheapest entry is one share above the lock.
        assert_eq!(stake_quote(1, 0, 0).unwrap(), None);
        let first = stake_quote(LOCKED + 1, 0, 0).unwrap().unwrap();
        assert_eq!((first.shares, first.unowned_shares), (1, LOCKED));
        let (mut balance, mut shares) = (LOCKED + 1 + income, LOCKED + 1);
        let quote = stake_quote(victim, balance, shares).unwrap().unwrap();
        assert_eq!(quote.shares, 1_999_999);
        (balance, shares) = (balance + victim, shares + quote.shares);
        // The victim loses under one share's price ($1), the attacker nearly all its income.
        let victim_out = redeem_amount(quote.shares, balance, shares).unwrap();
        assert_eq!(victim - victim_out, 333_333);
        let attacker_out = redeem_amount(1, balance, shares).unwrap();
        assert_eq!(attacker_out, 1_000_000);
        assert_eq!(attacker_out as i128 - (LOCKED + 1 + income) as i128, -1_000_000_000_001);
    }

    #[test]
    fn an_unstake_claim_pays_the_lower_of_request_and_claim_value() {
        // Requested at 1,000 for 1,000 of 2,000 shares; a payout halves the vault: pays 500.
        assert_eq!(unstake_claim_amount(1_000, 1_000, 1_000, 2_000).unwrap(), 500);
        // Income doubles it instead: still pays 1,000, the rest stays.
        assert_eq!(unstake_claim_amount(1_000, 1_000, 4_000, 2_000).unwrap(), 1_000);
    }

    #[test]
    fn the_claim_window_is_much_shorter_than_the_cooldown() {
        assert_eq!(unstake_claim_window_seconds(3_600), 900);
        assert_eq!(unstake_claim_window_seconds(13 * 86_400), UNSTAKE_CLAIM_WINDOW_SECONDS);
        for cooldown in [crate::constants::MIN_UNSTAKE_COOLDOWN_SECONDS, 7_200, 86_400, 30 * 86_400] {
            assert!(unstake_claim_window_seconds(cooldown) * UNSTAKE_CLAIM_WINDOW_COOLDOWN_DIVISOR <= cooldown);
        }
        assert_eq!(unstake_claim_window_seconds(-5), 0);
    }
}
