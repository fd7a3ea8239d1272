//! The node's WebSocket subscriptions as solana-pubsub-client (the Rust SDK's own client) sees
//! them: each notification parsed into Agave's types, exact values, filters that exclude, and
//! unsubscribe ending the stream.

use std::time::Duration;

use bulwark::instructions::PriceFeedUpdate;
use bulwark::state::PriceFeed;
use bulwark_localnet::{Localnet, NodeConfig};
use bulwark_sdk::ix::{create_price_feed_ix, update_price_feed_ix};
use futures_util::StreamExt;
use solana_account_decoder_client_types::{UiAccountData, UiAccountEncoding};
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_pubsub_client::nonblocking::pubsub_client::PubsubClient;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_rpc_client_api::config::{
    RpcAccountInfoConfig, RpcProgramAccountsConfig, RpcSendTransactionConfig, RpcSignatureSubscribeConfig,
    RpcTransactionLogsConfig, RpcTransactionLogsFilter,
};
use solana_rpc_client_api::filter::{Memcmp, RpcFilterType};
use solana_rpc_client_api::response::{ProcessedSignatureResult, RpcSignatureResult};
use solana_signer::Signer as _;
use solana_transaction::Transaction;

const SOL: u64 = 1_000_000_000;
const WAIT: Duration = Duration::from_secs(10);

async fn next<T>(stream: &mut (impl futures_util::Stream<Item = T> + Unpin), what: &str) -> T {
    tokio::time::timeout(WAIT, stream.next()).await.unwrap_or_else(|_| panic!("no {what} within {WAIT:?}")).expect(what)
}

/// Nothing arrives within a short wait (a stream that ended counts as nothing).
async fn silent<T: std::fmt::Debug>(stream: &mut (impl futures_util::Stream<Item = T> + Unpin), what: &str) {
    if let Ok(Some(item)) = tokio::time::timeout(Duration::from_millis(500), stream.next()).await {
        panic!("{what}: unexpected notification {item:?}");
    }
}

