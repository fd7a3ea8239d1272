#![allow(deprecated)] // solana-program-test 3.1 marks its API "Agave Unstable".
//! The bank behind the node: solana-program-test's bank with Bulwark loaded natively beside
//! SPL Token, a clock that advances in real time, an owner index for getProgramAccounts and a
//! record of every transaction that landed.
//!
//! Every write (a transaction, an airdrop, a slot advance) holds one lock, so a slot never
//! advances while a transaction is executing, and pre- and post-balances are consistent.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anchor_lang::prelude::{Clock, Pubkey};
use solana_account::Account;
use solana_hash::Hash;
use solana_keypair::Keypair;
use solana_message::{Message, VersionedMessage};
use solana_program_test::{BanksClient, BanksClientError, ProgramTestContext};
use solana_signature::Signature;
use solana_signer::Signer as _;
use solana_transaction::versioned::VersionedTransaction;
use solana_transaction::Transaction;
use solana_transaction_error::TransactionError;
use tokio::sync::Mutex;

/// Largest airdrop one request may ask for, in lamports (1,000 SOL).
pub const MAX_AIRDROP_LAMPORTS: u64 = 1_000 * 1_000_000_000;

/// The fee the genesis sets per signature (solana-program-test's half of the default target).
pub const LAMPORTS_PER_SIGNATURE: u64 = 5_000;

#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// Wall-clock time per slot; the slot and the cluster clock follow real time at this rate.
    pub slot_duration: Duration,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self { slot_duration: Duration::from_millis(400) }
    }
}

/// A transaction the bank committed (successfully or not: a failed one still pays its fee).
#[derive(Clone, Debug)]
pub struct Landed {
    pub slot: u64,
    pub block_time: i64,
    pub transaction: VersionedTransaction,
    pub err: Option<TransactionError>,
    pub logs: Vec<String>,
    pub compute_units: u64,
    pub fee: u64,
    /// Lamports of each static account key before and after, in message order.
    pub pre_balances: Vec<u64>,
    pub post_balances: Vec<u64>,
}

/// What a simulation saw.
#[derive(Clone, Debug, Default)]
pub struct Simulated {
    pub err: Option<TransactionError>,
    pub logs: Vec<String>,
    pub units_consumed: u64,
    pub loaded_accounts_data_size: u32,
    pub return_data: Option<(Pubkey, Vec<u8>)>,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Refused before execution, as a validator's preflight would refuse it.
    #[error("transaction simulation failed: {}", .0.err.as_ref().map(|e| e.to_string()).unwrap_or_default())]
    Preflight(Simulated),
    #[error("bank: {0}")]
    Bank(String),
}

#[derive(Debug, thiserror::Error)]
pub enum AirdropError {
    #[error("airdrop of {0} lamports exceeds the {MAX_AIRDROP_LAMPORTS}-lamport limit")]
    TooLarge(u64),
    #[error("airdrop failed: {0}")]
    Failed(String),
}

/// The real-time clock model: slot and unix time from wall time since start, plus warps.
struct ClockModel {
    started: Instant,
    start_slot: u64,
    start_unix: i64,
    slot_duration: Duration,
    warped_slots: u64,
    warped_seconds: i64,
    /// The bank's current slot and the unix time last written to its clock.
    slot: u64,
    unix: i64,
}

impl ClockModel {
    fn target(&self) -> (u64, i64) {
        let elapsed = self.started.elapsed();
        let slots = (elapsed.as_nanos() / self.slot_duration.as_nanos().max(1)) as u64;
        let slot = self.start_slot + slots + self.warped_slots;
        let unix = self.start_unix + elapsed.as_secs() as i64 + self.warped_seconds;
        (slot.max(self.slot), unix.max(self.unix))
    }
}

struct BankState {
    ctx: ProgramTestContext,
    clock: ClockModel,
}

pub struct Node {
    banks: BanksClient,
    state: Mutex<BankState>,
    /// Owner of every account a transaction through this node touched (the bank keeps no
    /// owner index); absent accounts are dropped.
    owners: SyncMutex<BTreeMap<Pubkey, Pubkey>>,
    landed: SyncMutex<HashMap<Signature, Landed>>,
    faucet: Keypair,
    genesis_hash: Hash,
}

fn bank_error(e: BanksClientError) -> String {
    e.to_string()
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
}

