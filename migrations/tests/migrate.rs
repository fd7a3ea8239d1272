//! The bootstrap against a node over JSON-RPC: a first run creates everything, a second changes
//! nothing, and a changed file becomes an applied or proposed parameter change.

use std::path::PathBuf;
use std::time::Duration;

use anchor_lang::prelude::Pubkey;
use bulwark::state::{Clearinghouse, Market, PriceFeed, COLLATERAL_MODE_REDEMPTION_AWARE, MARKET_STATUS_ACTIVE};
use bulwark_localnet::{Localnet, NodeConfig};
use bulwark_migrations::{migrate, DeploymentConfig};
use bulwark_sdk::chain::rpc::RpcChain;
use bulwark_sdk::chain::Chain;
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_signer::Signer as _;

fn localnet_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("localnet.toml")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_create_then_change_nothing_then_apply_and_propose() {
    let localnet = Localnet::start(
        "127.0.0.1:0".parse().unwrap(),
        NodeConfig { slot_duration: Duration::from_millis(100), ..Default::default() },
    )
    .await
    .unwrap();
    let chain = RpcChain::new(localnet.url(), CommitmentConfig::confirmed());
    let admin = Keypair::new();
    let airdrop = chain.client.request_airdrop(&admin.pubkey(), 100_000_000_000).await.unwrap();
    chain.client.poll_for_signature(&airdrop).await.unwrap();
    let base = std::env::temp_dir().join(format!("bulwark-migrate-{}", std::process::id()));
    let config = DeploymentConfig::load(&localnet_file()).unwrap();

    let first = migrate(&chain, &admin, &config, &base).await.expect("first run");
    let created = first.actions.iter().filter(|a| a.starts_with("created")).count();
    assert_eq!(created, 1 + 4 + 1 + 1, "mint, 4 feeds, clearinghouse, market: {:#?}", first.actions);
    assert!(first.actions.contains(&"activated market BTC-PERP".to_string()), "{:#?}", first.actions);
    assert!(!first.pending);
    assert!(base.join("keys/localnet-collateral-mint.json").exists());

    let ch_key = first.clearinghouse.parse().unwrap();
    let ch: Clearinghouse = chain.load(&ch_key).await.unwrap().expect("clearinghouse");
    assert_eq!(ch.admin, admin.pubkey());
    assert_eq!(ch.collateral_oracle.mode, COLLATERAL_MODE_REDEMPTION_AWARE);
    assert_eq!(ch.waterfall.max_book_liquidation_reward, 10_000_000);
    assert_eq!(ch.collateral_oracle.redemption_rate_feed.to_string(), first.feeds["usde-redemption"]);
    let market: Market = chain.load(&first.markets[0].market.parse().unwrap()).await.unwrap().expect("market");
    assert_eq!(market.status, MARKET_STATUS_ACTIVE);
    assert_eq!((market.params.tick_size, market.params.initial_margin_bps), (1_000_000, 1_000));
    let btc: PriceFeed = chain.load(&first.feeds["btc-usd"].parse().unwrap()).await.unwrap().expect("feed");
    assert_eq!(btc.price, 100_000_000_000);
    let health: PriceFeed = chain.load(&first.feeds["usde-health"].parse().unwrap()).await.unwrap().expect("feed");
    assert_eq!(health.reserve_ratio, 1_020_000);

    // Idempotent: the same file again sends nothing.
    let second = migrate(&chain, &admin, &config, &base).await.expect("second run");
    assert!(second.actions.iter().all(|a| a.ends_with(": exists")), "{:#?}", second.actions);
    assert_eq!(second.clearinghouse, first.clearinghouse);
    assert_eq!(second.collateral_mint, first.collateral_mint);

    // A higher initial margin only limits new risk: applied at once. A lower initial margin
    // raises risk: proposed behind the (zero-second) timelock, executed by the next run.
    let mut stricter = config.clone();
    stricter.markets[0].initial_margin_bps = 1_200;
    let third = migrate(&chain, &admin, &stricter, &base).await.expect("third run");
    assert!(
        third.actions.contains(&"set market 0 risk: applied (lowers risk, no timelock)".to_string()),
        "{:#?}",
        third.actions
    );
    let market: Market = chain.load(&first.markets[0].market.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(market.params.initial_margin_bps, 1_200);

    let mut looser = stricter.clone();
    looser.markets[0].initial_margin_bps = 800;
    let fourth = migrate(&chain, &admin, &looser, &base).await.expect("fourth run");
    assert!(
        fourth.pending && fourth.actions.iter().any(|a| a.starts_with("set market 0 risk: proposed")),
        "{:#?}",
        fourth.actions
    );
    let fifth = migrate(&chain, &admin, &looser, &base).await.expect("fifth run");
    assert!(fifth.actions.contains(&"executed set market 0 risk".to_string()), "{:#?}", fifth.actions);
    assert!(!fifth.pending);
    let market: Market = chain.load(&first.markets[0].market.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(market.params.initial_margin_bps, 800);

    // A new guardian is proposed; the run that executes it does not propose it again, and the
    // run after that finds nothing to do.
    let guardian = Keypair::new().pubkey();
    let mut new_guardian = looser.clone();
    new_guardian.clearinghouse.guardian = Some(guardian.to_string());
    let proposing = migrate(&chain, &admin, &new_guardian, &base).await.expect("guardian run");
    let proposed = format!("set guardian {guardian}: proposed");
    assert!(proposing.actions.iter().any(|a| a.starts_with(&proposed)), "{:#?}", proposing.actions);
    let executing = migrate(&chain, &admin, &new_guardian, &base).await.expect("guardian execution");
    assert!(executing.actions.contains(&format!("executed set guardian {guardian}")), "{:#?}", executing.actions);
    assert!(
        !executing.pending && executing.actions.iter().all(|a| !a.contains("proposed")),
        "{:#?}",
        executing.actions
    );
    let ch: Clearinghouse = chain.load(&ch_key).await.unwrap().unwrap();
    assert_eq!(ch.guardian, guardian);
    let settled = migrate(&chain, &admin, &new_guardian, &base).await.expect("settled run");
    assert!(settled.actions.iter().all(|a| a.ends_with(": exists")), "{:#?}", settled.actions);

    // What cannot change on-chain is refused with the reason, not silently ignored.
    let mut retick = config.clone();
    retick.markets[0].tick_size = "0.5".into();
    let e = migrate(&chain, &admin, &retick, &base).await.unwrap_err();
    assert!(e.to_string().contains("cannot be changed"), "{e}");

    std::fs::remove_dir_all(base).unwrap();
    localnet.stop().await;
}

#[test]
fn the_shipped_deployment_files_load() {
    for name in ["localnet.toml", "devnet.toml"] {
        let config = DeploymentConfig::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name)).unwrap();
        assert_eq!(config.feeds.len(), 4, "{name}");
        assert_eq!(config.markets[0].params().unwrap().tick_size, 1_000_000, "{name}");
        let feeds = config.feeds.iter().map(|f| (f.name.clone(), Pubkey::new_unique())).collect();
        assert_eq!(config.collateral_oracle(&feeds).unwrap().mode, COLLATERAL_MODE_REDEMPTION_AWARE, "{name}");
    }
}

#[test]
fn deployment_files_refuse_unknown_keys_and_bad_values() {
    let text = std::fs::read_to_string(localnet_file()).unwrap();
    let dir = std::env::temp_dir().join(format!("bulwark-migrate-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let check = |name: &str, body: String| {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        format!("{:#}", DeploymentConfig::load(&path).unwrap_err())
    };
    let e = check("typo.toml", text.replace("timelock_seconds = 0", "timelock_secs = 0"));
    assert!(e.contains("unknown field `timelock_secs`"), "{e}");
    let e = check("index.toml", text.replace("index = 0", "index = 1"));
    assert!(e.contains("must be listed by index from 0"), "{e}");
    let config = {
        let path = dir.join("tick.toml");
        std::fs::write(&path, text.replace("tick_size = \"1\"", "tick_size = \"0.0000001\"")).unwrap();
        DeploymentConfig::load(&path).unwrap()
    };
    let e = format!("{:#}", config.markets[0].params().unwrap_err());
    assert!(e.contains("more than 6 decimal places"), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}
