//! `Chain` over Solana JSON-RPC with solana-rpc-client's nonblocking `RpcClient`.

use anchor_lang::prelude::Pubkey;
use solana_account_decoder_client_types::UiAccountEncoding;
use solana_commitment_config::CommitmentConfig;
use solana_hash::Hash;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_rpc_client_api::client_error::{Error as ClientError, ErrorKind};
use solana_rpc_client_api::config::{
    RpcAccountInfoConfig, RpcProgramAccountsConfig, RpcSendTransactionConfig, RpcTransactionConfig,
};
use solana_rpc_client_api::filter::{Memcmp as RpcMemcmp, RpcFilterType};
use solana_rpc_client_api::request::{RpcError, RpcResponseErrorData};
use solana_signature::Signature;
use solana_transaction::Transaction;
use solana_transaction_error::TransactionError;
use solana_transaction_status_client_types::{option_serializer::OptionSerializer, UiTransactionEncoding};

use super::{Chain, ChainError, ChainResult, RawAccount, TxStatus};
use crate::accounts::AccountFilter;

/// JSON-RPC error codes for a node that is behind, unhealthy or has no such slot yet: retry.
pub const NODE_UNAVAILABLE_CODES: [i64; 5] = [-32004, -32005, -32007, -32014, -32016];

/// getMultipleAccounts takes at most this many keys per request.
pub const MAX_MULTIPLE_ACCOUNTS: usize = 100;

pub struct RpcChain {
    pub client: RpcClient,
    pub commitment: CommitmentConfig,
}

impl RpcChain {
    pub fn new(url: impl Into<String>, commitment: CommitmentConfig) -> Self {
        Self { client: RpcClient::new_with_commitment(url.into(), commitment), commitment }
    }

    pub fn from_client(client: RpcClient) -> Self {
        let commitment = client.commitment();
        Self { client, commitment }
    }

    fn account_config(&self) -> RpcAccountInfoConfig {
        RpcAccountInfoConfig {
            encoding: Some(UiAccountEncoding::Base64),
            data_slice: None,
            commitment: Some(self.commitment),
            min_context_slot: None,
        }
    }
}

/// The getProgramAccounts configuration for `filter`: base64 data, the size filter and every
/// memcmp (discriminator first) as base58 bytes.
pub fn program_accounts_config(
    filter: &AccountFilter,
    account_config: RpcAccountInfoConfig,
) -> RpcProgramAccountsConfig {
    let mut filters = Vec::new();
    if let Some(size) = filter.data_size {
        filters.push(RpcFilterType::DataSize(size as u64));
    }
    filters
        .extend(filter.memcmp.iter().map(|m| RpcFilterType::Memcmp(RpcMemcmp::new_base58_encoded(m.offset, &m.bytes))));
    RpcProgramAccountsConfig { filters: Some(filters), account_config, with_context: None, sort_results: None }
}

/// Sort an RPC client error into what the caller can do about it.
pub fn classify(error: &ClientError) -> ChainError {
    if let Some(err) = error.kind().get_transaction_error() {
        if err == TransactionError::BlockhashNotFound {
            return ChainError::BlockhashExpired;
        }
        let logs = match error.kind() {
            ErrorKind::RpcError(RpcError::RpcResponseError {
                data: RpcResponseErrorData::SendTransactionPreflightFailure(sim),
                ..
            }) => sim.logs.clone().unwrap_or_default(),
            _ => vec![],
        };
        return ChainError::Transaction { err, logs };
    }
    match error.kind() {
        ErrorKind::Reqwest(e) if e.is_timeout() => ChainError::Timeout(e.to_string()),
        ErrorKind::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => ChainError::Timeout(e.to_string()),
        ErrorKind::Io(_) | ErrorKind::Reqwest(_) | ErrorKind::Middleware(_) => ChainError::Transport(error.to_string()),
        ErrorKind::RpcError(RpcError::RpcResponseError { code, .. }) if NODE_UNAVAILABLE_CODES.contains(code) => {
            ChainError::Transport(error.to_string())
        }
        ErrorKind::RpcError(RpcError::RpcRequestError(_)) => ChainError::Transport(error.to_string()),
        // The node understood and refused (bad params, too large, bad signature, …): repeating
        // the same request will not help.
        _ => ChainError::Rejected(error.to_string()),
    }
}

impl Chain for RpcChain {
    async fn program_accounts(&self, filter: &AccountFilter) -> ChainResult<Vec<(Pubkey, Vec<u8>)>> {
        let config = program_accounts_config(filter, self.account_config());
        let accounts =
            self.client.get_program_ui_accounts_with_config(&bulwark::ID, config).await.map_err(|e| classify(&e))?;
        accounts
            .into_iter()
            .map(|(key, account)| {
                let data = account
                    .data
                    .decode()
                    .ok_or_else(|| ChainError::Transport(format!("undecodable data for {key}")))?;
                Ok((key, data))
            })
            .collect()
    }

