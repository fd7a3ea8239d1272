#![allow(deprecated)] // solana-program-test 3.1 marks its API "Agave Unstable".
//! `Chain` over solana-program-test's bank with Bulwark loaded natively (`processor!`) beside
//! the real SPL Token program. The bank keeps no account index, so this backend indexes every
//! account that passes through it (and any the caller registers) and answers
//! `program_accounts` by filtering those.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use anchor_lang::prelude::{AccountInfo, Pubkey};
use anchor_lang::solana_program::entrypoint::ProgramResult;
use solana_hash::Hash;
use solana_program_test::{processor, BanksClient, BanksClientError, ProgramTest};
use solana_signature::Signature;
use solana_transaction::Transaction;

use super::{Chain, ChainError, ChainResult, RawAccount, TxStatus};
use crate::accounts::AccountFilter;

/// Adapter: `processor!` hands the builtin independent lifetimes, Anchor 1.x's `entry` wants
/// one `'info` for all three arguments. The runtime keeps the id, every account and the data
/// alive for the whole call, so unifying them to the call's lifetime is sound here.
fn process_instruction(program_id: &Pubkey, accounts: &[AccountInfo], data: &[u8]) -> ProgramResult {
    let (program_id, accounts, data): (&Pubkey, &[AccountInfo], &[u8]) =
        unsafe { std::mem::transmute((program_id, accounts, data)) };
    bulwark::entry(program_id, accounts, data)
}

/// Which build of Bulwark a bank runs.
#[derive(Clone, Debug)]
pub enum ProgramBuild {
    /// The program compiled into this process and called as a builtin (`processor!`): quick to
    /// rebuild and debuggable, but blind to compute units, the stack and SBF-only behaviour.
    Native,
    /// The SBF bytecode (`target/deploy/bulwark.so`), run by the bank's virtual machine.
    Sbf { path: std::path::PathBuf, elf: Arc<Vec<u8>> },
}

/// The environment variable naming the SBF build the embedded bank runs instead of the native
/// one (`cargo xtask test` sets it to the `bulwark.so` it just built).
pub const PROGRAM_SO_ENV: &str = "BULWARK_SO";

impl ProgramBuild {
    /// Read an SBF build from `path`.
    pub fn sbf(path: impl AsRef<std::path::Path>) -> std::io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let elf = std::fs::read(&path)?;
        Ok(Self::Sbf { path, elf: Arc::new(elf) })
    }

    /// `BULWARK_SO` when set (an empty, missing or unreadable file is an error, never a
    /// silent native run), else the native build.
    pub fn from_env() -> std::io::Result<Self> {
        match std::env::var_os(PROGRAM_SO_ENV) {
            Some(path) if path.is_empty() => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{PROGRAM_SO_ENV} is set but empty: name a bulwark.so, or unset it for the native build"),
            )),
            Some(path) => Self::sbf(&path).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("{PROGRAM_SO_ENV}={}: {e}", std::path::Path::new(&path).display()),
                )
            }),
            None => Ok(Self::Native),
        }
    }

    /// One line for logs and start-up banners.
    pub fn describe(&self) -> String {
        match self {
            Self::Native => "native build (builtin; no compute-unit metering)".into(),
            Self::Sbf { path, elf } => {
                let modified = std::fs::metadata(path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .map(|age| format!(", built {} min ago", age.as_secs() / 60))
                    .unwrap_or_default();
                format!("SBF bytecode {} ({} bytes{modified})", path.display(), elf.len())
            }
        }
    }
}

/// A `ProgramTest` with Bulwark from `BULWARK_SO` when set, natively otherwise; add accounts
/// to it, start it, then call `install_event_capture`. Panics when `BULWARK_SO` names a file
/// that cannot be read: a test run must never fall back to the native build unnoticed.
pub fn program_test() -> ProgramTest {
    let build = ProgramBuild::from_env().unwrap_or_else(|e| panic!("{e}"));
    program_test_with(&build)
}

