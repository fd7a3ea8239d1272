//! The Solana JSON-RPC methods the node serves, with the response and error shapes of an Agave
//! validator (the types are solana-rpc-client's own, so its `RpcClient` parses them as it
//! would a validator's).

use std::str::FromStr;
use std::sync::Arc;

use anchor_lang::prelude::Pubkey;
use base64::{prelude::BASE64_STANDARD, Engine};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::RpcModule;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use solana_account::Account;
use solana_account_decoder_client_types::{UiAccount, UiAccountData, UiAccountEncoding, UiDataSliceConfig};
use solana_hash::Hash;
use solana_message::VersionedMessage;
use solana_rpc_client_types::config::{
    RpcAccountInfoConfig, RpcContextConfig, RpcEncodingConfigWrapper, RpcProgramAccountsConfig,
    RpcRequestAirdropConfig, RpcSendTransactionConfig, RpcSignatureStatusConfig, RpcSimulateTransactionConfig,
    RpcTransactionConfig,
};
use solana_rpc_client_types::filter::RpcFilterType;
use solana_rpc_client_types::response::{
    Response, RpcApiVersion, RpcBlockhash, RpcKeyedAccount, RpcResponseContext, RpcSimulateTransactionResult,
    RpcVersionInfo,
};
use solana_signature::Signature;
use solana_transaction::versioned::{TransactionVersion, VersionedTransaction};
use solana_transaction_status_client_types::option_serializer::OptionSerializer;
use solana_transaction_status_client_types::{
    EncodedConfirmedTransactionWithStatusMeta, EncodedTransaction, EncodedTransactionWithStatusMeta,
    TransactionBinaryEncoding, TransactionConfirmationStatus, TransactionStatus, UiCompiledInstruction, UiMessage,
    UiRawMessage, UiReturnDataEncoding, UiTransaction, UiTransactionEncoding, UiTransactionReturnData,
    UiTransactionStatusMeta,
};

use crate::node::{AirdropError, Landed, Node, SendError, Simulated};

/// The Solana version whose RPC this node follows.
pub const SOLANA_CORE_VERSION: &str = "3.1.12";

// Agave's limits and error codes (agave `rpc-client-api` `custom_error.rs` and `rpc.rs`).
pub const MAX_MULTIPLE_ACCOUNTS: usize = 100;
pub const MAX_SIGNATURE_STATUSES: usize = 256;
pub const MAX_GET_PROGRAM_ACCOUNT_FILTERS: usize = 4;
pub const MAX_BASE58_BYTES: usize = 128;
pub const PACKET_DATA_SIZE: usize = 1232;
const MAX_BASE58_TRANSACTION: usize = 1683;
const MAX_BASE64_TRANSACTION: usize = 1644;

pub const INVALID_PARAMS: i32 = -32602;
pub const INTERNAL_ERROR: i32 = -32603;
pub const SEND_TRANSACTION_PREFLIGHT_FAILURE: i32 = -32002;
pub const TRANSACTION_SIGNATURE_VERIFICATION_FAILURE: i32 = -32003;
pub const UNSUPPORTED_TRANSACTION_VERSION: i32 = -32015;
pub const MIN_CONTEXT_SLOT_NOT_REACHED: i32 = -32016;

type RpcResult = Result<Value, ErrorObjectOwned>;

fn error(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, message.into(), None::<()>)
}

pub(crate) fn invalid_params(message: impl Into<String>) -> ErrorObjectOwned {
    error(INVALID_PARAMS, message)
}

pub(crate) fn internal(message: impl std::fmt::Display) -> ErrorObjectOwned {
    error(INTERNAL_ERROR, format!("Internal error: {message}"))
}

fn to_value<T: Serialize>(value: T) -> RpcResult {
    serde_json::to_value(value).map_err(internal)
}

/// Positional parameters: required ones first, then optional ones (absent or null).
pub(crate) struct Positional(Vec<Value>);

impl Positional {
    pub(crate) fn of(params: &Params) -> Result<Self, ErrorObjectOwned> {
        match params.as_str() {
            None => Ok(Self(vec![])),
            Some(raw) => match serde_json::from_str::<Value>(raw) {
                Ok(Value::Array(values)) => Ok(Self(values)),
                Ok(Value::Null) => Ok(Self(vec![])),
                Ok(_) => Err(invalid_params("Invalid params: expected an array of parameters")),
                Err(e) => Err(invalid_params(format!("Invalid params: {e}"))),
            },
        }
    }

