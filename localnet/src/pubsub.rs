//! The WebSocket subscriptions the node serves, with an Agave validator's method names,
//! parameters and notification shapes: `accountSubscribe`, `programSubscribe` (filters as
//! getProgramAccounts takes them), `signatureSubscribe`, `slotSubscribe` and `logsSubscribe`,
//! each with its `…Unsubscribe`. They are served on the JSON-RPC port and on the WebSocket
//! port (the RPC port + 1, as a validator's).
//!
//! Every committed transaction here is final at once (the node never rolls back), so every
//! commitment level is notified at commit, and a slot's root is its parent.

use std::sync::Arc;
use std::time::Duration;

use anchor_lang::prelude::Pubkey;
use jsonrpsee::core::server::SendTimeoutError;
use jsonrpsee::core::server::{PendingSubscriptionSink, SubscriptionMessage, SubscriptionSink};
use jsonrpsee::core::SubscriptionError;
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::RpcModule;
use serde::Serialize;
use solana_account::Account;
use solana_account_decoder_client_types::{UiAccount, UiAccountData, UiAccountEncoding, UiDataSliceConfig};
use solana_rpc_client_types::config::{
    RpcAccountInfoConfig, RpcProgramAccountsConfig, RpcSignatureSubscribeConfig, RpcTransactionLogsConfig,
    RpcTransactionLogsFilter,
};
use solana_rpc_client_types::filter::RpcFilterType;
use solana_rpc_client_types::response::{
    ProcessedSignatureResult, ReceivedSignatureResult, Response, RpcKeyedAccount, RpcLogsResponse, RpcResponseContext,
    RpcSignatureResult, SlotInfo,
};
use solana_signature::Signature;
use solana_transaction_error::TransactionError;
use solana_transaction_status_client_types::UiTransactionError;
use tokio::sync::broadcast::error::RecvError;

use crate::node::{Committed, Node, NodeEvent};
use crate::rpc::{encode_account, filters_match, invalid_params, pubkey, signature, verified_filters, Positional};

/// Every subscription served: (subscribe, notification, unsubscribe).
pub const SUBSCRIPTIONS: [(&str, &str, &str); 5] = [
    ("accountSubscribe", "accountNotification", "accountUnsubscribe"),
    ("programSubscribe", "programNotification", "programUnsubscribe"),
    ("signatureSubscribe", "signatureNotification", "signatureUnsubscribe"),
    ("slotSubscribe", "slotNotification", "slotUnsubscribe"),
    ("logsSubscribe", "logsNotification", "logsUnsubscribe"),
];

/// What one subscription listens for, its parameters checked.
#[derive(Debug)]
enum Subscription {
    Account {
        key: Pubkey,
        encoding: UiAccountEncoding,
        slice: Option<UiDataSliceConfig>,
    },
    Program {
        program: Pubkey,
        encoding: UiAccountEncoding,
        slice: Option<UiDataSliceConfig>,
        filters: Vec<RpcFilterType>,
    },
    Signature {
        signature: Signature,
        received: bool,
    },
    Slot,
    Logs {
        mentions: Option<Pubkey>,
    },
}

impl Subscription {
    fn parse(method: &str, params: &Params) -> Result<Self, ErrorObjectOwned> {
        let params = Positional::of(params)?;
        Ok(match method {
            "accountSubscribe" => {
                let key = pubkey(&params.required::<String>(0, "pubkey")?)?;
                let config: RpcAccountInfoConfig = params.optional(1)?.unwrap_or_default();
                // Agave's pubsub defaults to legacy base58, as getAccountInfo does.
                let encoding = config.encoding.unwrap_or(UiAccountEncoding::Binary);
                Subscription::Account { key, encoding, slice: config.data_slice }
            }
            "programSubscribe" => {
                let program = pubkey(&params.required::<String>(0, "pubkey")?)?;
                let config: RpcProgramAccountsConfig = params.optional(1)?.unwrap_or_default();
                let encoding = config.account_config.encoding.unwrap_or(UiAccountEncoding::Binary);
                let filters = verified_filters(config.filters)?;
                Subscription::Program { program, encoding, slice: config.account_config.data_slice, filters }
            }
            "signatureSubscribe" => {
                let signature = signature(&params.required::<String>(0, "signature")?)?;
                let config: RpcSignatureSubscribeConfig = params
                    .optional(1)?
                    .unwrap_or(RpcSignatureSubscribeConfig { commitment: None, enable_received_notification: None });
                Subscription::Signature { signature, received: config.enable_received_notification.unwrap_or(false) }
            }
            "slotSubscribe" => Subscription::Slot,
            "logsSubscribe" => {
                let filter: RpcTransactionLogsFilter = params.required(0, "filter")?;
                let _config: Option<RpcTransactionLogsConfig> = params.optional(1)?;
                let mentions = match filter {
                    RpcTransactionLogsFilter::All | RpcTransactionLogsFilter::AllWithVotes => None,
                    RpcTransactionLogsFilter::Mentions(keys) => match keys.as_slice() {
                        [key] => Some(pubkey(key)?),
                        _ => return Err(invalid_params("Invalid Request: Only 1 address supported")),
                    },
                };
                Subscription::Logs { mentions }
            }
            other => return Err(invalid_params(format!("unknown subscription {other}"))),
        })
    }

