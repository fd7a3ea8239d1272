//! SPL Token helpers against the real token program shipped with solana-program-test.

use anchor_lang::prelude::*;
use anchor_lang::solana_program::system_instruction;
use solana_keypair::Keypair;
use solana_program_pack::Pack;
use solana_signer::Signer as _;
use spl_token_interface::{instruction as token_ix, state as token_state, ID as TOKEN_PROGRAM_ID};

use crate::harness::TestEnv;

impl TestEnv {
    pub async fn create_mint(&mut self, authority: &Pubkey, decimals: u8) -> Pubkey {
        let mint = self.new_keypair();
        let rent = self.ctx.banks_client.get_rent().await.unwrap().minimum_balance(token_state::Mint::LEN);
        let payer = self.ctx.payer.pubkey();
        let ixs = [
            system_instruction::create_account(
                &payer,
                &mint.pubkey(),
                rent,
                token_state::Mint::LEN as u64,
                &TOKEN_PROGRAM_ID,
            ),
            token_ix::initialize_mint2(&TOKEN_PROGRAM_ID, &mint.pubkey(), authority, None, decimals).unwrap(),
        ];
        self.send(&ixs, &[&mint]).await.ok();
        mint.pubkey()
    }

    pub async fn create_token_account(&mut self, mint: &Pubkey, owner: &Pubkey) -> Pubkey {
        let account = self.new_keypair();
        let rent = self.ctx.banks_client.get_rent().await.unwrap().minimum_balance(token_state::Account::LEN);
        let payer = self.ctx.payer.pubkey();
        let ixs = [
            system_instruction::create_account(
                &payer,
                &account.pubkey(),
                rent,
                token_state::Account::LEN as u64,
                &TOKEN_PROGRAM_ID,
            ),
            token_ix::initialize_account3(&TOKEN_PROGRAM_ID, &account.pubkey(), mint, owner).unwrap(),
        ];
        self.send(&ixs, &[&account]).await.ok();
        account.pubkey()
    }

    pub async fn mint_to(&mut self, mint: &Pubkey, authority: &Keypair, to: &Pubkey, amount: u64) {
        let ix = token_ix::mint_to(&TOKEN_PROGRAM_ID, mint, to, &authority.pubkey(), &[], amount).unwrap();
        self.send(&[ix], &[authority]).await.ok();
    }

    pub async fn token_balance(&mut self, account: Pubkey) -> u64 {
        let data = self.account_data(account).await.expect("token account exists");
        token_state::Account::unpack(&data).expect("token account").amount
    }
}