    pub(crate) fn required<T: DeserializeOwned>(&self, index: usize, name: &str) -> Result<T, ErrorObjectOwned> {
        let value = self.0.get(index).ok_or_else(|| invalid_params(format!("missing field `{name}`")))?;
        serde_json::from_value(value.clone()).map_err(|e| invalid_params(format!("Invalid params: {e}")))
    }

    pub(crate) fn optional<T: DeserializeOwned>(&self, index: usize) -> Result<Option<T>, ErrorObjectOwned> {
        match self.0.get(index) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => serde_json::from_value(value.clone())
                .map(Some)
                .map_err(|e| invalid_params(format!("Invalid params: {e}"))),
        }
    }
}

pub(crate) fn pubkey(s: &str) -> Result<Pubkey, ErrorObjectOwned> {
    Pubkey::from_str(s).map_err(|e| invalid_params(format!("Invalid param: {e}")))
}

pub(crate) fn signature(s: &str) -> Result<Signature, ErrorObjectOwned> {
    Signature::from_str(s).map_err(|e| invalid_params(format!("Invalid param: {e}")))
}

fn hash(s: &str) -> Result<Hash, ErrorObjectOwned> {
    Hash::from_str(s).map_err(|e| invalid_params(format!("Invalid param: {e}")))
}

async fn context(node: &Node, min_context_slot: Option<u64>) -> Result<RpcResponseContext, ErrorObjectOwned> {
    let slot = node.slot().await.map_err(internal)?;
    if let Some(min) = min_context_slot {
        if slot < min {
            return Err(ErrorObjectOwned::owned(
                MIN_CONTEXT_SLOT_NOT_REACHED,
                "Minimum context slot has not been reached",
                Some(json!({ "contextSlot": slot })),
            ));
        }
    }
    Ok(RpcResponseContext { slot, api_version: Some(RpcApiVersion::default()) })
}

async fn respond<T: Serialize>(node: &Node, min_context_slot: Option<u64>, value: T) -> RpcResult {
    to_value(Response { context: context(node, min_context_slot).await?, value })
}

/// An account in the requested encoding, as Agave encodes it.
pub fn encode_account(
    account: &Account,
    encoding: UiAccountEncoding,
    slice: Option<UiDataSliceConfig>,
) -> Result<UiAccount, ErrorObjectOwned> {
    let data = match slice {
        Some(UiDataSliceConfig { offset, length }) => {
            let start = offset.min(account.data.len());
            let end = offset.saturating_add(length).min(account.data.len());
            &account.data[start..end]
        }
        None => &account.data[..],
    };
    let data = match encoding {
        UiAccountEncoding::Binary | UiAccountEncoding::Base58 => {
            if data.len() > MAX_BASE58_BYTES {
                return Err(invalid_params(format!(
                    "Encoded binary (base 58) data should be less than {MAX_BASE58_BYTES} bytes, please use Base64 \
                     encoding."
                )));
            }
            let text = bs58::encode(data).into_string();
            if encoding == UiAccountEncoding::Binary {
                UiAccountData::LegacyBinary(text)
            } else {
                UiAccountData::Binary(text, UiAccountEncoding::Base58)
            }
        }
        // No parser is registered for any program here; Agave answers base64 in that case.
        UiAccountEncoding::Base64 | UiAccountEncoding::JsonParsed => {
            UiAccountData::Binary(BASE64_STANDARD.encode(data), UiAccountEncoding::Base64)
        }
        UiAccountEncoding::Base64Zstd => {
            let compressed = zstd::encode_all(data, 0).map_err(internal)?;
            UiAccountData::Binary(BASE64_STANDARD.encode(compressed), UiAccountEncoding::Base64Zstd)
        }
    };
    Ok(UiAccount {
        lamports: account.lamports,
        data,
        owner: account.owner.to_string(),
        executable: account.executable,
        rent_epoch: account.rent_epoch,
        space: Some(account.data.len() as u64),
    })
}

/// getAccountInfo and getProgramAccounts default to legacy base58, as Agave's.
pub(crate) fn account_encoding(config: &RpcAccountInfoConfig) -> UiAccountEncoding {
    config.encoding.unwrap_or(UiAccountEncoding::Binary)
}

