//! The node as a real client sees it: solana-rpc-client's `RpcClient` and the SDK's `RpcChain`
//! over HTTP against a node on a free port.

use std::time::Duration;

use anchor_lang::prelude::{Clock, Pubkey};
use anchor_lang::solana_program::instruction::error::InstructionError;
use bulwark::error::BulwarkError;
use bulwark::instructions::PriceFeedUpdate;
use bulwark::state::PriceFeed;
use bulwark_localnet::rpc::{
    INVALID_PARAMS, SEND_TRANSACTION_PREFLIGHT_FAILURE, TRANSACTION_SIGNATURE_VERIFICATION_FAILURE, WARP_METHOD,
};
use bulwark_localnet::{Localnet, NodeConfig};
use bulwark_sdk::accounts::{AccountFilter, ProgramAccount as _};
use bulwark_sdk::chain::rpc::RpcChain;
use bulwark_sdk::chain::{self, Chain, ChainError, ConfirmOptions};
use bulwark_sdk::ix::{create_price_feed_ix, update_price_feed_ix};
use serde_json::json;
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_rpc_client_api::client_error::ErrorKind;
use solana_rpc_client_api::config::{RpcSendTransactionConfig, RpcSimulateTransactionConfig, RpcTransactionConfig};
use solana_rpc_client_api::request::{RpcError, RpcRequest, RpcResponseErrorData};
use solana_signer::Signer as _;
use solana_transaction::Transaction;
use solana_transaction_error::TransactionError;
use solana_transaction_status_client_types::{
    option_serializer::OptionSerializer, EncodedTransaction, TransactionConfirmationStatus, UiTransactionEncoding,
};

const SOL: u64 = 1_000_000_000;

async fn start() -> (Localnet, RpcClient) {
    let config = NodeConfig { slot_duration: Duration::from_millis(50), ..Default::default() };
    let localnet = Localnet::start("127.0.0.1:0".parse().unwrap(), config).await.expect("node starts");
    let client = RpcClient::new_with_commitment(localnet.url(), CommitmentConfig::confirmed());
    (localnet, client)
}

fn rpc_error(e: &solana_rpc_client_api::client_error::Error) -> (i64, String, &RpcResponseErrorData) {
    match e.kind() {
        ErrorKind::RpcError(RpcError::RpcResponseError { code, message, data }) => (*code, message.clone(), data),
        other => panic!("expected an RPC error response, got {other:?}"),
    }
}

