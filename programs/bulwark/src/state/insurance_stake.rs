use anchor_lang::prelude::*;

/// One staker's claim on a clearinghouse's insurance vault.
/// PDA: `["insurance_stake", clearinghouse, owner]`.
#[account(zero_copy)]
#[derive(Debug)]
pub struct InsuranceStake {
    pub clearinghouse: Pubkey,
    pub owner: Pubkey,
    pub shares: u64,
    /// Shares asked to leave (0: no request) and when they may.
    pub unstake_request_shares: u64,
    pub unstake_available_unix: i64,
    pub bump: u8,
    pub padding: [u8; 7],
    pub reserved: [u8; 64],
}
const_assert_size!(InsuranceStake, 32 * 2 + 8 * 4 + 64);