/// Decode a wire transaction (base58 by default, as Agave) with Agave's size limits.
pub fn decode_transaction(
    data: &str,
    encoding: UiTransactionEncoding,
) -> Result<VersionedTransaction, ErrorObjectOwned> {
    let type_name = "solana_transaction::versioned::VersionedTransaction";
    let bytes = match encoding {
        UiTransactionEncoding::Base58 | UiTransactionEncoding::Binary => {
            if data.len() > MAX_BASE58_TRANSACTION {
                return Err(invalid_params(format!(
                    "base58 encoded {type_name} too large: {} bytes (max: encoded/raw {MAX_BASE58_TRANSACTION}/{PACKET_DATA_SIZE})",
                    data.len()
                )));
            }
            bs58::decode(data).into_vec().map_err(|e| invalid_params(format!("invalid base58 encoding: {e:?}")))?
        }
        UiTransactionEncoding::Base64 => {
            if data.len() > MAX_BASE64_TRANSACTION {
                return Err(invalid_params(format!(
                    "base64 encoded {type_name} too large: {} bytes (max: encoded/raw {MAX_BASE64_TRANSACTION}/{PACKET_DATA_SIZE})",
                    data.len()
                )));
            }
            BASE64_STANDARD.decode(data).map_err(|e| invalid_params(format!("invalid base64 encoding: {e:?}")))?
        }
        other => {
            return Err(invalid_params(format!("unsupported encoding: {other}. Supported encodings: base58, base64")))
        }
    };
    if bytes.len() > PACKET_DATA_SIZE {
        return Err(invalid_params(format!(
            "decoded {type_name} too large: {} bytes (max: {PACKET_DATA_SIZE} bytes)",
            bytes.len()
        )));
    }
    let transaction: VersionedTransaction =
        bincode::deserialize(&bytes).map_err(|e| invalid_params(format!("failed to deserialize {type_name}: {e}")))?;
    transaction.sanitize().map_err(|e| invalid_params(format!("invalid transaction: {e}")))?;
    Ok(transaction)
}

fn simulation_result(simulated: Simulated, fee: Option<u64>) -> RpcSimulateTransactionResult {
    RpcSimulateTransactionResult {
        err: simulated.err.map(Into::into),
        logs: Some(simulated.logs),
        accounts: None,
        units_consumed: Some(simulated.units_consumed),
        loaded_accounts_data_size: Some(simulated.loaded_accounts_data_size),
        return_data: simulated.return_data.map(|(program_id, data)| UiTransactionReturnData {
            program_id: program_id.to_string(),
            data: (BASE64_STANDARD.encode(data), UiReturnDataEncoding::Base64),
        }),
        inner_instructions: None,
        replacement_blockhash: None,
        fee,
        pre_balances: None,
        post_balances: None,
        pre_token_balances: None,
        post_token_balances: None,
        loaded_addresses: None,
    }
}

fn preflight_failure(simulated: Simulated) -> ErrorObjectOwned {
    let message = match &simulated.err {
        Some(err) => format!("Transaction simulation failed: {err}"),
        None => "Transaction simulation failed".to_string(),
    };
    ErrorObjectOwned::owned(SEND_TRANSACTION_PREFLIGHT_FAILURE, message, Some(simulation_result(simulated, None)))
}

fn verify_signatures(transaction: &VersionedTransaction) -> Result<(), ErrorObjectOwned> {
    if transaction.verify_with_results().iter().all(|ok| *ok) {
        Ok(())
    } else {
        Err(error(TRANSACTION_SIGNATURE_VERIFICATION_FAILURE, "Transaction signature verification failure"))
    }
}

fn status_of(landed: &Landed) -> TransactionStatus {
    TransactionStatus {
        slot: landed.slot,
        // Every bank here is rooted as soon as it is replaced: nothing is ever rolled back.
        confirmations: None,
        status: landed.err.clone().map_or(Ok(()), Err),
        err: landed.err.clone(),
        confirmation_status: Some(TransactionConfirmationStatus::Finalized),
    }
}