async fn funded(client: &RpcClient) -> Keypair {
    let keypair = Keypair::new();
    let signature = client.request_airdrop(&keypair.pubkey(), 10 * SOL).await.expect("airdrop");
    assert!(client.confirm_transaction(&signature).await.expect("status"));
    keypair
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_queries_and_real_time_slots() {
    let (localnet, client) = start().await;
    let version = client.get_version().await.expect("getVersion");
    assert_eq!(version.solana_core, bulwark_localnet::rpc::SOLANA_CORE_VERSION);
    client.get_health().await.expect("getHealth");

    let slot = client.get_slot().await.expect("getSlot");
    let height = client.get_block_height().await.expect("getBlockHeight");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let later = client.get_slot().await.expect("getSlot");
    assert!(later >= slot + 5, "50 ms slots: {slot} -> {later} after 600 ms");
    assert!(client.get_block_height().await.unwrap() > height);

    let blockhash = client.get_latest_blockhash().await.expect("getLatestBlockhash");
    assert!(client.is_blockhash_valid(&blockhash, CommitmentConfig::confirmed()).await.unwrap());
    let unknown = solana_hash::Hash::new_from_array([7; 32]);
    assert!(!client.is_blockhash_valid(&unknown, CommitmentConfig::confirmed()).await.unwrap());

    let rent = anchor_lang::prelude::Rent::default();
    for len in [0usize, 165, 8 + std::mem::size_of::<PriceFeed>()] {
        assert_eq!(client.get_minimum_balance_for_rent_exemption(len).await.unwrap(), rent.minimum_balance(len));
    }

    // The warp method moves slot and clock forward on top of real time.
    let chain = RpcChain::from_client(RpcClient::new_with_commitment(localnet.url(), CommitmentConfig::confirmed()));
    let before: Clock = chain.clock().await.expect("clock");
    let reply: serde_json::Value = client
        .send(RpcRequest::Custom { method: WARP_METHOD }, json!([{ "slots": 1_000, "seconds": 3_600 }]))
        .await
        .expect("warp");
    let after: Clock = chain.clock().await.expect("clock");
    assert!(after.slot >= before.slot + 1_000, "{} -> {}", before.slot, after.slot);
    assert!(after.unix_timestamp >= before.unix_timestamp + 3_600);
    let warped_to = reply["slot"].as_u64().expect("slot");
    assert!(warped_to >= before.slot + 1_000 && warped_to <= after.slot, "{reply}");
    assert!(reply["unixTimestamp"].as_i64().expect("unix") >= before.unix_timestamp + 3_600);
    let refused = client
        .send::<serde_json::Value>(RpcRequest::Custom { method: WARP_METHOD }, json!([{ "seconds": -1 }]))
        .await
        .unwrap_err();
    assert_eq!(rpc_error(&refused).0, INVALID_PARAMS as i64);

    // Bad input: named JSON-RPC errors, never a dropped connection.
    let too_many: Vec<Pubkey> = (0..101).map(|_| Pubkey::new_unique()).collect();
    let e = client.get_multiple_accounts(&too_many).await.unwrap_err();
    let (code, message, data) = rpc_error(&e);
    assert_eq!((code, message.as_str()), (INVALID_PARAMS as i64, "Too many inputs provided; max 100"));
    assert!(matches!(data, RpcResponseErrorData::Empty));
    let e = client
        .send::<serde_json::Value>(RpcRequest::GetAccountInfo, json!(["not-a-key", { "encoding": "base64" }]))
        .await
        .unwrap_err();
    assert_eq!(rpc_error(&e).0, INVALID_PARAMS as i64);
    let e =
        client.send::<serde_json::Value>(RpcRequest::Custom { method: "getNoSuchThing" }, json!([])).await.unwrap_err();
    assert_eq!(rpc_error(&e).0, -32601);
    localnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_statuses_and_program_accounts() {
    let (localnet, client) = start().await;
    let user = Keypair::new();
    let airdrop = client.request_airdrop(&user.pubkey(), 10 * SOL).await.expect("requestAirdrop");
    let statuses = client.get_signature_statuses(&[airdrop]).await.expect("getSignatureStatuses");
    let status = statuses.value[0].clone().expect("landed");
    assert_eq!(status.confirmation_status, Some(TransactionConfirmationStatus::Finalized));
    assert_eq!(status.err, None);
    assert_eq!(client.get_balance(&user.pubkey()).await.unwrap(), 10 * SOL);
    // RpcClient turns any airdrop refusal into one message; the raw answer names the limit.
    assert!(client.request_airdrop(&user.pubkey(), 1_001 * SOL).await.is_err());
    let e = client
        .send::<String>(RpcRequest::RequestAirdrop, json!([user.pubkey().to_string(), 1_001 * SOL]))
        .await
        .unwrap_err();
    let (code, message, _) = rpc_error(&e);
    assert_eq!(code, INVALID_PARAMS as i64);
    assert!(message.contains("exceeds the 1000000000000-lamport limit"), "{message}");

    // A Bulwark instruction through RpcClient's own send-and-confirm.
    let create = create_price_feed_ix(&user.pubkey(), &user.pubkey(), 7, -6, 600);
    let feed = bulwark_sdk::pda::price_feed(&user.pubkey(), 7);
    let blockhash = client.get_latest_blockhash().await.unwrap();
    let tx = Transaction::new_signed_with_payer(&[create], Some(&user.pubkey()), &[&user], blockhash);
    let fee = client.get_fee_for_message(&tx.message).await.expect("getFeeForMessage");
    assert_eq!(fee, 5_000);
    let signature = client.send_and_confirm_transaction(&tx).await.expect("create feed");
    let rent = client.get_minimum_balance_for_rent_exemption(8 + std::mem::size_of::<PriceFeed>()).await.unwrap();
    assert_eq!(client.get_balance(&user.pubkey()).await.unwrap(), 10 * SOL - 5_000 - rent);

    // getTransaction in every encoding RpcClient asks for: logs, fee and balances exact.
    for encoding in [UiTransactionEncoding::Json, UiTransactionEncoding::Base64, UiTransactionEncoding::Base58] {
        let config = RpcTransactionConfig {
            encoding: Some(encoding),
            commitment: None,
            max_supported_transaction_version: Some(0),
        };
        let landed = client.get_transaction_with_config(&signature, config).await.expect("getTransaction");
        let meta = landed.transaction.meta.expect("meta");
        assert_eq!(meta.fee, 5_000);
        assert_eq!(meta.pre_balances[0] - meta.post_balances[0], 5_000 + rent);
        let OptionSerializer::Some(logs) = meta.log_messages else { panic!("logs") };
        assert!(logs.iter().any(|l| l == &format!("Program {} success", bulwark::ID)), "{logs:?}");
        match (encoding, landed.transaction.transaction) {
            (UiTransactionEncoding::Json, EncodedTransaction::Json(ui)) => {
                assert_eq!(ui.signatures[0], signature.to_string())
            }
            (_, binary @ EncodedTransaction::Binary(..)) => {
                assert_eq!(binary.decode().expect("decodes").signatures[0], signature)
            }
            (e, other) => panic!("{e:?} answered as {other:?}"),
        }
    }

    // Reads: getAccountInfo (RpcClient asks base64+zstd), getMultipleAccounts, and
    // getProgramAccounts with size and memcmp filters through the SDK.
    let account = client.get_account(&feed).await.expect("getAccountInfo");
    assert_eq!(account.owner, bulwark::ID);
    let decoded = PriceFeed::decode(&account.data).expect("a price feed");
    assert_eq!((decoded.authority, decoded.feed_id, decoded.exponent), (user.pubkey(), 7, -6));
    let both = client.get_multiple_accounts(&[feed, Pubkey::new_unique()]).await.unwrap();
    assert!(both[0].is_some() && both[1].is_none());
    // Without an encoding, getMultipleAccounts answers base64 and getAccountInfo base58 (which
    // refuses data over 128 bytes), as Agave does.
    let raw: serde_json::Value =
        client.send(RpcRequest::GetMultipleAccounts, json!([[feed.to_string()]])).await.expect("default encoding");
    assert_eq!(raw["value"][0]["data"][1], "base64");
    let e = client.send::<serde_json::Value>(RpcRequest::GetAccountInfo, json!([feed.to_string()])).await.unwrap_err();
    assert!(rpc_error(&e).1.contains("base 58"), "{e}");

    // Fees count the priority fee, for legacy and v0 messages alike: 5,000 for the signature
    // plus 200,000 units at 1,000,000 micro-lamports.
    let priced = [
        bulwark_sdk::ix::compute_unit_limit_ix(200_000),
        bulwark_sdk::ix::compute_unit_price_ix(1_000_000),
        update_price_feed_ix(
            &user.pubkey(),
            &feed,
            PriceFeedUpdate { price: 1, conf: 0, redemption_enabled: true, reserve_ratio: 0 },
        ),
    ];
    let recent = client.get_latest_blockhash().await.unwrap();
    let legacy = solana_message::Message::new_with_blockhash(&priced, Some(&user.pubkey()), &recent);
    assert_eq!(client.get_fee_for_message(&legacy).await.unwrap(), 205_000);
    let v0 = solana_message::v0::Message::try_compile(&user.pubkey(), &priced, &[], recent).unwrap();
    let encoded = base64::Engine::encode(
        &base64::prelude::BASE64_STANDARD,
        bincode::serialize(&solana_message::VersionedMessage::V0(v0)).unwrap(),
    );
    let fee: serde_json::Value = client.send(RpcRequest::GetFeeForMessage, json!([encoded])).await.unwrap();
    assert_eq!(fee["value"], 205_000);

    let chain = RpcChain::from_client(RpcClient::new_with_commitment(localnet.url(), CommitmentConfig::confirmed()));
    let other = funded(&client).await;
    chain::send_and_confirm(
        &chain,
        &[create_price_feed_ix(&other.pubkey(), &other.pubkey(), 8, -8, 60)],
        &other,
        &[],
        ConfirmOptions::default(),
    )
    .await
    .expect("second feed");
    let all_feeds = chain.program_accounts(&AccountFilter::of::<PriceFeed>()).await.expect("getProgramAccounts");
    assert_eq!(all_feeds.len(), 2);
    let mine = AccountFilter::of::<PriceFeed>().and(8, user.pubkey().as_ref());
    let found = chain.program_accounts(&mine).await.expect("getProgramAccounts");
    assert_eq!(found.iter().map(|(k, _)| *k).collect::<Vec<_>>(), vec![feed]);

    // Preflight refusal: a named program error with its logs, nothing landed.
    let update = PriceFeedUpdate { price: 100_000_000, conf: 0, redemption_enabled: true, reserve_ratio: 0 };
    let wrong = update_price_feed_ix(&other.pubkey(), &feed, update.clone());
    let e =
        chain::send_and_confirm(&chain, &[wrong.clone()], &other, &[], ConfirmOptions::default()).await.unwrap_err();
    assert!(e.is_bulwark(BulwarkError::NotFeedAuthority), "{e:?}");
    let ChainError::Transaction { logs, .. } = &e else { panic!("{e:?}") };
    let failed = format!("Program {} failed: custom program error: {:#x}", bulwark::ID, e.custom_code().unwrap());
    assert!(logs.contains(&failed), "{logs:?}");

    let blockhash = client.get_latest_blockhash().await.unwrap();
    let tx = Transaction::new_signed_with_payer(&[wrong], Some(&other.pubkey()), &[&other], blockhash);
    let e = client.send_transaction(&tx).await.unwrap_err();
    let (code, message, data) = rpc_error(&e);
    assert_eq!(code, SEND_TRANSACTION_PREFLIGHT_FAILURE as i64);
    assert!(
        message.starts_with("Transaction simulation failed: Error processing Instruction 0: custom program error: 0x"),
        "{message}"
    );
    let RpcResponseErrorData::SendTransactionPreflightFailure(sim) = data else { panic!("{data:?}") };
    let code = anchor_lang::error::ERROR_CODE_OFFSET + BulwarkError::NotFeedAuthority as u32;
    assert_eq!(
        sim.err.clone().map(Into::into),
        Some(TransactionError::InstructionError(0, InstructionError::Custom(code)))
    );

    // simulateTransaction reports the same; with the preflight skipped the transaction lands,
    // fails and pays its fee, like on a validator.
    let sim = client
        .simulate_transaction_with_config(&tx, RpcSimulateTransactionConfig { sig_verify: true, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(
        sim.value.err.map(Into::into),
        Some(TransactionError::InstructionError(0, InstructionError::Custom(code)))
    );
    assert!(sim.value.units_consumed.unwrap() > 0);
    let balance = client.get_balance(&other.pubkey()).await.unwrap();
    let skip = RpcSendTransactionConfig { skip_preflight: true, ..Default::default() };
    let failed = client.send_transaction_with_config(&tx, skip).await.expect("accepted");
    let status = client.get_signature_statuses(&[failed]).await.unwrap().value[0].clone().expect("landed");
    assert_eq!(status.err, Some(TransactionError::InstructionError(0, InstructionError::Custom(code))));
    assert_eq!(client.get_balance(&other.pubkey()).await.unwrap(), balance - 5_000);

    // A tampered signature, an unknown blockhash and a duplicate are refused by name.
    let mut forged = Transaction::new_signed_with_payer(
        &[update_price_feed_ix(&user.pubkey(), &feed, update.clone())],
        Some(&user.pubkey()),
        &[&user],
        client.get_latest_blockhash().await.unwrap(),
    );
    forged.signatures[0] = other.sign_message(&forged.message_data());
    let e = client.send_transaction(&forged).await.unwrap_err();
    assert_eq!(rpc_error(&e).0, TRANSACTION_SIGNATURE_VERIFICATION_FAILURE as i64);
    let stale = Transaction::new_signed_with_payer(
        &[update_price_feed_ix(&user.pubkey(), &feed, update.clone())],
        Some(&user.pubkey()),
        &[&user],
        solana_hash::Hash::new_from_array([9; 32]),
    );
    let e = chain.send_transaction(&stale).await.unwrap_err();
    assert!(matches!(e, ChainError::BlockhashExpired), "{e:?}");
    let good = Transaction::new_signed_with_payer(
        &[update_price_feed_ix(&user.pubkey(), &feed, update)],
        Some(&user.pubkey()),
        &[&user],
        client.get_latest_blockhash().await.unwrap(),
    );
    client.send_and_confirm_transaction(&good).await.expect("publish");
    let e = client.send_transaction(&good).await.unwrap_err();
    let (_, message, _) = rpc_error(&e);
    assert!(message.contains("already been processed"), "{message}");
    let published: PriceFeed = chain.load(&feed).await.unwrap().expect("feed");
    assert_eq!(published.price, 100_000_000);
    localnet.stop().await;
}

/// A blockhash lives for many slot advances (solana-program-test alone would retire it within
/// about a second), and still expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blockhashes_live_for_many_slots_then_expire() {
    let config = NodeConfig { slot_duration: Duration::from_millis(50), ..Default::default() };
    let localnet = Localnet::start("127.0.0.1:0".parse().unwrap(), config).await.expect("node starts");
    let client = RpcClient::new_with_commitment(localnet.url(), CommitmentConfig::confirmed());
    let blockhash = client.get_latest_blockhash().await.unwrap();
    let issued = std::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        client.is_blockhash_valid(&blockhash, CommitmentConfig::confirmed()).await.unwrap(),
        "expired within 2 s (40 slots)"
    );
    while client.is_blockhash_valid(&blockhash, CommitmentConfig::confirmed()).await.unwrap() {
        assert!(issued.elapsed() < Duration::from_secs(60), "never expired");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!("blockhash lived {:?} at 50 ms slots", issued.elapsed());
    localnet.stop().await;
}
