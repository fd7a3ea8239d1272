#![allow(deprecated)] // solana-program-test 3.1 marks its API "Agave Unstable".
//! The bank behind the node: solana-program-test's bank with Bulwark loaded natively beside
//! SPL Token, a clock that advances in real time, an owner index for getProgramAccounts and a
//! record of every transaction that landed.
//!
//! One thread owns the bank and the runtime its services run on, and does one job at a time:
//! a slot never advances while a transaction executes, and pre- and post-balances are
//! consistent. That runtime is driven only while a job runs. solana-program-test's background
//! task registers a new blockhash every 6.4 ms of driven time; driven continuously, a blockhash
//! would expire after about a second, while driven job by job it lives for roughly 150 slot
//! advances and request bursts (measured in the README), closer to a validator's minute.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anchor_lang::prelude::{Clock, Pubkey};
use bulwark_sdk::chain::embedded::{blockhash_is_recent, fetch_accounts, ProgramBuild};
use solana_account::Account;
use solana_epoch_info::EpochInfo;
use solana_epoch_schedule::EpochSchedule;
use solana_hash::Hash;
use solana_keypair::Keypair;
use solana_message::{Message, VersionedMessage};
use solana_program_test::{BanksClient, BanksClientError, ProgramTestContext};
use solana_signature::Signature;
use solana_signer::Signer as _;
use solana_transaction::versioned::VersionedTransaction;
use solana_transaction::Transaction;
use solana_transaction_error::TransactionError;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Largest airdrop one request may ask for, in lamports (1,000 SOL).
pub const MAX_AIRDROP_LAMPORTS: u64 = 1_000 * 1_000_000_000;

/// Transactions remembered for getSignatureStatuses and getTransaction; beyond this the older
/// half is forgotten.
pub const MAX_LANDED: usize = 100_000;

/// The fee the genesis sets per signature (solana-program-test's half of the default target).
pub const LAMPORTS_PER_SIGNATURE: u64 = 5_000;

#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// Wall-clock time per slot; the slot and the cluster clock follow real time at this rate.
    pub slot_duration: Duration,
    /// The build of Bulwark the bank runs.
    pub program: ProgramBuild,
}