fn json_transaction(transaction: &VersionedTransaction) -> UiTransaction {
    let message = &transaction.message;
    UiTransaction {
        signatures: transaction.signatures.iter().map(ToString::to_string).collect(),
        message: UiMessage::Raw(UiRawMessage {
            header: *message.header(),
            account_keys: message.static_account_keys().iter().map(ToString::to_string).collect(),
            recent_blockhash: message.recent_blockhash().to_string(),
            instructions: message.instructions().iter().map(|ix| UiCompiledInstruction::from(ix, None)).collect(),
            address_table_lookups: match message {
                VersionedMessage::Legacy(_) => None,
                VersionedMessage::V0(m) => Some(m.address_table_lookups.iter().map(Into::into).collect()),
            },
        }),
    }
}

fn encoded_transaction(
    landed: Landed,
    encoding: UiTransactionEncoding,
    max_supported_version: Option<u8>,
) -> Result<EncodedConfirmedTransactionWithStatusMeta, ErrorObjectOwned> {
    let version = match (&landed.transaction.message, max_supported_version) {
        (VersionedMessage::Legacy(_), None) => None,
        (VersionedMessage::Legacy(_), Some(_)) => Some(TransactionVersion::LEGACY),
        (VersionedMessage::V0(_), Some(_)) => Some(TransactionVersion::Number(0)),
        (VersionedMessage::V0(_), _) => {
            return Err(error(
                UNSUPPORTED_TRANSACTION_VERSION,
                "Transaction version (0) is not supported by the requesting client. Please try the request again \
                 with the following configuration parameter: \"maxSupportedTransactionVersion\": 0",
            ))
        }
    };
    let wire = || bincode::serialize(&landed.transaction).map_err(internal);
    let transaction = match encoding {
        UiTransactionEncoding::Binary => EncodedTransaction::LegacyBinary(bs58::encode(wire()?).into_string()),
        UiTransactionEncoding::Base58 => {
            EncodedTransaction::Binary(bs58::encode(wire()?).into_string(), TransactionBinaryEncoding::Base58)
        }
        UiTransactionEncoding::Base64 => {
            EncodedTransaction::Binary(BASE64_STANDARD.encode(wire()?), TransactionBinaryEncoding::Base64)
        }
        // No instruction parsers here: jsonParsed is answered as raw JSON.
        UiTransactionEncoding::Json | UiTransactionEncoding::JsonParsed => {
            EncodedTransaction::Json(json_transaction(&landed.transaction))
        }
    };
    let meta = UiTransactionStatusMeta {
        err: landed.err.clone().map(Into::into),
        status: landed.err.clone().map_or(Ok(()), |e| Err(e.into())),
        fee: landed.fee,
        pre_balances: landed.pre_balances,
        post_balances: landed.post_balances,
        inner_instructions: OptionSerializer::None,
        log_messages: OptionSerializer::Some(landed.logs),
        pre_token_balances: OptionSerializer::None,
        post_token_balances: OptionSerializer::None,
        rewards: OptionSerializer::None,
        loaded_addresses: OptionSerializer::Skip,
        return_data: OptionSerializer::Skip,
        compute_units_consumed: OptionSerializer::Some(landed.compute_units),
        cost_units: OptionSerializer::Skip,
    };
    Ok(EncodedConfirmedTransactionWithStatusMeta {
        slot: landed.slot,
        transaction: EncodedTransactionWithStatusMeta { transaction, meta: Some(meta), version },
        block_time: Some(landed.block_time),
    })
}

/// Agave's checks on getProgramAccounts and programSubscribe filters, with memcmp bytes
/// decoded once.
pub(crate) fn verified_filters(filters: Option<Vec<RpcFilterType>>) -> Result<Vec<RpcFilterType>, ErrorObjectOwned> {
    let mut filters = filters.unwrap_or_default();
    if filters.len() > MAX_GET_PROGRAM_ACCOUNT_FILTERS {
        return Err(invalid_params(format!("Too many filters provided; max {MAX_GET_PROGRAM_ACCOUNT_FILTERS}")));
    }
    for filter in &mut filters {
        filter.verify().map_err(|e| invalid_params(format!("Invalid param: {e:?}")))?;
        if let RpcFilterType::Memcmp(m) = filter {
            m.convert_to_raw_bytes().map_err(|e| invalid_params(format!("Invalid param: {e:?}")))?;
        }
    }
    Ok(filters)
}

