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
    /// The clearinghouse's share epoch these shares belong to.
    pub share_epoch: u64,
    pub bump: u8,
    pub padding: [u8; 7],
    /// What the requested shares were worth at the request: the claim pays no more than this.
    pub unstake_request_value: u64,
    /// Last moment the request may be claimed (0: none, or a request from before this field,
    /// which must be made again).
    pub unstake_claim_deadline_unix: i64,
    pub reserved: [u8; 48],
}
const_assert_size!(InsuranceStake, 32 * 2 + 8 * 7 + 48);

impl InsuranceStake {
    /// Shares from an epoch the vault has since been wiped out of are worth nothing: drop them.
    pub fn sync_epoch(&mut self, epoch: u64) {
        if self.share_epoch != epoch {
            self.shares = 0;
            self.clear_unstake_request();
            self.share_epoch = epoch;
        }
    }

    pub fn clear_unstake_request(&mut self) {
        self.unstake_request_shares = 0;
        self.unstake_available_unix = 0;
        self.unstake_request_value = 0;
        self.unstake_claim_deadline_unix = 0;
    }
}
