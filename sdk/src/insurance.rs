//! An insurance stake as a staker sees it: what its shares are worth, and where its unstake
//! request stands (cooling down, claimable and for how much, or lapsed), by the program's own
//! functions.

use bulwark::math::insurance::{redeem_amount, stake_quote, unstake_claim_amount, StakeQuote};
use bulwark::math::MathResult;
use bulwark::state::{Clearinghouse, InsuranceStake};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnstakeState {
    /// No request pending.
    None,
    /// Claimable from `available_unix`.
    CoolingDown,
    /// Claimable now, until `claim_deadline_unix`.
    Claimable,
    /// The claim window passed (or the request predates claim deadlines): request again.
    Lapsed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StakeView {
    pub shares: u64,
    /// What all the stake's shares redeem for now.
    pub value: u64,
    pub request: UnstakeState,
    pub request_shares: u64,
    /// The requested shares' value at the request: the most the claim pays.
    pub request_value: u64,
    /// What a claim would pay now: the lower of `request_value` and the shares' value now.
    pub claim_amount: u64,
    pub available_unix: i64,
    pub claim_deadline_unix: i64,
}

/// `stake` against `clearinghouse` at unix time `now` (shares of a wiped-out epoch count as none).
pub fn stake_view(stake: &InsuranceStake, clearinghouse: &Clearinghouse, now: i64) -> MathResult<StakeView> {
    let mut stake = *stake;
    stake.sync_epoch(clearinghouse.insurance_share_epoch);
    let (balance, total) = (clearinghouse.insurance_available(), clearinghouse.insurance_total_shares);
    let request = if stake.unstake_request_shares == 0 {
        UnstakeState::None
    } else if now < stake.unstake_available_unix {
        UnstakeState::CoolingDown
    } else if now <= stake.unstake_claim_deadline_unix {
        UnstakeState::Claimable
    } else {
        UnstakeState::Lapsed
    };
    Ok(StakeView {
        shares: stake.shares,
        value: redeem_amount(stake.shares, balance, total)?,
        request,
        request_shares: stake.unstake_request_shares,
        request_value: stake.unstake_request_value,
        claim_amount: unstake_claim_amount(stake.unstake_request_value, stake.unstake_request_shares, balance, total)?,
        available_unix: stake.unstake_available_unix,
        claim_deadline_unix: stake.unstake_claim_deadline_unix,
    })
}

/// Shares a stake of `amount` would get now (`None`: refused), as `stake_insurance` prices it,
/// including a new share epoch's locked shares.
pub fn quote_stake(clearinghouse: &Clearinghouse, amount: u64) -> MathResult<Option<StakeQuote>> {
    stake_quote(amount, clearinghouse.insurance_available(), clearinghouse.insurance_total_shares)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytemuck::Zeroable as _;

    #[test]
    fn a_request_moves_from_cooldown_to_claimable_to_lapsed() {
        let mut ch = Clearinghouse::zeroed();
        (ch.insurance_balance, ch.insurance_total_shares) = (1_500, 2_000);
        let mut stake = InsuranceStake::zeroed();
        stake.shares = 1_000;
        assert_eq!(stake_view(&stake, &ch, 0).unwrap().request, UnstakeState::None);
        stake.unstake_request_shares = 1_000;
        stake.unstake_request_value = 900;
        stake.unstake_available_unix = 100;
        stake.unstake_claim_deadline_unix = 125;
        let view = stake_view(&stake, &ch, 99).unwrap();
        assert_eq!((view.request, view.value, view.claim_amount), (UnstakeState::CoolingDown, 750, 750));
        ch.insurance_balance = 4_000;
        let view = stake_view(&stake, &ch, 125).unwrap();
        assert_eq!((view.request, view.value, view.claim_amount), (UnstakeState::Claimable, 2_000, 900));
        assert_eq!(stake_view(&stake, &ch, 126).unwrap().request, UnstakeState::Lapsed);
        assert_eq!(quote_stake(&Clearinghouse::zeroed(), 1).unwrap(), None, "a first stake pays the locked shares");
    }
}
