use anchor_lang::prelude::*;

use crate::constants::ADL_QUEUE_LEN;

/// An unsigned 128-bit integer stored as two words, so a zero-copy struct stays 8-aligned.
#[zero_copy]
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PodU128 {
    pub lo: u64,
    pub hi: u64,
}
const_assert_size!(PodU128, 16);

impl PodU128 {
    pub fn get(&self) -> u128 {
        (self.hi as u128) << 64 | self.lo as u128
    }

    pub fn new(value: u128) -> Self {
        Self { lo: value as u64, hi: (value >> 64) as u64 }
    }
}

/// A winner nominated to pay a round's shortfall, with the score the program gave it at the
/// round's price.
#[zero_copy]
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AdlNominee {
    pub margin_account: Pubkey,
    pub score: PodU128,
    /// Its position's size when scored: a fill never closes more of it (a position grown after
    /// the nomination keeps the rank it was scored with only for the lots it had).
    pub lots: u64,
    /// 1: passed over once because, capped at its profit, the winners queued after it could
    /// close every lot still open; it now pays after every other entry.
    pub deferred: u8,
    pub padding: [u8; 7],
}
const_assert_size!(AdlNominee, 64);

/// One ADL of one target in one market, run as a contest: the price, the lots and the
/// shortfall are frozen when the round opens; anyone may nominate winners while the window is
/// open; the program keeps them sorted by score and fills them in that order after it.
/// PDA: `["adl_round", market, target]`. Closed (rent to `opener`) when the target is flat in
/// the market or no longer eligible.
#[account(zero_copy)]
#[derive(Debug)]
pub struct AdlRound {
    pub clearinghouse: Pubkey,
    pub market: Pubkey,
    pub target: Pubkey,
    /// Paid the rent; gets it back when the round closes.
    pub opener: Pubkey,
    /// Slot the round first opened, and when the target was first seen liquidatable then:
    /// the time from eligibility to flat is measured from it.
    pub opened_slot: u64,
    pub target_liquidatable_since_slot: u64,
    /// Nominations are taken while `slot <= window_end_slot`; fills only after it.
    pub window_end_slot: u64,
    /// The oracle price the round (re)started at: scores, caps and fills all use it.
    pub price: i64,
    /// The target's signed position in the market when the round (re)started.
    pub target_lots: i64,
    /// Lots of it still to close.
    pub remaining_lots: u64,
    /// This market's share of the deficit insurance cannot pay (`U`), at (re)start.
    pub uncovered: u64,
    /// What is left of `U` for the lots still to close.
    pub uncovered_left: u64,
    /// Haircuts taken in this round, all restarts included.
    pub haircut_total: u64,
    /// The target's whole deficit at (re)start, and what insurance is to pay of this market's
    /// share of it (set aside in the clearinghouse's `insurance_reserved` while the round is
    /// open).
    pub deficit: u64,
    pub insurance_pays: u64,
    /// Fills made in this round.
    pub fill_count: u32,
    pub restart_count: u16,
    pub nominee_count: u8,
    pub bump: u8,
    /// Entries not deferred first, each part sorted by score, highest first, ties by key;
    /// entries are removed as they are filled or passed over for good.
    pub nominees: [AdlNominee; ADL_QUEUE_LEN],
    pub reserved: [u8; 48],
}
const_assert_size!(AdlRound, 32 * 4 + 8 * 11 + 8 + 64 * ADL_QUEUE_LEN + 48);

impl AdlRound {
    pub fn queue(&self) -> &[AdlNominee] {
        &self.nominees[..self.nominee_count as usize]
    }

    /// Whether `a` ranks before `b`: not deferred before deferred, then higher score first,
    /// ties by key.
    pub fn ranks_before(a: &AdlNominee, b: &AdlNominee) -> bool {
        if a.deferred != b.deferred {
            return a.deferred < b.deferred;
        }
        let (sa, sb) = (a.score.get(), b.score.get());
        sa > sb || (sa == sb && a.margin_account.to_bytes() < b.margin_account.to_bytes())
    }