    /// The notifications `committed` raises for this subscription, in order.
    fn on_commit(&self, committed: &Committed) -> Vec<serde_json::Value> {
        let context = context(committed.slot);
        match self {
            Subscription::Account { key, encoding, slice } => committed
                .written
                .iter()
                .filter(|(written, _)| written == key)
                .map(|(_, account)| {
                    // A closed account is notified as Agave does: empty, system-owned, 0 lamports.
                    let account = account.clone().unwrap_or_default();
                    json(Response { context: context.clone(), value: ui_account(&account, *encoding, *slice) })
                })
                .collect(),
            Subscription::Program { program, encoding, slice, filters } => committed
                .written
                .iter()
                .filter_map(|(key, account)| account.as_ref().map(|a| (key, a)))
                .filter(|(_, account)| account.owner == *program && filters_match(filters, &account.data))
                .map(|(key, account)| {
                    json(Response {
                        context: context.clone(),
                        value: RpcKeyedAccount {
                            pubkey: key.to_string(),
                            account: ui_account(account, *encoding, *slice),
                        },
                    })
                })
                .collect(),
            Subscription::Signature { signature, received } if *signature == committed.signature => {
                let mut out = Vec::new();
                if *received {
                    out.push(json(Response {
                        context: context.clone(),
                        value: RpcSignatureResult::ReceivedSignature(ReceivedSignatureResult::ReceivedSignature),
                    }));
                }
                out.push(signature_result(committed.slot, committed.err.clone()));
                out
            }
            Subscription::Logs { mentions } if mentions.is_none_or(|key| committed.mentioned.contains(&key)) => {
                vec![json(Response {
                    context,
                    value: RpcLogsResponse {
                        signature: committed.signature.to_string(),
                        err: committed.err.clone().map(UiTransactionError::from),
                        logs: committed.logs.clone(),
                    },
                })]
            }
            _ => vec![],
        }
    }

    fn on_slot(&self, slot: u64, parent: u64) -> Option<serde_json::Value> {
        matches!(self, Subscription::Slot).then(|| json(SlotInfo { slot, parent, root: parent }))
    }

    /// A signature subscription ends with its first processed notification, as Agave's does.
    fn is_done_after(&self, committed: &Committed) -> bool {
        matches!(self, Subscription::Signature { signature, .. } if *signature == committed.signature)
    }
}

fn context(slot: u64) -> RpcResponseContext {
    RpcResponseContext { slot, api_version: None }
}

fn json<T: Serialize>(value: T) -> serde_json::Value {
    serde_json::to_value(value).expect("notifications serialize")
}

fn signature_result(slot: u64, err: Option<TransactionError>) -> serde_json::Value {
    json(Response {
        context: context(slot),
        value: RpcSignatureResult::ProcessedSignature(ProcessedSignatureResult {
            err: err.map(UiTransactionError::from),
        }),
    })
}

/// Encode as a validator's pubsub does: base58 of any length (getAccountInfo's 128-byte limit
/// is not applied to notifications), every other encoding as getAccountInfo encodes it.
fn ui_account(account: &Account, encoding: UiAccountEncoding, slice: Option<UiDataSliceConfig>) -> UiAccount {
    match encoding {
        UiAccountEncoding::Binary | UiAccountEncoding::Base58 => {
            let data = match slice {
                Some(UiDataSliceConfig { offset, length }) => {
                    let start = offset.min(account.data.len());
                    &account.data[start..offset.saturating_add(length).min(account.data.len())]
                }
                None => &account.data[..],
            };
            let text = bs58::encode(data).into_string();
            UiAccount {
                lamports: account.lamports,
                data: if encoding == UiAccountEncoding::Binary {
                    UiAccountData::LegacyBinary(text)
                } else {
                    UiAccountData::Binary(text, UiAccountEncoding::Base58)
                },
                owner: account.owner.to_string(),
                executable: account.executable,
                rent_epoch: account.rent_epoch,
                space: Some(account.data.len() as u64),
            }
        }
        other => encode_account(account, other, slice).expect("only base58 encodings are refused by size"),
    }
}

/// A client that has not read its socket for this long is dropped: its notifications would
/// otherwise pile up in the node.
pub const SLOW_CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a subscription stopped being served.
enum Ended {
    /// Unsubscribed, disconnected, or done (a signature notified).
    Done,
    /// The client left its socket unread past `SLOW_CLIENT_TIMEOUT`.
    Slow,
}

