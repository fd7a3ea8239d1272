//! SPL Token instructions Bulwark's clients need: the collateral mint, users' associated token
//! accounts, minting on a test cluster, and reading balances.

use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::Instruction;
use anchor_lang::solana_program::system_instruction;
use anchor_spl::associated_token::{get_associated_token_address, spl_associated_token_account::instruction as ata};
use anchor_spl::token::spl_token;
use solana_program_pack::Pack as _;

pub use anchor_spl::token::ID as TOKEN_PROGRAM_ID;

/// Bytes of an SPL Token mint and token account.
pub const MINT_LEN: usize = spl_token::state::Mint::LEN;
pub const TOKEN_ACCOUNT_LEN: usize = spl_token::state::Account::LEN;

/// Create and initialise `mint` (a new keypair's address; it must sign) with `authority`.
pub fn create_mint_ixs(payer: &Pubkey, mint: &Pubkey, authority: &Pubkey, decimals: u8, rent: u64) -> [Instruction; 2] {
    [
        system_instruction::create_account(payer, mint, rent, MINT_LEN as u64, &TOKEN_PROGRAM_ID),
        spl_token::instruction::initialize_mint2(&TOKEN_PROGRAM_ID, mint, authority, None, decimals)
            .expect("the token program id is the SPL Token id"),
    ]
}

/// `owner`'s associated token account for `mint`.
pub fn associated_token_address(owner: &Pubkey, mint: &Pubkey) -> Pubkey {
    get_associated_token_address(owner, mint)
}

/// Create `owner`'s associated token account for `mint` unless it exists.
pub fn create_associated_token_account_ix(payer: &Pubkey, owner: &Pubkey, mint: &Pubkey) -> Instruction {
    ata::create_associated_token_account_idempotent(payer, owner, mint, &TOKEN_PROGRAM_ID)
}

pub fn mint_to_ix(mint: &Pubkey, destination: &Pubkey, authority: &Pubkey, amount: u64) -> Instruction {
    spl_token::instruction::mint_to(&TOKEN_PROGRAM_ID, mint, destination, authority, &[], amount)
        .expect("the token program id is the SPL Token id")
}

/// The amount held by an SPL Token account, `None` when `data` is not one.
pub fn token_amount(data: &[u8]) -> Option<u64> {
    spl_token::state::Account::unpack(data).ok().map(|a| a.amount)
}

/// A mint's decimals and authority, `None` when `data` is not a mint.
pub fn mint_info(data: &[u8]) -> Option<(u8, Option<Pubkey>)> {
    spl_token::state::Mint::unpack(data).ok().map(|m| (m.decimals, m.mint_authority.into()))
}