/// A `ProgramTest` running `build`.
pub fn program_test_with(build: &ProgramBuild) -> ProgramTest {
    let mut pt = ProgramTest::default();
    match build {
        ProgramBuild::Native => {
            pt.prefer_bpf(false);
            pt.add_program("bulwark", bulwark::ID, processor!(process_instruction));
        }
        ProgramBuild::Sbf { elf, .. } => {
            // What a deployment through the (non-upgradeable) BPF loader leaves on chain: an
            // executable account holding the ELF. The bank verifies and compiles it on first use.
            pt.add_account(
                bulwark::ID,
                solana_account::Account {
                    lamports: anchor_lang::prelude::Rent::default().minimum_balance(elf.len()).max(1),
                    data: elf.as_ref().clone(),
                    owner: solana_sdk_ids::bpf_loader::id(),
                    executable: true,
                    rent_epoch: 0,
                },
            );
        }
    }
    pt
}

/// Route native `emit!` output into transaction logs (once per process, after the first start).
pub fn install_event_capture() {
    super::native_events::install();
}

/// Fetch accounts from `banks` with many requests in flight at once, 256 at a time (the bank
/// answers them in turn; one at a time, each would wait a full round trip).
pub async fn fetch_accounts(
    banks: &BanksClient,
    keys: &[Pubkey],
) -> Result<Vec<Option<solana_account::Account>>, BanksClientError> {
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(256) {
        for reply in futures::future::join_all(chunk.iter().map(|k| banks.get_account(*k))).await {
            out.push(reply?);
        }
    }
    Ok(out)
}

/// Whether `blockhash` is still in the bank's recent queue: the bank prices a message only
/// while it is.
pub async fn blockhash_is_recent(banks: &BanksClient, blockhash: &Hash) -> Result<bool, BanksClientError> {
    let payer = Pubkey::new_unique();
    let message = solana_transaction::Message::new_with_blockhash(&[], Some(&payer), blockhash);
    Ok(banks.get_fee_for_message(message).await?.is_some())
}

/// What the index knows of an account's owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    /// Not fetched yet, or absent when last fetched.
    Unknown,
    /// Owned by Bulwark, with this data length.
    Bulwark(usize),
    /// Owned by another program: never a Bulwark account (owners do not change while an
    /// account lives; a closed one is deleted, and its key cannot be reused by the program's
    /// seeds for another type).
    Foreign,
}

/// The accounts an embedded bank is known to hold, and the data last read of each Bulwark
/// account. Shared by every handle on one bank.
///
/// Bulwark account data changes only through transactions (a test that writes an account
/// directly calls `forget_data`), and every transaction sent to the bank passes
/// `insert_transaction` before and after it is processed (`EmbeddedChain::send_transaction`,
/// the test harness's `send`), which drops the cached data of every account it may write: the
/// second pass covers a scan that read between the first and the write. So a scan re-reads only
/// the accounts written since the last one: at 10,000 margin accounts the difference between a
/// scan that costs a read per account and one that costs a read per change.
#[derive(Clone, Default)]
pub struct AccountIndex(Arc<Mutex<IndexState>>);

#[derive(Default)]
struct IndexState {
    seen: BTreeMap<Pubkey, Seen>,
    data: HashMap<Pubkey, Vec<u8>>,
    /// Transactions indexed so far: a read that a transaction may have overtaken (sent between
    /// the read's start and its end) is returned but not cached.
    transactions: u64,
}

impl AccountIndex {
    pub fn insert_all(&self, keys: impl IntoIterator<Item = Pubkey>) {
        let mut index = self.0.lock().unwrap();
        for key in keys {
            index.seen.entry(key).or_insert(Seen::Unknown);
        }
    }

    pub fn keys(&self) -> Vec<Pubkey> {
        self.0.lock().unwrap().seen.keys().copied().collect()
    }

