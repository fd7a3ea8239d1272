//! Token movements out of a clearinghouse's vaults: the one place the clearinghouse PDA signs.

use anchor_lang::prelude::*;
use anchor_spl::token::{self, Transfer};

use crate::constants::CLEARINGHOUSE_SEED;
use crate::state::Clearinghouse;

/// Transfer `amount` from a vault the clearinghouse owns, signed by the clearinghouse PDA.
/// Callers have already updated the accounting the transfer settles.
pub fn transfer_from_vault<'info>(
    token_program: &AccountInfo<'info>,
    clearinghouse: &AccountLoader<'info, Clearinghouse>,
    from: AccountInfo<'info>,
    to: AccountInfo<'info>,
    amount: u64,
) -> Result<()> {
    let (creator, mint, id_bytes, bump) = clearinghouse.load()?.seed_parts();
    let seeds: &[&[u8]] = &[CLEARINGHOUSE_SEED, creator.as_ref(), mint.as_ref(), &id_bytes, &bump];
    token::transfer(
        CpiContext::new_with_signer(
            *token_program.key,
            Transfer { from, to, authority: clearinghouse.to_account_info() },
            &[seeds],
        ),
        amount,
    )
}