/// Send one notification.
async fn notify(sink: &SubscriptionSink, value: serde_json::Value) -> Result<(), Ended> {
    let Ok(raw) = serde_json::value::to_raw_value(&value) else { return Err(Ended::Done) };
    match sink.send_timeout(SubscriptionMessage::from(raw), SLOW_CLIENT_TIMEOUT).await {
        Ok(()) => Ok(()),
        Err(SendTimeoutError::Timeout(_)) => {
            tracing::warn!("ending subscription {:?}: its client stopped reading", sink.subscription_id());
            Err(Ended::Slow)
        }
        Err(SendTimeoutError::Closed(_)) => Err(Ended::Done),
    }
}

/// Serve one subscription until the client unsubscribes or disconnects (or, for a signature,
/// until it is notified). A client too slow to read is told, in a last notification with an
/// `error`, that its subscription ended.
async fn serve(
    method: &'static str,
    params: Params<'static>,
    pending: PendingSubscriptionSink,
    node: Arc<Arc<Node>>,
) -> Result<(), SubscriptionError> {
    let subscription = match Subscription::parse(method, &params) {
        Ok(subscription) => subscription,
        Err(e) => {
            pending.reject(e).await;
            return Ok(());
        }
    };
    // Listen before accepting and before looking back, so nothing committed in between is missed.
    let mut events = node.events();
    let Ok(sink) = pending.accept().await else { return Ok(()) };
    match listen(&subscription, &node, &sink, &mut events).await {
        Ended::Done => Ok(()),
        Ended::Slow => Err(format!(
            "{method} ended: the client left its notifications unread for {} s",
            SLOW_CLIENT_TIMEOUT.as_secs()
        )
        .into()),
    }
}

async fn listen(
    subscription: &Subscription,
    node: &Node,
    sink: &SubscriptionSink,
    events: &mut tokio::sync::broadcast::Receiver<NodeEvent>,
) -> Ended {
    if let Err(ended) = catch_up(subscription, node, sink, false).await {
        return ended;
    }
    loop {
        let event = tokio::select! {
            _ = sink.closed() => return Ended::Done,
            event = events.recv() => event,
        };
        let sent = match event {
            Ok(NodeEvent::Committed(committed)) => {
                for value in subscription.on_commit(&committed) {
                    if let Err(ended) = notify(sink, value).await {
                        return ended;
                    }
                }
                if subscription.is_done_after(&committed) {
                    return Ended::Done;
                }
                Ok(())
            }
            Ok(NodeEvent::Slot { slot, parent }) => match subscription.on_slot(slot, parent) {
                Some(value) => notify(sink, value).await,
                None => Ok(()),
            },
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!("subscription {:?} fell {missed} events behind", sink.subscription_id());
                // Skip what is still buffered: the catch-up sends the state after all of it.
                *events = events.resubscribe();
                catch_up(subscription, node, sink, true).await
            }
            Err(RecvError::Closed) => return Ended::Done,
        };
        if let Err(ended) = sent {
            return ended;
        }
    }
}

/// What a subscriber that was not listening must still hear: a signature that already landed
/// (then the subscription is over) and, after falling behind (`lagged`), the current state of
/// what it watches (an account, or every account of the program its filters take). At
/// subscribe time an account is not sent: Agave sends nothing until it changes. Logs and slots
/// missed while behind are not replayed. An error says the subscription is over.
async fn catch_up(
    subscription: &Subscription,
    node: &Node,
    sink: &SubscriptionSink,
    lagged: bool,
) -> Result<(), Ended> {
    match subscription {
        Subscription::Signature { signature, .. } => match node.landed(signature) {
            Some(landed) => {
                notify(sink, signature_result(landed.slot, landed.err)).await?;
                Err(Ended::Done)
            }
            None => Ok(()),
        },
        Subscription::Account { key, encoding, slice } if lagged => {
            let (Ok(slot), Ok(account)) = (node.slot().await, node.account(key).await) else { return Ok(()) };
            let account = account.unwrap_or_default();
            notify(sink, json(Response { context: context(slot), value: ui_account(&account, *encoding, *slice) }))
                .await
        }
        Subscription::Program { program, encoding, slice, filters } if lagged => {
            let (Ok(slot), Ok(accounts)) = (node.slot().await, node.program_accounts(program).await) else {
                return Ok(());
            };
            for (key, account) in accounts.iter().filter(|(_, a)| filters_match(filters, &a.data)) {
                let value =
                    RpcKeyedAccount { pubkey: key.to_string(), account: ui_account(account, *encoding, *slice) };
                notify(sink, json(Response { context: context(slot), value })).await?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Register every subscription on `module`.
pub fn register(module: &mut RpcModule<Arc<Node>>) {
    for (subscribe, notification, unsubscribe) in SUBSCRIPTIONS {
        module
            .register_subscription(subscribe, notification, unsubscribe, move |params, pending, node, _| {
                serve(subscribe, params.into_owned(), pending, Arc::clone(&node))
            })
            .expect("subscription names are unique");
    }
}