    /// Insert `nominee` in order. When the queue is full it must rank before the last entry,
    /// which then leaves the queue. Errors: already queued, or not ranked high enough.
    pub fn insert(&mut self, nominee: AdlNominee) -> Result<()> {
        let count = self.nominee_count as usize;
        require!(
            self.queue().iter().all(|n| n.margin_account != nominee.margin_account),
            crate::error::BulwarkError::DuplicateAccount
        );
        let position = self.queue().iter().position(|n| Self::ranks_before(&nominee, n)).unwrap_or(count);
        require!(position < ADL_QUEUE_LEN, crate::error::BulwarkError::AdlNominationNotRanked);
        let end = count.min(ADL_QUEUE_LEN - 1);
        let mut i = end;
        while i > position {
            self.nominees[i] = self.nominees[i - 1];
            i -= 1;
        }
        self.nominees[position] = nominee;
        self.nominee_count = (end + 1) as u8;
        Ok(())
    }

    /// Remove the first `n` entries (filled or skipped).
    pub fn pop_front(&mut self, n: usize) {
        let count = self.nominee_count as usize;
        let n = n.min(count);
        for i in 0..count - n {
            self.nominees[i] = self.nominees[i + n];
        }
        for entry in self.nominees[count - n..count].iter_mut() {
            *entry = AdlNominee::default();
        }
        self.nominee_count = (count - n) as u8;
    }

    /// Replace the first `n` entries by `kept` (entries of them still to pay, some now
    /// deferred), each put back in its place in the order.
    pub fn replace_front(&mut self, n: usize, kept: &[AdlNominee]) -> Result<()> {
        self.pop_front(n);
        for entry in kept {
            self.insert(*entry)?;
        }
        Ok(())
    }

    pub fn clear_queue(&mut self) {
        self.pop_front(self.nominee_count as usize);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nominee(byte: u8, score: u128) -> AdlNominee {
        AdlNominee {
            margin_account: Pubkey::new_from_array([byte; 32]),
            score: PodU128::new(score),
            ..Default::default()
        }
    }

    fn empty() -> AdlRound {
        bytemuck::Zeroable::zeroed()
    }

    fn keys(round: &AdlRound) -> Vec<u8> {
        round.queue().iter().map(|n| n.margin_account.to_bytes()[0]).collect()
    }

    #[test]
    fn pod_u128_round_trips() {
        for v in [0u128, 1, u64::MAX as u128, u64::MAX as u128 + 1, u128::MAX] {
            assert_eq!(PodU128::new(v).get(), v);
        }
    }

    #[test]
    fn queue_stays_sorted_by_score_then_key() {
        let mut round = empty();
        round.insert(nominee(5, 100)).unwrap();
        round.insert(nominee(3, 300)).unwrap();
        round.insert(nominee(9, 100)).unwrap();
        round.insert(nominee(1, 100)).unwrap();
        assert_eq!(keys(&round), vec![3, 1, 5, 9]);
        assert!(round.insert(nominee(5, 999)).is_err(), "a duplicate is refused whatever its score");
        round.pop_front(2);
        assert_eq!(keys(&round), vec![5, 9]);
        assert_eq!(round.nominees[2], AdlNominee::default());
    }

    #[test]
    fn deferred_entries_pay_after_every_other() {
        let mut round = empty();
        for (byte, score) in [(1, 900), (2, 500), (3, 100)] {
            round.insert(nominee(byte, score)).unwrap();
        }
        let deferred = AdlNominee { deferred: 1, ..nominee(1, 900) };
        round.replace_front(1, &[deferred]).unwrap();
        assert_eq!(keys(&round), vec![2, 3, 1]);
        round.insert(nominee(4, 50)).unwrap();
        assert_eq!(keys(&round), vec![2, 3, 4, 1], "a later nomination still pays before it");
    }

    #[test]
    fn a_full_queue_takes_only_a_better_nominee_and_drops_its_last() {
        let mut round = empty();
        for i in 0..ADL_QUEUE_LEN as u8 {
            round.insert(nominee(i + 1, 1_000 - i as u128)).unwrap();
        }
        assert!(round.insert(nominee(200, 1)).is_err(), "below the last entry");
        let last = ADL_QUEUE_LEN as u8;
        assert!(round.insert(nominee(last + 1, 1_000 - (last - 1) as u128)).is_err(), "a tie with a later key");
        round.insert(nominee(100, 5_000)).unwrap();
        assert_eq!(round.nominee_count as usize, ADL_QUEUE_LEN);
        assert_eq!(keys(&round)[0], 100);
        assert!(!keys(&round).contains(&last), "the lowest-ranked left the queue");
    }
}