pub(crate) fn filters_match(filters: &[RpcFilterType], data: &[u8]) -> bool {
    filters.iter().all(|f| match f {
        RpcFilterType::DataSize(size) => data.len() as u64 == *size,
        RpcFilterType::Memcmp(m) => m.bytes_match(data),
        // An initialised SPL Token account: 165 bytes, state byte (offset 108) non-zero.
        RpcFilterType::TokenAccountState => data.len() == 165 && data[108] != 0,
    })
}

/// The parameters of the warp method.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WarpRequest {
    #[serde(default)]
    pub slots: u64,
    #[serde(default)]
    pub seconds: i64,
}

/// The name of the node's one non-Solana method: move slots and the clock forward.
pub const WARP_METHOD: &str = "bulwark_warpClock";

/// Every method the node serves.
pub fn module(node: Arc<Node>) -> RpcModule<Arc<Node>> {
    let mut module = RpcModule::new(node);
    macro_rules! method {
        ($name:expr, $handler:ident) => {
            module
                .register_async_method($name, |params, node, _| async move {
                    let params = Positional::of(&params)?;
                    $handler(&node, params).await
                })
                .expect("method names are unique");
        };
    }
    method!("getVersion", get_version);
    method!("getHealth", get_health);
    method!("getSlot", get_slot);
    method!("getBlockHeight", get_block_height);
    method!("getGenesisHash", get_genesis_hash);
    method!("getLatestBlockhash", get_latest_blockhash);
    method!("isBlockhashValid", is_blockhash_valid);
    method!("getAccountInfo", get_account_info);
    method!("getMultipleAccounts", get_multiple_accounts);
    method!("getProgramAccounts", get_program_accounts);
    method!("getBalance", get_balance);
    method!("getMinimumBalanceForRentExemption", get_minimum_balance_for_rent_exemption);
    method!("getFeeForMessage", get_fee_for_message);
    method!("getSignatureStatuses", get_signature_statuses);
    method!("getTransaction", get_transaction);
    method!("sendTransaction", send_transaction);
    method!("simulateTransaction", simulate_transaction);
    method!("requestAirdrop", request_airdrop);
    method!("getEpochInfo", get_epoch_info);
    method!(WARP_METHOD, warp_clock);
    crate::pubsub::register(&mut module);
    module
}

async fn get_version(_node: &Node, _params: Positional) -> RpcResult {
    to_value(RpcVersionInfo { solana_core: SOLANA_CORE_VERSION.to_string(), feature_set: None })
}

async fn get_health(_node: &Node, _params: Positional) -> RpcResult {
    Ok(json!("ok"))
}

async fn get_slot(node: &Node, params: Positional) -> RpcResult {
    let config: RpcContextConfig = params.optional(0)?.unwrap_or_default();
    let context = context(node, config.min_context_slot).await?;
    Ok(json!(context.slot))
}

async fn get_epoch_info(node: &Node, params: Positional) -> RpcResult {
    let config: RpcContextConfig = params.optional(0)?.unwrap_or_default();
    context(node, config.min_context_slot).await?;
    to_value(node.epoch_info().await.map_err(internal)?)
}

async fn get_block_height(node: &Node, params: Positional) -> RpcResult {
    let config: RpcContextConfig = params.optional(0)?.unwrap_or_default();
    context(node, config.min_context_slot).await?;
    Ok(json!(node.block_height().await.map_err(internal)?))
}

async fn get_genesis_hash(node: &Node, _params: Positional) -> RpcResult {
    Ok(json!(node.genesis_hash().to_string()))
}

async fn get_latest_blockhash(node: &Node, params: Positional) -> RpcResult {
    let config: RpcContextConfig = params.optional(0)?.unwrap_or_default();
    let (blockhash, last_valid_block_height) = node.latest_blockhash().await.map_err(internal)?;
    respond(node, config.min_context_slot, RpcBlockhash { blockhash: blockhash.to_string(), last_valid_block_height })
        .await
}

async fn is_blockhash_valid(node: &Node, params: Positional) -> RpcResult {
    let blockhash = hash(&params.required::<String>(0, "blockhash")?)?;
    let config: RpcContextConfig = params.optional(1)?.unwrap_or_default();
    let valid = node.is_blockhash_valid(&blockhash).await.map_err(internal)?;
    respond(node, config.min_context_slot, valid).await
}

