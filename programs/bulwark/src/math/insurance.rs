//! Insurance vault shares (DESIGN.md §8). Shares are claims on the vault balance: fee income
//! raises every share's value, payouts lower it. Amounts paid out round down, shares issued
//! round down, so rounding always stays in the vault.

use crate::math::safe::{to_u64, MathResult, SafeMath};

/// Shares issued for a stake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StakeQuote {
    pub shares: u64,
    /// Shares minted to nobody for income the vault earned before it had any stakers: that
    /// balance stays in the vault for good instead of going to the first staker.
    pub unowned_shares: u64,
}

/// Shares for staking `amount` into a vault holding `balance` with `total_shares` issued.
/// `None` when no shares can be issued: a vault whose stakers were wiped out (balance 0,
/// shares outstanding) or an amount worth less than one share.
pub fn stake_quote(amount: u64, balance: u64, total_shares: u64) -> MathResult<Option<StakeQuote>> {
    if total_shares == 0 {
        // One share per atom: lock what is already there as unowned shares at that price.
        return Ok((amount > 0).then_some(StakeQuote { shares: amount, unowned_shares: balance }));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_staker_does_not_take_earlier_income() {
        let q = stake_quote(1_000, 40, 0).unwrap().unwrap();
        assert_eq!(q, StakeQuote { shares: 1_000, unowned_shares: 40 });
        // Vault now 1,040 with 1,040 shares: the staker redeems exactly its 1,000.
        assert_eq!(redeem_amount(1_000, 1_040, 1_040).unwrap(), 1_000);
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
}
