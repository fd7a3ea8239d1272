//! The boundary between Bulwark's clients and a cluster. The keeper, CLI and simulator are
//! written against `Chain`; `rpc::RpcChain` talks JSON-RPC to a validator, `embedded` runs the
//! program natively inside solana-program-test's bank.

#[cfg(feature = "embedded")]
pub mod embedded;
#[cfg(feature = "embedded")]
mod native_events;
#[cfg(feature = "rpc")]
pub mod rpc;

use std::time::Duration;

use anchor_lang::prelude::{Clock, Pubkey};
use anchor_lang::solana_program::instruction::error::InstructionError;
use anchor_lang::solana_program::instruction::Instruction;
use bulwark::error::BulwarkError;
use solana_keypair::Keypair;

use solana_signer::Signer;
use solana_transaction_error::TransactionError;

use crate::accounts::{AccountFilter, ProgramAccount};

pub use solana_hash::Hash;
pub use solana_signature::Signature;
pub use solana_transaction::Transaction;

pub type ChainResult<T> = Result<T, ChainError>;

/// What went wrong talking to the cluster, sorted by what a caller can do about it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The node could not be reached or answered with something unusable. Reads may be retried;
    /// a send may or may not have been delivered.
    #[error("transport: {0}")]
    Transport(String),
    /// No answer in time; for a send, the outcome is unknown.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The transaction was executed (or simulated in preflight) and failed.
    #[error("transaction failed: {err}")]
    Transaction { err: TransactionError, logs: Vec<String> },
    /// The node refused the request itself (malformed, too large, bad signature): repeating it
    /// will not help.
    #[error("rejected: {0}")]
    Rejected(String),
    /// The blockhash expired with the transaction nowhere seen: it did not land and never will.
    #[error("blockhash expired before the transaction landed")]
    BlockhashExpired,
}

impl ChainError {
    /// The program's custom error code, if an instruction failed with one.
    pub fn custom_code(&self) -> Option<u32> {
        match self {
            Self::Transaction {
                err: TransactionError::InstructionError(_, InstructionError::Custom(code)), ..
            } => Some(*code),
            _ => None,
        }
    }

    /// Did an instruction fail with exactly this Bulwark error?
    pub fn is_bulwark(&self, error: BulwarkError) -> bool {
        self.custom_code() == Some(u32::from(error))
    }

    /// One line for a person: a program error by name and message, anything else as is.
    pub fn describe(&self) -> String {
        match self.custom_code().and_then(crate::errors::program_error) {
            Some(e) => format!("{} ({}): {}", e.name, e.code, e.message),
            None => self.to_string(),
        }
    }

    /// A failure that a later attempt may not repeat: transport trouble or an expired blockhash.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transport(_) | Self::Timeout(_) | Self::BlockhashExpired)
    }
}

/// A fetched account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawAccount {
    pub owner: Pubkey,
    pub lamports: u64,
    pub data: Vec<u8>,
}

/// How a landed transaction ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxStatus {
    pub slot: u64,
    pub err: Option<TransactionError>,
    pub logs: Vec<String>,
}

/// A landed, successful transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Landed {
    pub signature: Signature,
    pub slot: u64,
    pub logs: Vec<String>,
}

/// The cluster operations Bulwark's clients use. Futures need not be `Send`: one keeper drives
/// its chain from one task.
#[allow(async_fn_in_trait)]
pub trait Chain {
    /// Bulwark-owned accounts passing `filter` (getProgramAccounts).
    async fn program_accounts(&self, filter: &AccountFilter) -> ChainResult<Vec<(Pubkey, Vec<u8>)>>;
    /// Accounts by key, `None` where absent (getMultipleAccounts).
    async fn accounts(&self, keys: &[Pubkey]) -> ChainResult<Vec<Option<RawAccount>>>;
    async fn latest_blockhash(&self) -> ChainResult<Hash>;
    async fn is_blockhash_valid(&self, blockhash: &Hash) -> ChainResult<bool>;
    /// Submit a signed transaction. A failure seen before landing (preflight) is
    /// `ChainError::Transaction`; `Transport`/`Timeout` leave delivery unknown.
    async fn send_transaction(&self, transaction: &Transaction) -> ChainResult<Signature>;
    /// The transaction's outcome once it has landed at the client's commitment; `None` before.
    async fn transaction_status(&self, signature: &Signature) -> ChainResult<Option<TxStatus>>;

    /// The cluster clock (read from the Clock sysvar account).
    async fn clock(&self) -> ChainResult<Clock> {
        let account = self.accounts(&[CLOCK_SYSVAR_ID]).await?.pop().flatten();
        let data = account.ok_or_else(|| ChainError::Transport("clock sysvar missing".into()))?.data;
        decode_clock(&data).ok_or_else(|| ChainError::Transport("clock sysvar malformed".into()))
    }

