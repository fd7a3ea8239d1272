//! Program-derived addresses, exactly as the program's `seeds` constraints derive them.

use anchor_lang::prelude::Pubkey;
use bulwark::constants::*;

fn find(seeds: &[&[u8]]) -> Pubkey {
    Pubkey::find_program_address(seeds, &bulwark::ID).0
}

pub fn clearinghouse(creator: &Pubkey, mint: &Pubkey, id: u16) -> Pubkey {
    find(&[CLEARINGHOUSE_SEED, creator.as_ref(), mint.as_ref(), &id.to_le_bytes()])
}

pub fn collateral_vault(clearinghouse: &Pubkey) -> Pubkey {
    find(&[COLLATERAL_VAULT_SEED, clearinghouse.as_ref()])
}

pub fn insurance_vault(clearinghouse: &Pubkey) -> Pubkey {
    find(&[INSURANCE_VAULT_SEED, clearinghouse.as_ref()])
}

pub fn margin_account(clearinghouse: &Pubkey, owner: &Pubkey, sub_account_id: u16) -> Pubkey {
    find(&[MARGIN_ACCOUNT_SEED, clearinghouse.as_ref(), owner.as_ref(), &sub_account_id.to_le_bytes()])
}

pub fn price_feed(authority: &Pubkey, feed_id: u64) -> Pubkey {
    find(&[PRICE_FEED_SEED, authority.as_ref(), &feed_id.to_le_bytes()])
}

pub fn market(clearinghouse: &Pubkey, index: u16) -> Pubkey {
    find(&[MARKET_SEED, clearinghouse.as_ref(), &index.to_le_bytes()])
}

pub fn order_book(market: &Pubkey) -> Pubkey {
    find(&[ORDER_BOOK_SEED, market.as_ref()])
}

pub fn insurance_stake(clearinghouse: &Pubkey, owner: &Pubkey) -> Pubkey {
    find(&[INSURANCE_STAKE_SEED, clearinghouse.as_ref(), owner.as_ref()])
}

/// The ADL round of `target` in `market` (one at a time).
pub fn adl_round(market: &Pubkey, target: &Pubkey) -> Pubkey {
    find(&[ADL_ROUND_SEED, market.as_ref(), target.as_ref()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_distinct_and_stable() {
        let (creator, mint) = (Pubkey::new_from_array([1; 32]), Pubkey::new_from_array([2; 32]));
        let ch = clearinghouse(&creator, &mint, 0);
        assert_eq!(ch, clearinghouse(&creator, &mint, 0));
        assert_ne!(ch, clearinghouse(&creator, &mint, 1));
        assert_ne!(collateral_vault(&ch), insurance_vault(&ch));
        assert_ne!(margin_account(&ch, &creator, 0), margin_account(&ch, &creator, 1));
        assert_ne!(market(&ch, 0), order_book(&market(&ch, 0)));
    }
}
