//! The test environment: program loading, transaction sending, error matching, clock control
//! and account loading.

use anchor_lang::prelude::*;
use anchor_lang::solana_program::instruction::{error::InstructionError, Instruction};
use bulwark::error::BulwarkError;
use solana_keypair::Keypair;
use solana_program_test::{BanksClientError, ProgramTest, ProgramTestContext};
use solana_signer::Signer as _;
use solana_transaction::Transaction;
use solana_transaction_error::TransactionError;

use bulwark_sdk::chain::embedded::{install_event_capture, AccountIndex, EmbeddedChain};

/// A `ProgramTest` with Bulwark loaded natively; add accounts to it before `TestEnv::start`.
pub use bulwark_sdk::chain::embedded::program_test;

/// What a processed transaction left behind.
#[derive(Debug)]
pub struct TxOutcome {
    pub result: std::result::Result<(), TransactionError>,
    pub logs: Vec<String>,
    pub compute_units: u64,
}

impl TxOutcome {
    /// Panic with the logs unless the transaction succeeded.
    #[track_caller]
    pub fn ok(self) -> Self {
        if let Err(e) = &self.result {
            panic!("transaction failed: {e:?}\n{}", self.logs.join("\n"));
        }
        self
    }

    pub fn events<E: AnchorDeserialize + Discriminator>(&self) -> Vec<E> {
        bulwark_sdk::events::decode_events(&self.logs)
    }

    pub fn custom_error(&self) -> Option<u32> {
        match &self.result {
            Err(TransactionError::InstructionError(_, InstructionError::Custom(code))) => Some(*code),
            _ => None,
        }
    }

    /// Assert the transaction failed with this Bulwark error.
    #[track_caller]
    pub fn expect_err(&self, expected: BulwarkError) {
        self.expect_custom_code(&format!("{expected:?}"), anchor_lang::error::ERROR_CODE_OFFSET + expected as u32);
    }

    /// Assert the transaction failed with this Anchor framework error.
    #[track_caller]
    pub fn expect_anchor_err(&self, expected: anchor_lang::error::ErrorCode) {
        self.expect_custom_code(&format!("{expected:?}"), expected.into());
    }

    #[track_caller]
    fn expect_custom_code(&self, name: &str, code: u32) {
        assert_eq!(
            self.custom_error(),
            Some(code),
            "expected {name} ({code}), got {:?}\n{}",
            self.result,
            self.logs.join("\n")
        );
    }

    /// Assert the transaction failed with this instruction error (e.g. from the token program).
    #[track_caller]
    pub fn expect_instruction_err(&self, expected: InstructionError) {
        match &self.result {
            Err(TransactionError::InstructionError(_, e)) => assert_eq!(*e, expected, "{}", self.logs.join("\n")),
            other => panic!("expected {expected:?}, got {other:?}"),
        }
    }
}

pub struct TestEnv {
    pub ctx: ProgramTestContext,
    /// Makes every transaction unique, so identical instructions never collide as duplicates.
    nonce: u32,
    /// Every account a transaction here touched: the embedded chain's view of the bank.
    pub index: AccountIndex,
    /// When set, keypairs come from this seed and a counter, so a seeded run creates the same
    /// addresses every time (the replay's "same seed, same result").
    key_seed: Option<(u64, u64)>,
}

impl TestEnv {
    pub async fn start(pt: ProgramTest) -> Self {
        let ctx = pt.start_with_context().await;
        install_event_capture();
        Self { ctx, nonce: 0, index: AccountIndex::default(), key_seed: None }
    }

    pub async fn new() -> Self {
        Self::start(program_test()).await
    }

    /// A `Chain` on this bank that sees every account the tests created.
    pub fn chain(&self) -> EmbeddedChain {
        EmbeddedChain::new(self.ctx.banks_client.clone(), self.index.clone())
    }

    /// Derive every later keypair from `seed`.
    pub fn seed_keypairs(&mut self, seed: u64) {
        self.key_seed = Some((seed, 0));
    }

    /// A new keypair: random, or the next one from the seed.
    pub fn new_keypair(&mut self) -> Keypair {
        match &mut self.key_seed {
            None => Keypair::new(),
            Some((seed, counter)) => {
                *counter += 1;
                let mut secret = [0u8; 32];
                secret[..8].copy_from_slice(&seed.to_le_bytes());
                secret[8..16].copy_from_slice(&counter.to_le_bytes());
                secret[16..24].copy_from_slice(b"bulwark!");
                Keypair::new_from_array(secret)
            }
        }
    }