    async fn accounts(&self, keys: &[Pubkey]) -> ChainResult<Vec<Option<RawAccount>>> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(MAX_MULTIPLE_ACCOUNTS) {
            let response = self
                .client
                .get_multiple_ui_accounts_with_config(chunk, self.account_config())
                .await
                .map_err(|e| classify(&e))?;
            if response.value.len() != chunk.len() {
                return Err(ChainError::Rejected(format!(
                    "getMultipleAccounts answered {} accounts for {} keys",
                    response.value.len(),
                    chunk.len()
                )));
            }
            for account in response.value {
                out.push(match account {
                    None => None,
                    Some(ui) => {
                        let owner = ui.owner.parse::<Pubkey>().map_err(|e| ChainError::Transport(e.to_string()))?;
                        let data =
                            ui.data.decode().ok_or_else(|| ChainError::Transport("undecodable account".into()))?;
                        Some(RawAccount { owner, lamports: ui.lamports, data })
                    }
                });
            }
        }
        Ok(out)
    }

    async fn latest_blockhash(&self) -> ChainResult<Hash> {
        let (hash, _) =
            self.client.get_latest_blockhash_with_commitment(self.commitment).await.map_err(|e| classify(&e))?;
        Ok(hash)
    }

    async fn is_blockhash_valid(&self, blockhash: &Hash) -> ChainResult<bool> {
        self.client.is_blockhash_valid(blockhash, self.commitment).await.map_err(|e| classify(&e))
    }

    async fn send_transaction(&self, transaction: &Transaction) -> ChainResult<Signature> {
        let config = RpcSendTransactionConfig {
            skip_preflight: false,
            preflight_commitment: Some(self.commitment.commitment),
            encoding: Some(UiTransactionEncoding::Base64),
            // The caller re-signs on expiry; the node should not rebroadcast past that.
            max_retries: Some(0),
            min_context_slot: None,
        };
        self.client.send_transaction_with_config(transaction, config).await.map_err(|e| classify(&e))
    }

    async fn transaction_status(&self, signature: &Signature) -> ChainResult<Option<TxStatus>> {
        let statuses = self.client.get_signature_statuses(&[*signature]).await.map_err(|e| classify(&e))?;
        let Some(status) = statuses.value.into_iter().next().flatten() else { return Ok(None) };
        if !status.satisfies_commitment(self.commitment) {
            return Ok(None);
        }
        let config = RpcTransactionConfig {
            encoding: Some(UiTransactionEncoding::Json),
            commitment: Some(self.commitment),
            max_supported_transaction_version: Some(0),
        };
        // Logs carry the events; a node that has pruned them still reports the outcome.
        let logs = match self.client.get_transaction_with_config(signature, config).await {
            Ok(tx) => match tx.transaction.meta.map(|m| m.log_messages) {
                Some(OptionSerializer::Some(logs)) => logs,
                _ => vec![],
            },
            Err(_) => vec![],
        };
        Ok(Some(TxStatus { slot: status.slot, err: status.err, logs }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::AccountFilter;
    use anchor_lang::solana_program::instruction::error::InstructionError;
    use bulwark::error::BulwarkError;
    use solana_rpc_client_api::response::RpcSimulateTransactionResult;

    #[test]
    fn program_accounts_request_filters_by_discriminator_size_and_clearinghouse() {
        let ch = Pubkey::new_from_array([3; 32]);
        let chain = RpcChain::new("http://127.0.0.1:1", CommitmentConfig::confirmed());
        let config = program_accounts_config(&AccountFilter::margin_accounts(&ch), chain.account_config());
        let json = serde_json::to_value(&config).unwrap();
        let disc =
            bs58::encode(<bulwark::state::MarginAccount as anchor_lang::Discriminator>::DISCRIMINATOR).into_string();
        assert_eq!(
            json,
            serde_json::json!({
                "filters": [
                    {"dataSize": 712},
                    {"memcmp": {"offset": 0, "bytes": disc, "encoding": "base58"}},
                    {"memcmp": {"offset": 8, "bytes": ch.to_string(), "encoding": "base58"}}
                ],
                "encoding": "base64",
                "dataSlice": null,
                "commitment": "confirmed",
                "minContextSlot": null,
                "withContext": null,
                "sortResults": null
            })
        );
    }

    #[test]
    fn errors_are_classified() {
        let custom = TransactionError::InstructionError(
            0,
            InstructionError::Custom(u32::from(BulwarkError::AccountNotLiquidatable)),
        );
        let preflight = ClientError::from(ErrorKind::RpcError(RpcError::RpcResponseError {
            code: -32002,
            message: "Transaction simulation failed".into(),
            data: RpcResponseErrorData::SendTransactionPreflightFailure(RpcSimulateTransactionResult {
                err: Some(custom.clone().into()),
                logs: Some(vec!["Program log: AnchorError".into()]),
                accounts: None,
                units_consumed: None,
                loaded_accounts_data_size: None,
                return_data: None,
                inner_instructions: None,
                replacement_blockhash: None,
                fee: None,
                pre_balances: None,
                post_balances: None,
                pre_token_balances: None,
                post_token_balances: None,
                loaded_addresses: None,
            }),
        }));
        let classified = classify(&preflight);
        assert!(classified.is_bulwark(BulwarkError::AccountNotLiquidatable));
        assert_eq!(classified, ChainError::Transaction { err: custom, logs: vec!["Program log: AnchorError".into()] });

        let expired = ClientError::from(ErrorKind::TransactionError(TransactionError::BlockhashNotFound));
        assert_eq!(classify(&expired), ChainError::BlockhashExpired);

        let io = ClientError::from(ErrorKind::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, "slow")));
        assert!(matches!(classify(&io), ChainError::Timeout(_)));
        let refused =
            ClientError::from(ErrorKind::Io(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "down")));
        assert!(matches!(classify(&refused), ChainError::Transport(_)));
        let behind = ClientError::from(ErrorKind::RpcError(RpcError::RpcResponseError {
            code: -32005,
            message: "Node is behind".into(),
            data: RpcResponseErrorData::Empty,
        }));
        assert!(classify(&behind).is_retryable());
        let invalid = ClientError::from(ErrorKind::RpcError(RpcError::RpcResponseError {
            code: -32602,
            message: "invalid params".into(),
            data: RpcResponseErrorData::Empty,
        }));
        assert!(matches!(classify(&invalid), ChainError::Rejected(_)));
        assert!(!classify(&invalid).is_retryable());
    }

    /// Records every request and answers from a script, so the client's real request
    /// construction and response parsing run.
    struct RecordingSender {
        requests: std::sync::Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>,
    }

    #[async_trait::async_trait]
    impl solana_rpc_client::rpc_sender::RpcSender for RecordingSender {
        async fn send(
            &self,
            request: solana_rpc_client_api::request::RpcRequest,
            params: serde_json::Value,
        ) -> solana_rpc_client_api::client_error::Result<serde_json::Value> {
            let method = request.to_string();
            self.requests.lock().unwrap().push((method.clone(), params.clone()));
            let account = serde_json::json!({
                "lamports": 1, "owner": bulwark::ID.to_string(), "executable": false, "rentEpoch": 0,
                "space": 3, "data": ["AQID", "base64"]
            });
            Ok(match method.as_str() {
                "getMultipleAccounts" => {
                    let n = params[0].as_array().unwrap().len();
                    serde_json::json!({"context": {"slot": 9}, "value": vec![account; n]})
                }
                "getProgramAccounts" => {
                    serde_json::json!([{"pubkey": Pubkey::new_from_array([5; 32]).to_string(), "account": account}])
                }
                _ => serde_json::Value::Null,
            })
        }
        fn get_transport_stats(&self) -> solana_rpc_client::rpc_sender::RpcTransportStats {
            Default::default()
        }
        fn url(&self) -> String {
            "recording".into()
        }
    }

    #[tokio::test]
    async fn requests_are_chunked_and_responses_decoded() {
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let client = RpcClient::new_sender(
            RecordingSender { requests: requests.clone() },
            solana_rpc_client::rpc_client::RpcClientConfig::with_commitment(CommitmentConfig::confirmed()),
        );
        let chain = RpcChain::from_client(client);
        let keys: Vec<Pubkey> = (0..150).map(|_| Pubkey::new_unique()).collect();
        let accounts = chain.accounts(&keys).await.unwrap();
        assert_eq!(accounts.len(), 150);
        assert_eq!(accounts[149], Some(RawAccount { owner: bulwark::ID, lamports: 1, data: vec![1, 2, 3] }));
        let found = chain.program_accounts(&AccountFilter::markets(&Pubkey::new_from_array([3; 32]))).await.unwrap();
        assert_eq!(found, vec![(Pubkey::new_from_array([5; 32]), vec![1, 2, 3])]);

        let requests = requests.lock().unwrap();
        let methods: Vec<&str> = requests.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(methods, ["getMultipleAccounts", "getMultipleAccounts", "getProgramAccounts"]);
        assert_eq!(requests[0].1[0].as_array().unwrap().len(), 100);
        assert_eq!(requests[1].1[0].as_array().unwrap().len(), 50);
        assert_eq!(requests[0].1[1]["encoding"], "base64");
        assert_eq!(requests[2].1[0], bulwark::ID.to_string());
        assert_eq!(requests[2].1[1]["filters"][0], serde_json::json!({"dataSize": 488}));
    }
}