async fn get_account_info(node: &Node, params: Positional) -> RpcResult {
    let key = pubkey(&params.required::<String>(0, "pubkey")?)?;
    let config: RpcAccountInfoConfig = params.optional(1)?.unwrap_or_default();
    let account = node.account(&key).await.map_err(internal)?;
    let value = account.map(|a| encode_account(&a, account_encoding(&config), config.data_slice)).transpose()?;
    respond(node, config.min_context_slot, value).await
}

async fn get_multiple_accounts(node: &Node, params: Positional) -> RpcResult {
    let keys: Vec<String> = params.required(0, "pubkeys")?;
    if keys.len() > MAX_MULTIPLE_ACCOUNTS {
        return Err(invalid_params(format!("Too many inputs provided; max {MAX_MULTIPLE_ACCOUNTS}")));
    }
    let keys = keys.iter().map(|k| pubkey(k)).collect::<Result<Vec<_>, _>>()?;
    let config: RpcAccountInfoConfig = params.optional(1)?.unwrap_or_default();
    // getMultipleAccounts defaults to base64 (Agave).
    let encoding = config.encoding.unwrap_or(UiAccountEncoding::Base64);
    let accounts = node.accounts(&keys).await.map_err(internal)?;
    let value = accounts
        .iter()
        .map(|a| a.as_ref().map(|a| encode_account(a, encoding, config.data_slice)).transpose())
        .collect::<Result<Vec<_>, _>>()?;
    respond(node, config.min_context_slot, value).await
}

async fn get_program_accounts(node: &Node, params: Positional) -> RpcResult {
    let program = pubkey(&params.required::<String>(0, "program_id")?)?;
    let config: RpcProgramAccountsConfig = params.optional(1)?.unwrap_or_default();
    let filters = verified_filters(config.filters)?;
    let encoding = account_encoding(&config.account_config);
    let accounts = node.program_accounts(&program).await.map_err(internal)?;
    let keyed = accounts
        .iter()
        .filter(|(_, a)| filters_match(&filters, &a.data))
        .map(|(key, a)| {
            Ok(RpcKeyedAccount {
                pubkey: key.to_string(),
                account: encode_account(a, encoding, config.account_config.data_slice)?,
            })
        })
        .collect::<Result<Vec<_>, ErrorObjectOwned>>()?;
    if config.with_context.unwrap_or(false) {
        respond(node, config.account_config.min_context_slot, keyed).await
    } else {
        context(node, config.account_config.min_context_slot).await?;
        to_value(keyed)
    }
}

async fn get_balance(node: &Node, params: Positional) -> RpcResult {
    let key = pubkey(&params.required::<String>(0, "pubkey")?)?;
    let config: RpcContextConfig = params.optional(1)?.unwrap_or_default();
    let lamports = node.account(&key).await.map_err(internal)?.map_or(0, |a| a.lamports);
    respond(node, config.min_context_slot, lamports).await
}

async fn get_minimum_balance_for_rent_exemption(node: &Node, params: Positional) -> RpcResult {
    let data_len: usize = params.required(0, "data_len")?;
    if data_len > 10 * 1024 * 1024 {
        return Err(invalid_params("Invalid param: data_len exceeds the maximum account size (10 MiB)"));
    }
    Ok(json!(node.rent_exempt_minimum(data_len).await.map_err(internal)?))
}

async fn get_fee_for_message(node: &Node, params: Positional) -> RpcResult {
    let encoded: String = params.required(0, "message")?;
    let config: RpcContextConfig = params.optional(1)?.unwrap_or_default();
    let bytes =
        BASE64_STANDARD.decode(&encoded).map_err(|e| invalid_params(format!("invalid base64 encoding: {e:?}")))?;
    let message: VersionedMessage =
        bincode::deserialize(&bytes).map_err(|e| invalid_params(format!("failed to deserialize message: {e}")))?;
    let fee = node.fee_for_message(&message).await.map_err(internal)?;
    respond(node, config.min_context_slot, fee).await
}

async fn get_signature_statuses(node: &Node, params: Positional) -> RpcResult {
    let signatures: Vec<String> = params.required(0, "signatures")?;
    if signatures.len() > MAX_SIGNATURE_STATUSES {
        return Err(invalid_params(format!("Too many inputs provided; max {MAX_SIGNATURE_STATUSES}")));
    }
    let _config: Option<RpcSignatureStatusConfig> = params.optional(1)?;
    let statuses = signatures
        .iter()
        .map(|s| Ok(node.landed(&signature(s)?).map(|l| status_of(&l))))
        .collect::<Result<Vec<_>, ErrorObjectOwned>>()?;
    respond(node, None, statuses).await
}