impl Default for NodeConfig {
    /// 400 ms slots; the program from `BULWARK_SO` when set, the native build otherwise.
    fn default() -> Self {
        Self {
            slot_duration: Duration::from_millis(400),
            program: ProgramBuild::from_env().unwrap_or_else(|e| panic!("{e}")),
        }
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

/// What subscriptions hear: the node's own feed of what the bank did, in order.
#[derive(Clone, Debug)]
pub enum NodeEvent {
    /// The bank moved to `slot`. Every bank here is rooted when it is replaced, so the root is
    /// the parent.
    Slot { slot: u64, parent: u64 },
    /// A transaction was committed (successfully or not).
    Committed(Arc<Committed>),
}

/// A committed transaction as subscriptions need it.
#[derive(Debug)]
pub struct Committed {
    pub slot: u64,
    pub signature: Signature,
    pub err: Option<TransactionError>,
    pub logs: Vec<String>,
    /// Every static account key of the message (what `logsSubscribe`'s `mentions` matches).
    pub mentioned: Vec<Pubkey>,
    /// The writable accounts after the transaction (`None`: closed), in message order.
    pub written: Vec<(Pubkey, Option<Account>)>,
}

/// Events the node keeps for subscribers that have not read them yet; one further behind than
/// this is told it lagged.
pub const EVENT_BUFFER: usize = 4_096;

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
    events: broadcast::Sender<NodeEvent>,
    /// Transactions committed since start (getEpochInfo's transactionCount).
    transaction_count: u64,
}

type BankCell = Rc<RefCell<BankState>>;
type Job = Box<dyn FnOnce(BankCell) -> Pin<Box<dyn Future<Output = ()>>> + Send>;

type Owners = Arc<SyncMutex<BTreeMap<Pubkey, Pubkey>>>;
type LandedMap = Arc<SyncMutex<HashMap<Signature, Landed>>>;

pub struct Node {
    jobs: mpsc::UnboundedSender<Job>,
    /// Owner of every account a transaction through this node touched (the bank keeps no
    /// owner index); absent accounts are dropped.
    owners: Owners,
    landed: LandedMap,
    faucet: Keypair,
    genesis_hash: Hash,
    events: broadcast::Sender<NodeEvent>,
}

const STOPPED: &str = "the bank thread has stopped";

fn bank_error(e: BanksClientError) -> String {
    e.to_string()
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
}

fn banks(state: &BankCell) -> BanksClient {
    state.borrow().ctx.banks_client.clone()
}

async fn fetch(banks: &BanksClient, keys: &[Pubkey]) -> Result<Vec<Option<Account>>, String> {
    fetch_accounts(banks, keys).await.map_err(bank_error)
}

async fn blockhash_valid(banks: &BanksClient, blockhash: &Hash) -> Result<bool, String> {
    blockhash_is_recent(banks, blockhash).await.map_err(bank_error)
}

async fn message_fee(banks: &BanksClient, message: &VersionedMessage) -> Result<Option<u64>, String> {
    match message {
        VersionedMessage::Legacy(m) => banks.get_fee_for_message(m.clone()).await.map_err(bank_error),
        // Without lookup tables a v0 message carries what a legacy one does: the bank prices
        // it the same (signatures, precompiles, priority fee).
        VersionedMessage::V0(m) if m.address_table_lookups.is_empty() => {
            let legacy = Message {
                header: m.header,
                account_keys: m.account_keys.clone(),
                recent_blockhash: m.recent_blockhash,
                instructions: m.instructions.clone(),
            };
            banks.get_fee_for_message(legacy).await.map_err(bank_error)
        }
        // With lookup tables: the signature fee only (no priority fee counted).
        VersionedMessage::V0(m) => {
            if !blockhash_valid(banks, &m.recent_blockhash).await? {
                return Ok(None);
            }
            Ok(Some(m.header.num_required_signatures as u64 * LAMPORTS_PER_SIGNATURE))
        }
    }
}

/// Bring the bank's slot and clock up to the clock model.
async fn advance(state: BankCell) {
    let unix = {
        let mut s = state.borrow_mut();
        let (slot, unix) = s.clock.target();
        if slot > s.clock.slot {
            if let Err(e) = s.ctx.warp_to_slot(slot) {
                tracing::error!("warp to slot {slot}: {e:?}");
                return;
            }
            let parent = s.clock.slot;
            s.clock.slot = slot;
            // No receiver is not an error: nobody subscribed.
            let _ = s.events.send(NodeEvent::Slot { slot, parent });
        }
        unix
    };
    // A new bank computes its own clock: keep the wall clock's.
    match banks(&state).get_sysvar::<Clock>().await {
        Ok(mut clock) => {
            if clock.unix_timestamp != unix {
                clock.unix_timestamp = unix;
                state.borrow().ctx.set_sysvar(&clock);
            }
            state.borrow_mut().clock.unix = unix;
        }
        Err(e) => tracing::error!("read clock: {e}"),
    }
}

/// Execute and record `transaction`. Not committed (unknown blockhash, duplicate, unpayable
/// fee): nothing changed, nothing recorded.
async fn execute(
    state: BankCell,
    transaction: VersionedTransaction,
    owners: Owners,
    landed: LandedMap,
) -> Result<(), String> {
    let banks = banks(&state);
    let (slot, block_time) = {
        let s = state.borrow();
        (s.clock.slot, s.clock.unix)
    };
    let signature = transaction.signatures[0];
    let keys = transaction.message.static_account_keys().to_vec();
    let pre: Vec<u64> = fetch(&banks, &keys).await?.iter().map(|a| a.as_ref().map_or(0, |a| a.lamports)).collect();
    let fee = message_fee(&banks, &transaction.message).await?.unwrap_or_default();
    let reply = banks.process_transaction_with_metadata(transaction.clone()).await.map_err(bank_error)?;
    let Some(metadata) = reply.metadata else {
        tracing::debug!("dropped {signature}: {:?}", reply.result);
        return Ok(());
    };
    let after = fetch(&banks, &keys).await?;
    {
        let mut owners = owners.lock().unwrap();
        for (key, account) in keys.iter().zip(&after) {
            match account {
                Some(a) => owners.insert(*key, a.owner),
                None => owners.remove(key),
            };
        }
    }
    let err = reply.result.err();
    // What subscriptions need, kept aside before the record takes the transaction.
    let message = transaction.message.clone();
    let logs = metadata.log_messages.clone();
    let landed_err = err.clone();
    let record = Landed {
        slot,
        block_time,
        transaction,
        err,
        logs: metadata.log_messages,
        compute_units: metadata.compute_units_consumed,
        fee,
        pre_balances: pre,
        post_balances: after.iter().map(|a| a.as_ref().map_or(0, |a| a.lamports)).collect(),
    };
    {
        let mut landed = landed.lock().unwrap();
        landed.insert(signature, record);
        if landed.len() > MAX_LANDED {
            // Forget the older half: statuses and transactions of a long-running node stay bounded.
            let mut slots: Vec<u64> = landed.values().map(|l| l.slot).collect();
            slots.sort_unstable();
            let cutoff = slots[slots.len() / 2];
            landed.retain(|_, l| l.slot >= cutoff);
        }
    }
    // Recorded first, broadcast second: a signature subscriber that starts in between finds the
    // record when it looks back, and one that started before hears the event. The event copies
    // every written account, so it is built only when someone listens.
    let mut s = state.borrow_mut();
    s.transaction_count += 1;
    if s.events.receiver_count() > 0 {
        let committed = Committed {
            slot,
            signature,
            err: landed_err,
            logs,
            mentioned: keys.clone(),
            written: keys
                .iter()
                .zip(&after)
                .enumerate()
                .filter(|(i, _)| message.is_maybe_writable(*i, None))
                .map(|(_, (key, account))| (*key, account.clone()))
                .collect(),
        };
        let _ = s.events.send(NodeEvent::Committed(Arc::new(committed)));
    }
    Ok(())
}

impl Node {
    /// Start the bank on its own thread, and a task that advances its slot in real time. Both
    /// stop when the last handle on the node is dropped.
    pub async fn start(config: NodeConfig) -> Arc<Node> {
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        let (ready, started) = oneshot::channel::<(Keypair, Hash)>();
        let slot_duration = config.slot_duration;
        let program = config.program.clone();
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let bank_events = events.clone();
        std::thread::Builder::new()
            .name("bulwark-bank".into())
            .spawn(move || {
                let runtime =
                    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime for the bank");
                let state: BankCell = runtime.block_on(async {
                    let ctx = bulwark_sdk::chain::embedded::program_test_with(&program).start_with_context().await;
                    bulwark_sdk::chain::embedded::install_event_capture();
                    let slot = ctx.banks_client.get_root_slot().await.expect("the bank answers at start");
                    let unix = unix_now();
                    let clock = ClockModel {
                        started: Instant::now(),
                        start_slot: slot,
                        start_unix: unix,
                        slot_duration,
                        warped_slots: 0,
                        warped_seconds: 0,
                        slot,
                        unix,
                    };
                    let _ = ready.send((ctx.payer.insecure_clone(), ctx.last_blockhash));
                    Rc::new(RefCell::new(BankState { ctx, clock, events: bank_events, transaction_count: 0 }))
                });
                while let Some(job) = queue.blocking_recv() {
                    runtime.block_on(job(state.clone()));
                }
            })
            .expect("spawn the bank thread");
        let (faucet, genesis_hash) = started.await.expect("the bank starts");
        let node = Arc::new(Node {
            jobs,
            owners: Owners::default(),
            landed: LandedMap::default(),
            faucet,
            genesis_hash,
            events,
        });
        let _ = node.on_bank(advance).await;
        let weak = Arc::downgrade(&node);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(slot_duration).await;
                match weak.upgrade() {
                    Some(node) => {
                        let _ = node.on_bank(advance).await;
                    }
                    None => break,
                }
            }
        });
        node
    }

    /// Run `job` on the bank thread and wait for its result.
    async fn on_bank<T, F, Fut>(&self, job: F) -> Result<T, String>
    where
        T: Send + 'static,
        F: FnOnce(BankCell) -> Fut + Send + 'static,
        Fut: Future<Output = T> + 'static,
    {
        let (reply, result) = oneshot::channel();
        let boxed: Job = Box::new(move |state| {
            Box::pin(async move {
                let _ = reply.send(job(state).await);
            })
        });
        self.jobs.send(boxed).map_err(|_| STOPPED.to_string())?;
        result.await.map_err(|_| STOPPED.to_string())
    }

    /// Run `f` with a handle on the bank, on the bank thread.
    async fn with_banks<T, F, Fut>(&self, f: F) -> Result<T, String>
    where
        T: Send + 'static,
        F: FnOnce(BanksClient) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, String>> + 'static,
    {
        self.on_bank(move |state| f(banks(&state))).await?
    }

    /// Move the slot forward by `slots` and the cluster clock by `seconds`, on top of real
    /// time. Returns the new slot and unix time.
    pub async fn warp(&self, slots: u64, seconds: i64) -> Result<(u64, i64), String> {
        self.on_bank(move |state| async move {
            {
                let mut s = state.borrow_mut();
                s.clock.warped_slots += slots;
                s.clock.warped_seconds += seconds.max(0);
            }
            advance(state.clone()).await;
            let s = state.borrow();
            (s.clock.slot, s.clock.unix)
        })
        .await
    }

    /// Hear every slot and committed transaction from now on.
    pub fn events(&self) -> broadcast::Receiver<NodeEvent> {
        self.events.subscribe()
    }

    pub fn faucet(&self) -> Pubkey {
        self.faucet.pubkey()
    }

    pub fn genesis_hash(&self) -> Hash {
        self.genesis_hash
    }

    pub async fn slot(&self) -> Result<u64, String> {
        self.with_banks(|b| async move { b.get_root_slot().await.map_err(bank_error) }).await
    }

    pub async fn block_height(&self) -> Result<u64, String> {
        self.with_banks(|b| async move { b.get_root_block_height().await.map_err(bank_error) }).await
    }

    pub async fn clock(&self) -> Result<Clock, String> {
        self.with_banks(|b| async move { b.get_sysvar::<Clock>().await.map_err(bank_error) }).await
    }

    /// Where the bank is in its epoch.
    pub async fn epoch_info(&self) -> Result<EpochInfo, String> {
        self.on_bank(|state| async move {
            let banks = banks(&state);
            let clock = banks.get_sysvar::<Clock>().await.map_err(bank_error)?;
            let schedule = banks.get_sysvar::<EpochSchedule>().await.map_err(bank_error)?;
            let block_height = banks.get_root_block_height().await.map_err(bank_error)?;
            let (epoch, slot_index) = schedule.get_epoch_and_slot_index(clock.slot);
            Ok(EpochInfo {
                epoch,
                slot_index,
                slots_in_epoch: schedule.get_slots_in_epoch(epoch),
                absolute_slot: clock.slot,
                block_height,
                transaction_count: Some(state.borrow().transaction_count),
            })
        })
        .await?
    }

    /// The latest blockhash and the last block height at which it is valid.
    pub async fn latest_blockhash(&self) -> Result<(Hash, u64), String> {
        self.with_banks(|b| async move {
            b.get_latest_blockhash_with_commitment(Default::default())
                .await
                .map_err(bank_error)?
                .ok_or("no blockhash".into())
        })
        .await
    }

    pub async fn is_blockhash_valid(&self, blockhash: &Hash) -> Result<bool, String> {
        let blockhash = *blockhash;
        self.with_banks(move |b| async move { blockhash_valid(&b, &blockhash).await }).await
    }

    /// The fee for `message`, or `None` when its blockhash is not recent.
    pub async fn fee_for_message(&self, message: &VersionedMessage) -> Result<Option<u64>, String> {
        let message = message.clone();
        self.with_banks(move |b| async move { message_fee(&b, &message).await }).await
    }

    pub async fn rent_exempt_minimum(&self, data_len: usize) -> Result<u64, String> {
        self.with_banks(move |b| async move { Ok(b.get_rent().await.map_err(bank_error)?.minimum_balance(data_len)) })
            .await
    }

    pub async fn account(&self, key: &Pubkey) -> Result<Option<Account>, String> {
        let key = *key;
        self.with_banks(move |b| async move { b.get_account(key).await.map_err(bank_error) }).await
    }

    pub async fn accounts(&self, keys: &[Pubkey]) -> Result<Vec<Option<Account>>, String> {
        let keys = keys.to_vec();
        self.with_banks(move |b| async move { fetch(&b, &keys).await }).await
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
        let transaction = transaction.clone();
        self.with_banks(move |b| async move {
            let reply = b.simulate_transaction(transaction).await.map_err(bank_error)?;
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
        })
        .await
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
        let (owners, landed) = (self.owners.clone(), self.landed.clone());
        self.on_bank(move |state| execute(state, transaction, owners, landed))
            .await
            .and_then(|r| r)
            .map_err(SendError::Bank)?;
        Ok(signature)
    }

    /// Send `lamports` from the genesis faucet to `to`.
    pub async fn airdrop(&self, to: &Pubkey, lamports: u64) -> Result<Signature, AirdropError> {
        if lamports > MAX_AIRDROP_LAMPORTS {
            return Err(AirdropError::TooLarge(lamports));
        }
        let (faucet, to) = (self.faucet.insecure_clone(), *to);
        let (owners, landed) = (self.owners.clone(), self.landed.clone());
        let signature = self
            .on_bank(move |state| async move {
                let blockhash = banks(&state).get_latest_blockhash().await.map_err(bank_error)?;
                let ix = anchor_lang::solana_program::system_instruction::transfer(&faucet.pubkey(), &to, lamports);
                let tx = Transaction::new_signed_with_payer(&[ix], Some(&faucet.pubkey()), &[&faucet], blockhash);
                let signature = tx.signatures[0];
                execute(state, tx.into(), owners, landed).await?;
                Ok::<_, String>(signature)
            })
            .await
            .and_then(|r| r)
            .map_err(AirdropError::Failed)?;
        match self.landed(&signature) {
            Some(Landed { err: None, .. }) => Ok(signature),
            Some(Landed { err: Some(e), .. }) => Err(AirdropError::Failed(e.to_string())),
            None => Err(AirdropError::Failed("the transfer was not committed".into())),
        }
    }
}