impl Node {
    /// Start the bank and the task that advances its slot in real time. The task stops when
    /// the last handle on the node is dropped.
    pub async fn start(config: NodeConfig) -> Arc<Node> {
        let ctx = bulwark_sdk::chain::embedded::program_test().start_with_context().await;
        bulwark_sdk::chain::embedded::install_event_capture();
        let banks = ctx.banks_client.clone();
        let faucet = ctx.payer.insecure_clone();
        let genesis_hash = ctx.last_blockhash;
        let slot = banks.get_root_slot().await.expect("the bank answers at start");
        let unix = unix_now();
        let clock = ClockModel {
            started: Instant::now(),
            start_slot: slot,
            start_unix: unix,
            slot_duration: config.slot_duration,
            warped_slots: 0,
            warped_seconds: 0,
            slot,
            unix,
        };
        let node = Arc::new(Node {
            banks,
            state: Mutex::new(BankState { ctx, clock }),
            owners: SyncMutex::default(),
            landed: SyncMutex::default(),
            faucet,
            genesis_hash,
        });
        node.advance().await;
        let weak = Arc::downgrade(&node);
        let period = config.slot_duration;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                match weak.upgrade() {
                    Some(node) => node.advance().await,
                    None => break,
                }
            }
        });
        node
    }

    /// Bring the bank's slot and clock up to the clock model.
    async fn advance(&self) {
        let mut state = self.state.lock().await;
        Self::advance_locked(&mut state).await;
    }

    async fn advance_locked(state: &mut BankState) {
        let (slot, unix) = state.clock.target();
        if slot > state.clock.slot {
            if let Err(e) = state.ctx.warp_to_slot(slot) {
                tracing::error!("warp to slot {slot}: {e:?}");
                return;
            }
            state.clock.slot = slot;
        }
        if unix != state.clock.unix || slot == state.clock.slot {
            match state.ctx.banks_client.get_sysvar::<Clock>().await {
                Ok(mut clock) if clock.unix_timestamp != unix => {
                    clock.unix_timestamp = unix;
                    state.ctx.set_sysvar(&clock);
                }
                Ok(_) => {}
                Err(e) => tracing::error!("read clock: {e}"),
            }
            state.clock.unix = unix;
        }
    }

    /// Move the slot forward by `slots` and the cluster clock by `seconds`, on top of real
    /// time. Returns the new slot and unix time.
    pub async fn warp(&self, slots: u64, seconds: i64) -> (u64, i64) {
        let mut state = self.state.lock().await;
        state.clock.warped_slots += slots;
        state.clock.warped_seconds += seconds.max(0);
        Self::advance_locked(&mut state).await;
        (state.clock.slot, state.clock.unix)
    }

    pub fn faucet(&self) -> Pubkey {
        self.faucet.pubkey()
    }

    pub fn genesis_hash(&self) -> Hash {
        self.genesis_hash
    }

    pub async fn slot(&self) -> Result<u64, String> {
        self.banks.get_root_slot().await.map_err(bank_error)
    }

    pub async fn block_height(&self) -> Result<u64, String> {
        self.banks.get_root_block_height().await.map_err(bank_error)
    }

    pub async fn clock(&self) -> Result<Clock, String> {
        self.banks.get_sysvar::<Clock>().await.map_err(bank_error)
    }

    /// The latest blockhash and the last block height at which it is valid.
    pub async fn latest_blockhash(&self) -> Result<(Hash, u64), String> {
        let reply = self
            .banks
            .get_latest_blockhash_with_commitment(Default::default())
            .await
            .map_err(bank_error)?
            .ok_or("no blockhash")?;
        Ok(reply)
    }

    pub async fn is_blockhash_valid(&self, blockhash: &Hash) -> Result<bool, String> {
        // The bank prices a message only while its blockhash is in the recent queue.
        let message = Message::new_with_blockhash(&[], Some(&self.faucet.pubkey()), blockhash);
        Ok(self.banks.get_fee_for_message(message).await.map_err(bank_error)?.is_some())
    }

    /// The fee for `message`, or `None` when its blockhash is not recent.
    pub async fn fee_for_message(&self, message: &VersionedMessage) -> Result<Option<u64>, String> {
        match message {
            VersionedMessage::Legacy(m) => self.banks.get_fee_for_message(m.clone()).await.map_err(bank_error),
            VersionedMessage::V0(m) => {
                if !self.is_blockhash_valid(&m.recent_blockhash).await? {
                    return Ok(None);
                }
                Ok(Some(m.header.num_required_signatures as u64 * LAMPORTS_PER_SIGNATURE))
            }
        }
    }

    pub async fn rent_exempt_minimum(&self, data_len: usize) -> Result<u64, String> {
        Ok(self.banks.get_rent().await.map_err(bank_error)?.minimum_balance(data_len))
    }

    pub async fn account(&self, key: &Pubkey) -> Result<Option<Account>, String> {
        self.banks.get_account(*key).await.map_err(bank_error)
    }

    /// Fetch many accounts with the requests in flight together.
    pub async fn accounts(&self, keys: &[Pubkey]) -> Result<Vec<Option<Account>>, String> {
        let replies = futures_join(keys.iter().map(|k| self.banks.get_account(*k))).await;
        replies.into_iter().map(|r| r.map_err(bank_error)).collect()
    }

    /// Every indexed account owned by `owner`, in key order.
    pub async fn program_accounts(&self, owner: &Pubkey) -> Result<Vec<(Pubkey, Account)>, String> {
        let keys: Vec<Pubkey> =
            self.owners.lock().unwrap().iter().filter(|(_, o)| *o == owner).map(|(k, _)| *k).collect();
        let accounts = self.accounts(&keys).await?;
        Ok(keys
            .into_iter()
            .zip(accounts)
            .filter_map(|(k, a)| a.filter(|a| a.owner == *owner).map(|a| (k, a)))
            .collect())
    }

    pub fn landed(&self, signature: &Signature) -> Option<Landed> {
        self.landed.lock().unwrap().get(signature).cloned()
    }

    pub async fn simulate(&self, transaction: &VersionedTransaction) -> Result<Simulated, String> {
        let reply = self.banks.simulate_transaction(transaction.clone()).await.map_err(bank_error)?;
        let err = reply.result.and_then(|r| r.err());
        Ok(match reply.simulation_details {
            Some(details) => Simulated {
                err,
                logs: details.logs,
                units_consumed: details.units_consumed,
                loaded_accounts_data_size: details.loaded_accounts_data_size,
                return_data: details.return_data.map(|r| (r.program_id, r.data)),
            },
            None => Simulated { err, ..Default::default() },
        })
    }

    /// Preflight (unless skipped), then execute and record. Like a validator, a transaction
    /// that cannot be committed at all (unknown blockhash, duplicate, unpayable fee) after a
    /// skipped preflight is dropped: its signature is returned and never gets a status.
    pub async fn send(&self, transaction: VersionedTransaction, skip_preflight: bool) -> Result<Signature, SendError> {
        let signature = transaction.signatures[0];
        if !skip_preflight {
            let mut refused = None;
            if self.landed(&signature).is_some() {
                refused = Some(TransactionError::AlreadyProcessed);
            } else if !self.is_blockhash_valid(transaction.message.recent_blockhash()).await.map_err(SendError::Bank)? {
                refused = Some(TransactionError::BlockhashNotFound);
            }
            if let Some(err) = refused {
                return Err(SendError::Preflight(Simulated { err: Some(err), ..Default::default() }));
            }
            let simulated = self.simulate(&transaction).await.map_err(SendError::Bank)?;
            if simulated.err.is_some() {
                return Err(SendError::Preflight(simulated));
            }
        }
        let state = self.state.lock().await;
        self.execute_locked(&state, transaction).await.map_err(SendError::Bank)?;
        Ok(signature)
    }

    async fn execute_locked(&self, state: &BankState, transaction: VersionedTransaction) -> Result<(), String> {
        let signature = transaction.signatures[0];
        let keys = transaction.message.static_account_keys().to_vec();
        let pre: Vec<u64> = self.accounts(&keys).await?.iter().map(|a| a.as_ref().map_or(0, |a| a.lamports)).collect();
        let fee = self.fee_for_message(&transaction.message).await?.unwrap_or_default();
        let reply = self.banks.process_transaction_with_metadata(transaction.clone()).await.map_err(bank_error)?;
        let Some(metadata) = reply.metadata else {
            // Not committed: nothing changed, nothing to record.
            tracing::debug!("dropped {signature}: {:?}", reply.result);
            return Ok(());
        };
        let after = self.accounts(&keys).await?;
        {
            let mut owners = self.owners.lock().unwrap();
            for (key, account) in keys.iter().zip(&after) {
                match account {
                    Some(a) => owners.insert(*key, a.owner),
                    None => owners.remove(key),
                };
            }
        }
        let landed = Landed {
            slot: state.clock.slot,
            block_time: state.clock.unix,
            transaction,
            err: reply.result.err(),
            logs: metadata.log_messages,
            compute_units: metadata.compute_units_consumed,
            fee,
            pre_balances: pre,
            post_balances: after.iter().map(|a| a.as_ref().map_or(0, |a| a.lamports)).collect(),
        };
        self.landed.lock().unwrap().insert(signature, landed);
        Ok(())
    }

    /// Send `lamports` from the genesis faucet to `to`.
    pub async fn airdrop(&self, to: &Pubkey, lamports: u64) -> Result<Signature, AirdropError> {
        if lamports > MAX_AIRDROP_LAMPORTS {
            return Err(AirdropError::TooLarge(lamports));
        }
        let state = self.state.lock().await;
        let blockhash = self.latest_blockhash().await.map_err(AirdropError::Failed)?.0;
        let ix = anchor_lang::solana_program::system_instruction::transfer(&self.faucet.pubkey(), to, lamports);
        let tx = Transaction::new_signed_with_payer(&[ix], Some(&self.faucet.pubkey()), &[&self.faucet], blockhash);
        let signature = tx.signatures[0];
        self.execute_locked(&state, tx.into()).await.map_err(AirdropError::Failed)?;
        match self.landed(&signature) {
            Some(Landed { err: None, .. }) => Ok(signature),
            Some(Landed { err: Some(e), .. }) => Err(AirdropError::Failed(e.to_string())),
            None => Err(AirdropError::Failed("the transfer was not committed".into())),
        }
    }
}

/// Await `futures` in batches of 256: the bank answers requests in turn, and pipelining them
/// keeps a large scan to one round trip per batch instead of one per account.
async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut futures: Vec<F> = futures.collect();
    let mut out = Vec::with_capacity(futures.len());
    while !futures.is_empty() {
        let rest = futures.split_off(futures.len().min(256));
        out.extend(futures::future::join_all(std::mem::replace(&mut futures, rest)).await);
    }
    out
}