async fn get_transaction(node: &Node, params: Positional) -> RpcResult {
    let signature = signature(&params.required::<String>(0, "signature")?)?;
    let config = match params.optional::<RpcEncodingConfigWrapper<RpcTransactionConfig>>(1)? {
        None => RpcTransactionConfig::default(),
        Some(wrapper) => wrapper.convert_to_current(),
    };
    let encoding = config.encoding.unwrap_or(UiTransactionEncoding::Json);
    match node.landed(&signature) {
        None => Ok(Value::Null),
        Some(landed) => to_value(encoded_transaction(landed, encoding, config.max_supported_transaction_version)?),
    }
}

async fn send_transaction(node: &Node, params: Positional) -> RpcResult {
    let data: String = params.required(0, "transaction")?;
    let config: RpcSendTransactionConfig = params.optional(1)?.unwrap_or_default();
    let transaction = decode_transaction(&data, config.encoding.unwrap_or(UiTransactionEncoding::Base58))?;
    verify_signatures(&transaction)?;
    if let Some(min) = config.min_context_slot {
        context(node, Some(min)).await?;
    }
    match node.send(transaction, config.skip_preflight).await {
        Ok(signature) => Ok(json!(signature.to_string())),
        Err(SendError::Preflight(simulated)) => Err(preflight_failure(simulated)),
        Err(SendError::Bank(e)) => Err(internal(e)),
    }
}

async fn simulate_transaction(node: &Node, params: Positional) -> RpcResult {
    let data: String = params.required(0, "transaction")?;
    let config: RpcSimulateTransactionConfig = params.optional(1)?.unwrap_or_default();
    if config.sig_verify && config.replace_recent_blockhash {
        return Err(invalid_params("sigVerify may not be used with replaceRecentBlockhash"));
    }
    if config.accounts.is_some() {
        return Err(invalid_params("simulateTransaction `accounts` is not served by bulwark-localnet"));
    }
    let mut transaction = decode_transaction(&data, config.encoding.unwrap_or(UiTransactionEncoding::Base58))?;
    if config.sig_verify {
        verify_signatures(&transaction)?;
    }
    let mut replacement = None;
    if config.replace_recent_blockhash {
        let (blockhash, last_valid_block_height) = node.latest_blockhash().await.map_err(internal)?;
        transaction.message.set_recent_blockhash(blockhash);
        replacement = Some(RpcBlockhash { blockhash: blockhash.to_string(), last_valid_block_height });
    } else if !node.is_blockhash_valid(transaction.message.recent_blockhash()).await.map_err(internal)? {
        let simulated = Simulated {
            err: Some(solana_transaction_error::TransactionError::BlockhashNotFound),
            ..Default::default()
        };
        return respond(node, config.min_context_slot, simulation_result(simulated, None)).await;
    }
    let fee = node.fee_for_message(&transaction.message).await.map_err(internal)?;
    let simulated = node.simulate(&transaction).await.map_err(internal)?;
    let mut result = simulation_result(simulated, fee);
    result.replacement_blockhash = replacement;
    respond(node, config.min_context_slot, result).await
}

async fn request_airdrop(node: &Node, params: Positional) -> RpcResult {
    let to = pubkey(&params.required::<String>(0, "pubkey")?)?;
    let lamports: u64 = params.required(1, "lamports")?;
    let _config: Option<RpcRequestAirdropConfig> = params.optional(2)?;
    match node.airdrop(&to, lamports).await {
        Ok(signature) => Ok(json!(signature.to_string())),
        Err(e @ AirdropError::TooLarge(_)) => Err(invalid_params(e.to_string())),
        Err(e @ AirdropError::Failed(_)) => Err(internal(e)),
    }
}

async fn warp_clock(node: &Node, params: Positional) -> RpcResult {
    let request: WarpRequest = params.optional(0)?.unwrap_or_default();
    if request.seconds < 0 {
        return Err(invalid_params("the clock only moves forward: seconds must be >= 0"));
    }
    let (slot, unix_timestamp) = node.warp(request.slots, request.seconds).await.map_err(internal)?;
    Ok(json!({ "slot": slot, "unixTimestamp": unix_timestamp }))
}