    /// One account decoded as `T`, `None` when absent or not a `T`.
    async fn load<T: ProgramAccount>(&self, key: &Pubkey) -> ChainResult<Option<T>> {
        let account = self.accounts(&[*key]).await?.pop().flatten();
        Ok(account.filter(|a| a.owner == bulwark::ID).and_then(|a| T::decode(&a.data).ok()))
    }
}

/// The Clock sysvar's bincode layout: five little-endian 8-byte fields.
pub fn decode_clock(data: &[u8]) -> Option<Clock> {
    let field = |i: usize| data.get(i * 8..i * 8 + 8).map(|b| <[u8; 8]>::try_from(b).unwrap());
    Some(Clock {
        slot: u64::from_le_bytes(field(0)?),
        epoch_start_timestamp: i64::from_le_bytes(field(1)?),
        epoch: u64::from_le_bytes(field(2)?),
        leader_schedule_epoch: u64::from_le_bytes(field(3)?),
        unix_timestamp: i64::from_le_bytes(field(4)?),
    })
}

/// The Clock sysvar's address.
pub const CLOCK_SYSVAR_ID: Pubkey = anchor_lang::prelude::pubkey!("SysvarC1ock11111111111111111111111111111111");

/// The most bytes a transaction may take on the wire (IPv6 MTU minus headers).
pub const PACKET_DATA_SIZE: usize = 1_232;

fn short_vec_len(n: usize) -> usize {
    match n {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        _ => 3,
    }
}

/// Bytes of the legacy transaction `instructions` make with `payer`, signatures included.
pub fn transaction_size(instructions: &[Instruction], payer: &Pubkey) -> usize {
    let message = Transaction::new_with_payer(instructions, Some(payer)).message;
    let signatures = message.header.num_required_signatures as usize;
    let compiled: usize = message
        .instructions
        .iter()
        .map(|ix| {
            1 + short_vec_len(ix.accounts.len()) + ix.accounts.len() + short_vec_len(ix.data.len()) + ix.data.len()
        })
        .sum();
    short_vec_len(signatures)
        + 64 * signatures
        + 3
        + short_vec_len(message.account_keys.len())
        + 32 * message.account_keys.len()
        + 32
        + short_vec_len(message.instructions.len())
        + compiled
}

/// How hard `send_and_confirm` tries.
#[derive(Clone, Copy, Debug)]
pub struct ConfirmOptions {
    /// Between status polls.
    pub poll_interval: Duration,
    /// Give up waiting (outcome unknown: `ChainError::Timeout`) after this long on one blockhash.
    pub timeout: Duration,
    /// Re-sign with a fresh blockhash at most this many times after one expires unseen.
    pub max_resigns: u32,
}

impl Default for ConfirmOptions {
    fn default() -> Self {
        Self { poll_interval: Duration::from_millis(400), timeout: Duration::from_secs(90), max_resigns: 2 }
    }
}

/// Sign `instructions` with `payer` (first signer, fee payer) and `signers`, send, and wait for
/// the outcome. While its blockhash lives the same signed transaction is rebroadcast, which
/// can land at most once; it is re-signed only after that blockhash has expired with the
/// transaction nowhere seen. A transport error on send is not a failure: the node may have
/// received it, so its signature is polled.
pub async fn send_and_confirm<C: Chain + ?Sized>(
    chain: &C,
    instructions: &[Instruction],
    payer: &Keypair,
    signers: &[&Keypair],
    options: ConfirmOptions,
) -> ChainResult<Landed> {
    send_and_confirm_tracked(chain, instructions, payer, signers, options, &mut Vec::new()).await
}

/// One signed attempt: its signature and the blockhash it lives by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    pub signature: Signature,
    pub blockhash: Hash,
}

