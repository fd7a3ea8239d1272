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

/// Settle an instruction's insurance flows as one net transfer between the two vaults:
/// `into_insurance` (fee shares) against `out_of_insurance` (deficits paid). The accounting
/// (`insurance_balance`) has already been updated by the caller.
pub fn settle_insurance_flows<'info>(
    token_program: &AccountInfo<'info>,
    clearinghouse: &AccountLoader<'info, Clearinghouse>,
    collateral_vault: AccountInfo<'info>,
    insurance_vault: AccountInfo<'info>,
    into_insurance: u64,
    out_of_insurance: u64,
) -> Result<()> {
    if into_insurance > out_of_insurance {
        transfer_from_vault(
            token_program,
            clearinghouse,
            collateral_vault,
            insurance_vault,
            into_insurance - out_of_insurance,
        )
    } else if out_of_insurance > into_insurance {
        transfer_from_vault(
            token_program,
            clearinghouse,
            insurance_vault,
            collateral_vault,
            out_of_insurance - into_insurance,
        )
    } else {
        Ok(())
    }
}