    /// Keys that may be Bulwark accounts of `data_size` (any size when `None`), each with its
    /// cached data when no transaction may have written it since it was read.
    fn candidates(&self, data_size: Option<usize>) -> (u64, Vec<(Pubkey, Option<Vec<u8>>)>) {
        let index = self.0.lock().unwrap();
        let keys = index
            .seen
            .iter()
            .filter(|(_, seen)| match seen {
                Seen::Unknown => true,
                Seen::Bulwark(len) => data_size.is_none_or(|n| n == *len),
                Seen::Foreign => false,
            })
            .map(|(k, _)| (*k, index.data.get(k).cloned()))
            .collect();
        (index.transactions, keys)
    }

    /// What a read that began after `transactions` transactions found.
    fn record(&self, key: Pubkey, seen: Seen, data: Option<&[u8]>, transactions: u64) {
        let mut index = self.0.lock().unwrap();
        // A read a transaction overtook may predate a program taking the account over.
        let seen = if seen == Seen::Foreign && index.transactions != transactions { Seen::Unknown } else { seen };
        index.seen.insert(key, seen);
        match data {
            Some(data) if index.transactions == transactions => index.data.insert(key, data.to_vec()),
            _ => index.data.remove(&key),
        };
    }

    /// Forget every account's cached data and what is known of foreign owners: for a
    /// transaction sent to the bank some other way (a versioned one, with accounts from lookup
    /// tables) or an account written directly.
    pub fn forget_data(&self) {
        let mut index = self.0.lock().unwrap();
        index.transactions += 1;
        index.data.clear();
        for seen in index.seen.values_mut() {
            if *seen == Seen::Foreign {
                *seen = Seen::Unknown;
            }
        }
    }

    /// Index every account a transaction mentions, and forget the data of those it may write.
    pub fn insert_transaction(&self, transaction: &Transaction) {
        let message = &transaction.message;
        let mut index = self.0.lock().unwrap();
        index.transactions += 1;
        for (i, key) in message.account_keys.iter().enumerate() {
            let seen = index.seen.entry(*key).or_insert(Seen::Unknown);
            if message.is_maybe_writable(i, None) {
                // A written account may change owner (a system account a program takes over).
                if *seen == Seen::Foreign {
                    *seen = Seen::Unknown;
                }
                index.data.remove(key);
            }
        }
    }
}

#[derive(Clone)]
pub struct EmbeddedChain {
    banks: BanksClient,
    index: AccountIndex,
    /// Outcomes of transactions this handle processed, for `transaction_status` (the bank's
    /// own status has no logs).
    /// `None`: refused before it could land (the bank processes synchronously, so it never
    /// will); answering from here spares a search of the bank's whole status cache.
    outcomes: Arc<Mutex<HashMap<Signature, Option<TxStatus>>>>,
}

fn transport(e: BanksClientError) -> ChainError {
    ChainError::Transport(e.to_string())
}

impl EmbeddedChain {
    pub fn new(banks: BanksClient, index: AccountIndex) -> Self {
        Self { banks, index, outcomes: Arc::default() }
    }

    pub fn index(&self) -> &AccountIndex {
        &self.index
    }

    async fn fetch(&self, keys: &[Pubkey]) -> ChainResult<Vec<Option<solana_account::Account>>> {
        fetch_accounts(&self.banks, keys).await.map_err(transport)
    }
}