/// `send_and_confirm` for a caller that may call again for the same instructions (a retry):
/// `sent` records every attempt, and a new call re-signs with the blockhash of an earlier
/// attempt that is still valid. Signing is deterministic, so that is the same transaction
/// again: a crank never has two different live transactions, whatever the retries.
pub async fn send_and_confirm_tracked<C: Chain + ?Sized>(
    chain: &C,
    instructions: &[Instruction],
    payer: &Keypair,
    signers: &[&Keypair],
    options: ConfirmOptions,
    sent: &mut Vec<Sent>,
) -> ChainResult<Landed> {
    let mut keys: Vec<&Keypair> = vec![payer];
    keys.extend(signers.iter().copied().filter(|k| k.pubkey() != payer.pubkey()));
    let mut resigns = 0;
    loop {
        let mut blockhash = None;
        for earlier in sent.iter().rev() {
            if chain.is_blockhash_valid(&earlier.blockhash).await.unwrap_or(true) {
                blockhash = Some(earlier.blockhash);
                break;
            }
        }
        let blockhash = match blockhash {
            Some(hash) => hash,
            None => chain.latest_blockhash().await?,
        };
        let tx = Transaction::new_signed_with_payer(instructions, Some(&payer.pubkey()), &keys, blockhash);
        let signature = tx.signatures[0];
        if !sent.iter().any(|s| s.signature == signature) {
            sent.push(Sent { signature, blockhash });
        }
        match chain.send_transaction(&tx).await {
            Ok(_) | Err(ChainError::Transport(_) | ChainError::Timeout(_)) => {}
            Err(ChainError::Transaction { err: TransactionError::BlockhashNotFound, .. })
            | Err(ChainError::BlockhashExpired) => {
                if resigns >= options.max_resigns {
                    return Err(ChainError::BlockhashExpired);
                }
                resigns += 1;
                continue;
            }
            Err(ChainError::Transaction { err: TransactionError::AlreadyProcessed, .. }) => {}
            Err(e) => return Err(e),
        }
        match wait_for(chain, &tx, &blockhash, options).await? {
            Some(status) => {
                return match status.err {
                    None => Ok(Landed { signature, slot: status.slot, logs: status.logs }),
                    Some(err) => Err(ChainError::Transaction { err, logs: status.logs }),
                };
            }
            None if resigns < options.max_resigns => resigns += 1,
            None => return Err(ChainError::BlockhashExpired),
        }
    }
}

/// Poll until the signature has a status (`Some`), or its blockhash is no longer valid and a
/// last look finds none (`None`: it will never land). Times out with the outcome unknown.
async fn wait_for<C: Chain + ?Sized>(
    chain: &C,
    tx: &Transaction,
    blockhash: &Hash,
    options: ConfirmOptions,
) -> ChainResult<Option<TxStatus>> {
    let signature = tx.signatures[0];
    let started = std::time::Instant::now();
    loop {
        match chain.transaction_status(&signature).await {
            Ok(Some(status)) => return Ok(Some(status)),
            Ok(None) => {
                if !chain.is_blockhash_valid(blockhash).await.unwrap_or(true) {
                    // Expired: one more look closes the race with a late landing.
                    return chain.transaction_status(&signature).await;
                }
                // Not seen yet: rebroadcast the same signed bytes (idempotent by signature).
                // Its errors are moot; the status poll decides.
                let _ = chain.send_transaction(tx).await;
            }
            Err(e) if e.is_retryable() => {}
            Err(e) => return Err(e),
        }
        if started.elapsed() >= options.timeout {
            return Err(ChainError::Timeout(format!("no status for {signature}")));
        }
        tokio::time::sleep(options.poll_interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_size_matches_the_wire_format() {
        // A system transfer: one signature, three keys, 12 bytes of data: the well-known 215 bytes.
        let (from, to) = (Pubkey::new_unique(), Pubkey::new_unique());
        let system = Pubkey::default();
        let transfer = Instruction {
            program_id: system,
            accounts: vec![
                anchor_lang::solana_program::instruction::AccountMeta::new(from, true),
                anchor_lang::solana_program::instruction::AccountMeta::new(to, false),
            ],
            data: vec![0; 12],
        };
        assert_eq!(transaction_size(&[transfer], &from), 215);
    }

    #[test]
    fn clock_layout_and_error_classes() {
        let mut data = Vec::new();
        for v in [77u64, 1, 2, 3, 1_700_000_000] {
            data.extend_from_slice(&v.to_le_bytes());
        }
        let clock = decode_clock(&data).unwrap();
        assert_eq!((clock.slot, clock.unix_timestamp), (77, 1_700_000_000));
        assert!(decode_clock(&data[..39]).is_none());

        let custom = |e: BulwarkError| ChainError::Transaction {
            err: TransactionError::InstructionError(1, InstructionError::Custom(u32::from(e))),
            logs: vec![],
        };
        let lost = custom(BulwarkError::AccountNotLiquidatable);
        assert!(lost.is_bulwark(BulwarkError::AccountNotLiquidatable));
        assert!(!lost.is_bulwark(BulwarkError::FundingNotDue));
        assert!(!lost.is_retryable());
        assert!(ChainError::Timeout("x".into()).is_retryable());
        assert_eq!(ChainError::Transport("x".into()).custom_code(), None);
    }
}