    /// Transactions sent through `send` so far.
    pub fn transactions_sent(&self) -> u64 {
        self.nonce as u64
    }

    pub fn payer(&self) -> Keypair {
        self.ctx.payer.insecure_clone()
    }

    /// Send `ixs` paid by the context payer and signed by `signers` too; never panics on a
    /// failed transaction (inspect the outcome).
    pub async fn send(&mut self, ixs: &[Instruction], signers: &[&Keypair]) -> TxOutcome {
        self.nonce += 1;
        let mut all = vec![bulwark_sdk::ix::compute_unit_limit_ix(1_400_000 - self.nonce)];
        all.extend_from_slice(ixs);
        let payer = self.ctx.payer.insecure_clone();
        let mut keys: Vec<&Keypair> = vec![&payer];
        keys.extend(signers.iter().copied().filter(|k| k.pubkey() != payer.pubkey()));
        let blockhash = self.ctx.banks_client.get_latest_blockhash().await.expect("blockhash");
        let tx = Transaction::new_signed_with_payer(&all, Some(&payer.pubkey()), &keys, blockhash);
        self.index.insert_transaction(&tx);
        let result = self.ctx.banks_client.process_transaction_with_metadata(tx.clone()).await;
        // Again after: a scan that read between the first pass and the write cached old data.
        self.index.insert_transaction(&tx);
        match result {
            Ok(r) => {
                let (logs, compute_units) =
                    r.metadata.map(|m| (m.log_messages, m.compute_units_consumed)).unwrap_or_default();
                TxOutcome { result: r.result, logs, compute_units }
            }
            Err(BanksClientError::TransactionError(e)) => TxOutcome { result: Err(e), logs: vec![], compute_units: 0 },
            Err(BanksClientError::SimulationError { err, logs, units_consumed, .. }) => {
                TxOutcome { result: Err(err), logs, compute_units: units_consumed }
            }
            Err(e) => panic!("banks client: {e:?}"),
        }
    }

    pub async fn clock(&mut self) -> Clock {
        self.ctx.banks_client.get_sysvar::<Clock>().await.expect("clock")
    }

    /// Advance the cluster clock by `seconds` and the slot by `slots` (at least one, so a new
    /// bank and blockhash exist).
    pub async fn warp(&mut self, seconds: i64, slots: u64) {
        let mut clock = self.clock().await;
        let target = clock.slot + slots.max(1);
        self.ctx.warp_to_slot(target).expect("warp");
        clock.slot = target;
        clock.unix_timestamp += seconds;
        self.ctx.set_sysvar(&clock);
    }

    /// Set the clock's unix time without moving slots far (one slot, for a fresh blockhash).
    pub async fn set_unix_time(&mut self, unix: i64) {
        let now = self.clock().await.unix_timestamp;
        self.warp(unix - now, 1).await;
    }

    pub async fn account_data(&mut self, key: Pubkey) -> Option<Vec<u8>> {
        self.ctx.banks_client.get_account(key).await.expect("get_account").map(|a| a.data)
    }

    pub async fn account_owner(&mut self, key: Pubkey) -> Option<Pubkey> {
        self.ctx.banks_client.get_account(key).await.expect("get_account").map(|a| a.owner)
    }

    /// Load a zero-copy Bulwark account, checking its discriminator and size (the SDK's decoder).
    pub async fn load<T: bulwark_sdk::accounts::ProgramAccount>(&mut self, key: Pubkey) -> T {
        let data = self.account_data(key).await.unwrap_or_else(|| panic!("account {key} missing"));
        T::decode(&data).unwrap_or_else(|e| panic!("account {key}: {e}"))
    }

    pub async fn lamports(&mut self, key: Pubkey) -> u64 {
        self.ctx.banks_client.get_balance(key).await.expect("balance")
    }

    /// A funded keypair.
    pub async fn funded_keypair(&mut self) -> Keypair {
        let k = self.new_keypair();
        let ix = anchor_lang::solana_program::system_instruction::transfer(
            &self.ctx.payer.pubkey(),
            &k.pubkey(),
            10_000_000_000,
        );
        self.send(&[ix], &[]).await.ok();
        k
    }
}