fn base64_config() -> RpcAccountInfoConfig {
    RpcAccountInfoConfig { encoding: Some(UiAccountEncoding::Base64), ..Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subscription_notifies_as_a_validator_and_unsubscribes() {
    let config = NodeConfig { slot_duration: Duration::from_millis(50), ..Default::default() };
    let localnet = Localnet::start("127.0.0.1:0".parse().unwrap(), config).await.expect("node starts");
    let client = RpcClient::new_with_commitment(localnet.url(), CommitmentConfig::confirmed());
    // The WebSocket port, and the RPC port: both serve subscriptions.
    let pubsub = PubsubClient::new(&localnet.ws_url()).await.expect("connect to the WebSocket port");
    let same_port = PubsubClient::new(&format!("ws://{}", localnet.addr)).await.expect("connect to the RPC port");

    // ---- slots: consecutive notifications, each with its parent and root
    let (mut slots, slots_off) = pubsub.slot_subscribe().await.expect("slotSubscribe");
    let first = next(&mut slots, "slot").await;
    let second = next(&mut slots, "slot").await;
    assert!(second.slot > first.slot && second.parent == first.slot && second.root == second.parent, "{second:?}");
    slots_off().await;

    // ---- an account: the airdrop's exact lamports, in the encoding asked for
    let user = Keypair::new();
    let (mut account, account_off) =
        pubsub.account_subscribe(&user.pubkey(), Some(base64_config())).await.expect("accountSubscribe");
    let airdrop = client.request_airdrop(&user.pubkey(), 10 * SOL).await.expect("airdrop");
    let note = next(&mut account, "account notification").await;
    assert_eq!(note.value.lamports, 10 * SOL);
    assert_eq!(note.value.owner, anchor_lang::solana_program::system_program::ID.to_string());
    assert_eq!(note.value.data, UiAccountData::Binary(String::new(), UiAccountEncoding::Base64));
    assert!(note.context.slot > 0);

    // ---- a signature that already landed is notified at once, and only once
    let (mut landed, _) = same_port.signature_subscribe(&airdrop, None).await.expect("signatureSubscribe");
    let status = next(&mut landed, "signature notification").await;
    assert_eq!(status.value, RpcSignatureResult::ProcessedSignature(ProcessedSignatureResult { err: None }));
    silent(&mut landed, "a signature after its notification").await;

    // ---- the program's accounts, filtered: a feed's creation matches the PriceFeed size and
    // its authority's bytes; a memcmp on another authority hears nothing
    let feed_size = (8 + std::mem::size_of::<PriceFeed>()) as u64;
    let program_config = |authority: &[u8]| RpcProgramAccountsConfig {
        filters: Some(vec![
            RpcFilterType::DataSize(feed_size),
            RpcFilterType::Memcmp(Memcmp::new_raw_bytes(8, authority.to_vec())),
        ]),
        account_config: base64_config(),
        ..Default::default()
    };
    let (mut feeds, feeds_off) = pubsub
        .program_subscribe(&bulwark::ID, Some(program_config(user.pubkey().as_ref())))
        .await
        .expect("programSubscribe");
    let (mut others, others_off) = pubsub
        .program_subscribe(&bulwark::ID, Some(program_config(Keypair::new().pubkey().as_ref())))
        .await
        .expect("programSubscribe");
    let feed = bulwark_sdk::pda::price_feed(&user.pubkey(), 7);
    let (mut feed_logs, logs_off) = pubsub
        .logs_subscribe(
            RpcTransactionLogsFilter::Mentions(vec![feed.to_string()]),
            RpcTransactionLogsConfig { commitment: None },
        )
        .await
        .expect("logsSubscribe");
    // ---- a signature subscribed before it is sent
    let blockhash = client.get_latest_blockhash().await.unwrap();
    let create = Transaction::new_signed_with_payer(
        &[create_price_feed_ix(&user.pubkey(), &user.pubkey(), 7, -6, 600)],
        Some(&user.pubkey()),
        &[&user],
        blockhash,
    );
    let received = RpcSignatureSubscribeConfig { commitment: None, enable_received_notification: Some(true) };
    let (mut created, _) =
        pubsub.signature_subscribe(&create.signatures[0], Some(received)).await.expect("signatureSubscribe");
    client.send_transaction(&create).await.expect("create the feed");
    assert_eq!(
        next(&mut created, "received").await.value,
        RpcSignatureResult::ReceivedSignature(
            solana_rpc_client_api::response::ReceivedSignatureResult::ReceivedSignature
        )
    );
    assert_eq!(
        next(&mut created, "processed").await.value,
        RpcSignatureResult::ProcessedSignature(ProcessedSignatureResult { err: None })
    );

    let keyed = next(&mut feeds, "program notification").await;
    assert_eq!(keyed.value.pubkey, feed.to_string());
    let rent = client.get_minimum_balance_for_rent_exemption(feed_size as usize).await.unwrap();
    assert_eq!(keyed.value.account.lamports, rent);
    let UiAccountData::Binary(data, UiAccountEncoding::Base64) = &keyed.value.account.data else {
        panic!("{:?}", keyed.value.account.data)
    };
    let data = base64::Engine::decode(&base64::prelude::BASE64_STANDARD, data).unwrap();
    assert_eq!(data.len() as u64, feed_size);
    assert_eq!(&data[8..40], user.pubkey().as_ref());
    // The user's lamports moved too: the account subscription hears the fee and the rent.
    assert_eq!(next(&mut account, "account notification").await.value.lamports, 10 * SOL - 5_000 - rent);
    let logs = next(&mut feed_logs, "logs notification").await;
    assert_eq!(logs.value.signature, create.signatures[0].to_string());
    assert!(logs.value.err.is_none());
    assert!(logs.value.logs.contains(&format!("Program {} success", bulwark::ID)), "{:?}", logs.value.logs);
    silent(&mut others, "a memcmp on another authority").await;

    // ---- a failed transaction: its error in the signature and logs notifications
    // The wrong authority signs beside the paying user.
    let stranger = Keypair::new();
    let wrong = update_price_feed_ix(
        &stranger.pubkey(),
        &feed,
        PriceFeedUpdate { price: 1, conf: 0, redemption_enabled: true, reserve_ratio: 0 },
    );
    let blockhash = client.get_latest_blockhash().await.unwrap();
    let refused = Transaction::new_signed_with_payer(&[wrong], Some(&user.pubkey()), &[&user, &stranger], blockhash);
    let (mut refused_status, _) =
        pubsub.signature_subscribe(&refused.signatures[0], None).await.expect("signatureSubscribe");
    let skip = RpcSendTransactionConfig { skip_preflight: true, ..Default::default() };
    client.send_transaction_with_config(&refused, skip).await.expect("sent without preflight");
    let RpcSignatureResult::ProcessedSignature(processed) = next(&mut refused_status, "processed").await.value else {
        panic!("a processed notification")
    };
    let code = bulwark::error::BulwarkError::NotFeedAuthority as u32 + anchor_lang::error::ERROR_CODE_OFFSET;
    let expected = solana_transaction_error::TransactionError::InstructionError(
        0,
        anchor_lang::solana_program::instruction::error::InstructionError::Custom(code),
    );
    assert_eq!(processed.err.map(Into::into), Some(expected.clone()));
    let failed_logs = next(&mut feed_logs, "logs of the failure").await;
    assert_eq!(failed_logs.value.err.map(Into::into), Some(expected));
    // A failed transaction still pays its fee: two signatures.
    assert_eq!(next(&mut account, "the fee").await.value.lamports, 10 * SOL - 5_000 - rent - 10_000);

    // ---- unsubscribe: the streams end and nothing more arrives
    account_off().await;
    feeds_off().await;
    others_off().await;
    logs_off().await;
    client.request_airdrop(&user.pubkey(), SOL).await.expect("airdrop");
    silent(&mut account, "after accountUnsubscribe").await;
    silent(&mut feed_logs, "after logsUnsubscribe").await;

    drop((slots, account, landed, feeds, others, feed_logs, created, refused_status));
    pubsub.shutdown().await.expect("close");
    same_port.shutdown().await.expect("close");
    localnet.stop().await;
}