impl Chain for EmbeddedChain {
    async fn program_accounts(&self, filter: &AccountFilter) -> ChainResult<Vec<(Pubkey, Vec<u8>)>> {
        let (transactions, candidates) = self.index.candidates(filter.data_size);
        let stale: Vec<Pubkey> = candidates.iter().filter(|(_, data)| data.is_none()).map(|(k, _)| *k).collect();
        let mut fetched = stale.iter().copied().zip(self.fetch(&stale).await?);
        let mut out = Vec::new();
        for (key, cached) in candidates {
            let data = match cached {
                Some(data) => data,
                None => match fetched.next() {
                    Some((_, Some(account))) if account.owner == bulwark::ID => {
                        self.index.record(key, Seen::Bulwark(account.data.len()), Some(&account.data), transactions);
                        account.data
                    }
                    Some((_, Some(_))) => {
                        self.index.record(key, Seen::Foreign, None, transactions);
                        continue;
                    }
                    _ => {
                        self.index.record(key, Seen::Unknown, None, transactions);
                        continue;
                    }
                },
            };
            if filter.matches(&data) {
                out.push((key, data));
            }
        }
        Ok(out)
    }

    async fn accounts(&self, keys: &[Pubkey]) -> ChainResult<Vec<Option<RawAccount>>> {
        Ok(self
            .fetch(keys)
            .await?
            .into_iter()
            .map(|a| a.map(|a| RawAccount { owner: a.owner, lamports: a.lamports, data: a.data }))
            .collect())
    }

    async fn latest_blockhash(&self) -> ChainResult<Hash> {
        self.banks.get_latest_blockhash().await.map_err(transport)
    }

    async fn is_blockhash_valid(&self, blockhash: &Hash) -> ChainResult<bool> {
        blockhash_is_recent(&self.banks, blockhash).await.map_err(transport)
    }

    async fn send_transaction(&self, transaction: &Transaction) -> ChainResult<Signature> {
        self.index.insert_transaction(transaction);
        let signature = transaction.signatures[0];
        let result = self.banks.process_transaction_with_metadata(transaction.clone()).await;
        self.index.insert_transaction(transaction);
        let refused = |e: ChainError| {
            if !matches!(e, ChainError::Transport(_)) {
                self.outcomes.lock().unwrap().entry(signature).or_insert(None);
            }
            Err(e)
        };
        let status = match result {
            // Refused before execution (duplicate, unknown blockhash): nothing landed.
            Ok(r) if r.metadata.is_none() => {
                return refused(match r.result.err() {
                    Some(solana_transaction_error::TransactionError::BlockhashNotFound) => ChainError::BlockhashExpired,
                    // A duplicate: the first copy's outcome, if any, stands.
                    Some(solana_transaction_error::TransactionError::AlreadyProcessed) => {
                        return Err(ChainError::Transaction {
                            err: solana_transaction_error::TransactionError::AlreadyProcessed,
                            logs: vec![],
                        })
                    }
                    Some(err) => ChainError::Transaction { err, logs: vec![] },
                    None => ChainError::Transport("processed without metadata".into()),
                });
            }
            Ok(r) => {
                let logs = r.metadata.map(|m| m.log_messages).unwrap_or_default();
                TxStatus { slot: 0, err: r.result.err(), logs }
            }
            Err(BanksClientError::TransactionError(err)) => {
                return match err {
                    solana_transaction_error::TransactionError::AlreadyProcessed => {
                        Err(ChainError::Transaction { err, logs: vec![] })
                    }
                    err => refused(ChainError::Transaction { err, logs: vec![] }),
                }
            }
            Err(BanksClientError::SimulationError { err, logs, .. }) => {
                return refused(ChainError::Transaction { err, logs })
            }
            Err(e) => return Err(transport(e)),
        };
        let slot = self.banks.get_root_slot().await.unwrap_or_default();
        self.outcomes.lock().unwrap().insert(signature, Some(TxStatus { slot, ..status }));
        Ok(signature)
    }

    async fn transaction_status(&self, signature: &Signature) -> ChainResult<Option<TxStatus>> {
        if let Some(status) = self.outcomes.lock().unwrap().get(signature) {
            return Ok(status.clone());
        }
        // Sent through another handle on the same bank: the outcome without logs.
        let status = self.banks.get_transaction_status(*signature).await.map_err(transport)?;
        Ok(status.map(|s| TxStatus { slot: s.slot, err: s.err, logs: vec![] }))
    }
}
