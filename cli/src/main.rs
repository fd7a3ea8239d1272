//! `bulwark`: the Bulwark command line over Solana JSON-RPC.

use std::path::PathBuf;

use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::Instruction;
use anyhow::{bail, Context, Result};
use bulwark::controller::orders::{
    PlaceOrderArgs, ORDER_TYPE_IMMEDIATE_OR_CANCEL, ORDER_TYPE_LIMIT, ORDER_TYPE_MARKET, ORDER_TYPE_POST_ONLY,
};
use bulwark::state::{
    Clearinghouse, InsuranceStake, MarginAccount, PriceFeed, ACCOUNT_FLAG_BEING_LIQUIDATED, MARKET_STATUS_ACTIVE,
    MARKET_STATUS_PAUSED, MARKET_STATUS_PENDING, MARKET_STATUS_REDUCE_ONLY, SIDE_ASK, SIDE_BID,
};
use bulwark_cli::CliConfig;
use bulwark_sdk::chain::rpc::RpcChain;
use bulwark_sdk::chain::{self, Chain, ConfirmOptions};
use bulwark_sdk::ix::{self, ClearinghouseKeys, MarketKeys};
use bulwark_sdk::snapshot::Snapshot;
use bulwark_sdk::units::{format_decimal, format_price, parse_amount, parse_decimal, price_to_ticks, ticks_to_price};
use bulwark_sdk::{adl, book, insurance, pda, token};
use clap::{Args, Parser, Subcommand, ValueEnum};
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_signer::Signer as _;

#[derive(Parser, Debug)]
#[command(name = "bulwark", version, about = "Bulwark perpetual futures: wallet, trading, positions and insurance")]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
struct Global {
    /// Config file.
    #[arg(long, global = true, env = "BULWARK_CONFIG")]
    config: Option<PathBuf>,
    /// Cluster JSON-RPC URL.
    #[arg(long, global = true, env = "BULWARK_RPC_URL")]
    url: Option<String>,
    /// Keypair file that signs and pays.
    #[arg(long, global = true, env = "BULWARK_KEYPAIR")]
    keypair: Option<PathBuf>,
    /// Clearinghouse address.
    #[arg(long, global = true, env = "BULWARK_CLEARINGHOUSE")]
    clearinghouse: Option<String>,
    /// Print JSON instead of text (positions, markets, book).
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show or change the config file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Write a new keypair file (the configured one unless --outfile).
    Keygen {
        #[arg(long)]
        outfile: Option<PathBuf>,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// The signer's address.
    Address,
    /// SOL and collateral held by the signer's wallet.
    Balance,
    /// Request SOL from the cluster's faucet (localnet, devnet).
    Airdrop { sol: String },
    /// Mint collateral to a wallet (the signer must be the mint authority: test clusters).
    MintCollateral {
        amount: String,
        /// Owner whose associated token account receives it (default: the signer).
        #[arg(long)]
        to: Option<Pubkey>,
    },
    /// Move collateral from the wallet into the margin account (created on first use).
    Deposit {
        amount: String,
        #[arg(long, default_value_t = 0)]
        sub_account: u16,
    },
    /// Move collateral from the margin account back to the wallet.
    Withdraw {
        amount: String,
        #[arg(long, default_value_t = 0)]
        sub_account: u16,
    },
    /// Place or cancel orders.
    #[command(subcommand)]
    Order(OrderCommand),
    /// Positions, health, liquidation prices and ADL indicators.
    Positions {
        /// Whose (default: the signer).
        #[arg(long)]
        owner: Option<Pubkey>,
        #[arg(long, default_value_t = 0)]
        sub_account: u16,
    },
    /// The clearinghouse's markets.
    Markets,
    /// A market's order book.
    Book {
        #[arg(long)]
        market: u16,
        #[arg(long, default_value_t = 10)]
        depth: usize,
    },
    /// Stake into or unstake from the insurance vault.
    #[command(subcommand)]
    Insurance(InsuranceCommand),
    /// Publish to or read a manual price feed.
    #[command(subcommand)]
    Feed(FeedCommand),
    /// ADL rounds: the open rounds and their queues, and nominations.
    #[command(subcommand)]
    Adl(AdlCommand),
}

#[derive(Subcommand, Debug)]
enum AdlCommand {
    /// Every open ADL round: price, lots and shortfall left, window, and the queue in the order
    /// it pays.
    Show {
        /// Only this market's rounds.
        #[arg(long)]
        market: Option<u16>,
    },
    /// Nominate winners to a target's open round (the program scores them at the round's price).
    Nominate {
        /// Market index of the round.
        #[arg(long)]
        market: u16,
        /// The target's margin account.
        #[arg(long)]
        target: Pubkey,
        /// Margin accounts to nominate [default: the best-ranked winners not queued, up to six].
        accounts: Vec<Pubkey>,
    },
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    Show,
    Set {
        #[arg(long)]
        set_url: Option<String>,
        #[arg(long)]
        set_keypair: Option<PathBuf>,
        #[arg(long)]
        set_clearinghouse: Option<Pubkey>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Side {
    Buy,
    Sell,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum OrderType {
    Limit,
    PostOnly,
    Ioc,
    Market,
}

#[derive(Subcommand, Debug)]
enum OrderCommand {
    Place {
        #[arg(long)]
        market: u16,
        #[arg(long, value_enum)]
        side: Side,
        #[arg(long)]
        lots: u64,
        /// Limit price in collateral per base unit (for a market order: the worst price; default
        /// the oracle ± the clearinghouse's fill band).
        #[arg(long)]
        price: Option<String>,
        #[arg(long = "type", value_enum, default_value = "limit")]
        order_type: OrderType,
        #[arg(long)]
        reduce_only: bool,
        /// Expire after this many seconds (default: good till cancelled).
        #[arg(long)]
        expires_in: Option<i64>,
        #[arg(long, default_value_t = 0)]
        client_id: u64,
        #[arg(long, default_value_t = 0)]
        sub_account: u16,
    },
    Cancel {
        #[arg(long)]
        market: u16,
        /// The order id; without it, every order of the account in the market.
        #[arg(long)]
        id: Option<u64>,
        #[arg(long, default_value_t = 0)]
        sub_account: u16,
    },
}

#[derive(Subcommand, Debug)]
enum InsuranceCommand {
    /// Stake collateral from the wallet.
    Stake { amount: String },
    /// Start the cooldown for `shares` (all when omitted). Asking again restarts it. The claim
    /// pays at most the shares' value now.
    RequestUnstake { shares: Option<u64> },
    /// Withdraw requested shares after the cooldown, within the short claim window.
    Unstake,
    /// The vault and the signer's stake.
    Show,
}

#[derive(Subcommand, Debug)]
enum FeedCommand {
    /// Publish a price (the signer must be the feed's authority).
    Publish {
        feed: Pubkey,
        /// In the feed's units (decimal).
        #[arg(long)]
        price: String,
        #[arg(long, default_value = "0")]
        conf: String,
        /// For a redemption-health feed: reserves / liabilities (decimal).
        #[arg(long)]
        reserve_ratio: Option<String>,
        /// Attest that redemption is suspended.
        #[arg(long)]
        redemption_suspended: bool,
    },
    Show {
        feed: Pubkey,
    },
}

struct Ctx {
    config: CliConfig,
    chain: RpcChain,
    json: bool,
}

impl Ctx {
    fn signer(&self) -> Result<Keypair> {
        Ok(bulwark_sdk::keypair::read_keypair_file(&self.config.keypair_path())?)
    }

    async fn send(&self, signer: &Keypair, instructions: &[Instruction]) -> Result<String> {
        let landed = chain::send_and_confirm(&self.chain, instructions, signer, &[], ConfirmOptions::default())
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.describe()))?;
        Ok(landed.signature.to_string())
    }

    async fn clearinghouse(&self) -> Result<(Pubkey, Clearinghouse)> {
        let key = self.config.clearinghouse()?;
        let ch = self
            .chain
            .load::<Clearinghouse>(&key)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .with_context(|| format!("no clearinghouse at {key}"))?;
        Ok((key, ch))
    }

    async fn snapshot(&self) -> Result<Snapshot> {
        let key = self.config.clearinghouse()?;
        Snapshot::load(&self.chain, &key).await.map_err(|e| anyhow::anyhow!("{e}"))
    }

    async fn exists(&self, key: &Pubkey) -> Result<bool> {
        Ok(self.chain.accounts(&[*key]).await.map_err(|e| anyhow::anyhow!("{e}"))?[0].is_some())
    }
}

/// The collateral refresh the clearinghouse needs before any priced instruction.
fn with_refresh(key: &Pubkey, ch: &Clearinghouse, rest: Vec<Instruction>) -> Vec<Instruction> {
    ix::collateral_refresh_for(key, ch).into_iter().chain(rest).collect()
}

/// Price pairs of every market `account` holds a position or orders in, except `skip`.
fn price_pairs_for(snapshot: &Snapshot, account: Option<&MarginAccount>, skip: Option<u16>) -> Vec<Pubkey> {
    let Some(account) = account else { return vec![] };
    let held: Vec<MarketKeys> = account
        .open_positions()
        .filter(|p| Some(p.market_index) != skip)
        .filter_map(|p| snapshot.market(p.market_index).map(|m| m.keys))
        .collect();
    ix::price_pairs(&held)
}

fn status_name(status: u8) -> &'static str {
    match status {
        MARKET_STATUS_PENDING => "pending",
        MARKET_STATUS_ACTIVE => "active",
        MARKET_STATUS_REDUCE_ONLY => "reduce-only",
        MARKET_STATUS_PAUSED => "paused",
        _ => "settling",
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Err(e) = run(Cli::parse()).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<()> {
    let config_path = cli.global.config.clone().unwrap_or_else(CliConfig::default_path);
    let file = CliConfig::load(&config_path)?;
    let overrides = CliConfig {
        url: cli.global.url.clone(),
        keypair: cli.global.keypair.clone(),
        clearinghouse: cli.global.clearinghouse.clone(),
    };
    let config = file.merged(&overrides);
    let chain = RpcChain::new(config.url(), CommitmentConfig::confirmed());
    let ctx = Ctx { config, chain, json: cli.global.json };

    match cli.command {
        Command::Config(ConfigCommand::Show) => {
            println!("config file    {}", config_path.display());
            println!("url            {}", ctx.config.url());
            println!("keypair        {}", ctx.config.keypair_path().display());
            println!("clearinghouse  {}", ctx.config.clearinghouse.as_deref().unwrap_or("(not set)"));
        }
        Command::Config(ConfigCommand::Set { set_url, set_keypair, set_clearinghouse }) => {
            if set_url.is_none() && set_keypair.is_none() && set_clearinghouse.is_none() {
                bail!("nothing to set: pass --set-url, --set-keypair or --set-clearinghouse");
            }
            let mut updated = file.clone();
            updated.url = set_url.or(updated.url);
            updated.keypair = set_keypair.or(updated.keypair);
            updated.clearinghouse = set_clearinghouse.map(|k| k.to_string()).or(updated.clearinghouse);
            updated.save(&config_path)?;
            println!("wrote {}", config_path.display());
        }
        Command::Keygen { outfile, force } => {
            let path = outfile.unwrap_or_else(|| ctx.config.keypair_path());
            if path.exists() && !force {
                bail!("{} exists (pass --force to overwrite)", path.display());
            }
            let keypair = Keypair::new();
            bulwark_sdk::keypair::write_keypair_file(&keypair, &path)?;
            println!("{}", keypair.pubkey());
        }
        Command::Address => println!("{}", ctx.signer()?.pubkey()),
        Command::Balance => balance(&ctx).await?,
        Command::Airdrop { sol } => {
            let lamports = parse_amount(&sol, 9)?;
            let signer = ctx.signer()?.pubkey();
            let signature = ctx.chain.client.request_airdrop(&signer, lamports).await.context("requestAirdrop")?;
            ctx.chain.client.poll_for_signature(&signature).await.context("waiting for the airdrop")?;
            println!("airdropped {sol} SOL to {signer}: {signature}");
        }
        Command::MintCollateral { amount, to } => {
            let signer = ctx.signer()?;
            let (_, ch) = ctx.clearinghouse().await?;
            let atoms = parse_amount(&amount, ch.collateral_decimals as u32)?;
            let owner = to.unwrap_or(signer.pubkey());
            let wallet = token::associated_token_address(&owner, &ch.collateral_mint);
            let signature = ctx
                .send(
                    &signer,
                    &[
                        token::create_associated_token_account_ix(&signer.pubkey(), &owner, &ch.collateral_mint),
                        token::mint_to_ix(&ch.collateral_mint, &wallet, &signer.pubkey(), atoms),
                    ],
                )
                .await?;
            println!("minted {amount} to {owner}: {signature}");
        }
        Command::Deposit { amount, sub_account } => {
            let signer = ctx.signer()?;
            let (key, ch) = ctx.clearinghouse().await?;
            let atoms = parse_amount(&amount, ch.collateral_decimals as u32)?;
            let owner = signer.pubkey();
            let margin = pda::margin_account(&key, &owner, sub_account);
            let keys = ClearinghouseKeys::new(key);
            let wallet = token::associated_token_address(&owner, &ch.collateral_mint);
            let mut ixs = Vec::new();
            if !ctx.exists(&margin).await? {
                ixs.push(ix::create_margin_account_ix(&key, &owner, &owner, sub_account));
            }
            ixs.push(ix::deposit_ix(&owner, &key, &margin, &keys.collateral_vault, &wallet, atoms));
            let signature = ctx.send(&signer, &ixs).await?;
            println!("deposited {amount} into {margin}: {signature}");
        }
        Command::Withdraw { amount, sub_account } => {
            let signer = ctx.signer()?;
            let snapshot = ctx.snapshot().await?;
            let ch = &snapshot.clearinghouse;
            let atoms = parse_amount(&amount, ch.collateral_decimals as u32)?;
            let owner = signer.pubkey();
            let margin = pda::margin_account(&snapshot.keys.key, &owner, sub_account);
            let wallet = token::associated_token_address(&owner, &ch.collateral_mint);
            let pairs = price_pairs_for(&snapshot, snapshot.account(&margin), None);
            let withdraw = ix::with_remaining(
                ix::withdraw_ix(&owner, &snapshot.keys.key, &margin, &snapshot.keys.collateral_vault, &wallet, atoms),
                &pairs,
            );
            let mut ixs = vec![token::create_associated_token_account_ix(&owner, &owner, &ch.collateral_mint)];
            ixs.extend(with_refresh(&snapshot.keys.key, ch, vec![withdraw]));
            let signature = ctx.send(&signer, &ixs).await?;
            println!("withdrew {amount} from {margin}: {signature}");
        }
        Command::Order(OrderCommand::Place {
            market,
            side,
            lots,
            price,
            order_type,
            reduce_only,
            expires_in,
            client_id,
            sub_account,
        }) => {
            let signer = ctx.signer()?;
            let snapshot = ctx.snapshot().await?;
            let view = snapshot.market(market).with_context(|| format!("no market {market}"))?;
            let side = match side {
                Side::Buy => SIDE_BID,
                Side::Sell => SIDE_ASK,
            };
            let order_type = match order_type {
                OrderType::Limit => ORDER_TYPE_LIMIT,
                OrderType::PostOnly => ORDER_TYPE_POST_ONLY,
                OrderType::Ioc => ORDER_TYPE_IMMEDIATE_OR_CANCEL,
                OrderType::Market => ORDER_TYPE_MARKET,
            };
            let price_ticks = match (&price, order_type) {
                (Some(text), _) => price_to_ticks(text, &view.market.params)?,
                (None, ORDER_TYPE_MARKET) => {
                    let oracle = view.price.context("the market's oracle is unavailable; pass --price")?.price as i128;
                    let band = snapshot.clearinghouse.waterfall.max_fill_deviation_bps as i128;
                    let worst =
                        if side == SIDE_BID { oracle * (10_000 + band) } else { oracle * (10_000 - band) } / 10_000;
                    let tick = view.market.params.tick_size as i128;
                    (if side == SIDE_BID { worst / tick } else { (worst + tick - 1) / tick }).max(1) as u64
                }
                (None, _) => bail!("--price is required for this order type"),
            };
            let owner = signer.pubkey();
            let margin = pda::margin_account(&snapshot.keys.key, &owner, sub_account);
            // The makers the order may meet up to its limit, in the order the program takes them.
            let makers = view.book.as_ref().map(|b| book::makers_crossing(b, side, &margin, price_ticks));
            let makers = makers.unwrap_or_default();
            let expiry_unix = match expires_in {
                None => 0,
                Some(s) if s > 0 => {
                    snapshot.clock.unix_timestamp.checked_add(s).context("--expires-in is too large")?
                }
                Some(_) => bail!("--expires-in must be positive"),
            };
            let args = PlaceOrderArgs {
                side,
                order_type,
                price_ticks,
                base_lots: lots,
                reduce_only,
                expiry_unix,
                client_order_id: client_id,
            };
            // Every passed maker's markets are priced too (the program checks each maker's whole
            // account after its fill); trailing makers are dropped to fit one packet.
            let build = |makers: &[Pubkey]| {
                let remaining = snapshot.matching_remaining(market, &margin, makers)?;
                let place = ix::place_order_ix(&owner, &snapshot.keys, &margin, &view.keys, args, &remaining);
                Some(with_refresh(&snapshot.keys.key, &snapshot.clearinghouse, vec![place]))
            };
            let ixs = ix::fit_makers(&makers, 0, &owner, build)
                .context("the order's other markets cannot be priced, or it does not fit one transaction")?;
            let signature = ctx.send(&signer, &ixs).await?;
            let verb = if side == SIDE_BID { "buy" } else { "sell" };
            println!(
                "placed {verb} {lots} lots at {} in market {market}: {signature}",
                ticks_to_price(price_ticks, &view.market.params)
            );
        }
        Command::Order(OrderCommand::Cancel { market, id, sub_account }) => {
            let signer = ctx.signer()?;
            let snapshot = ctx.snapshot().await?;
            let view = snapshot.market(market).with_context(|| format!("no market {market}"))?;
            let margin = pda::margin_account(&snapshot.keys.key, &signer.pubkey(), sub_account);
            let signature =
                ctx.send(&signer, &[ix::cancel_order_ix(&signer.pubkey(), &margin, &view.keys, id)]).await?;
            println!(
                "cancelled {} in market {market}: {signature}",
                id.map_or("all orders".to_string(), |i| format!("order {i}"))
            );
        }
        Command::Positions { owner, sub_account } => {
            let owner = match owner {
                Some(o) => o,
                None => ctx.signer()?.pubkey(),
            };
            positions(&ctx, &owner, sub_account).await?;
        }
        Command::Markets => markets(&ctx).await?,
        Command::Book { market, depth } => order_book(&ctx, market, depth).await?,
        Command::Insurance(command) => insurance(&ctx, command).await?,
        Command::Adl(command) => adl_rounds(&ctx, command).await?,
        Command::Feed(FeedCommand::Publish { feed, price, conf, reserve_ratio, redemption_suspended }) => {
            let signer = ctx.signer()?;
            let current = ctx
                .chain
                .load::<PriceFeed>(&feed)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .with_context(|| format!("no price feed at {feed}"))?;
            let decimals =
                u32::try_from(-current.exponent).context("feeds with a positive exponent are not supported")?;
            let update = bulwark::instructions::PriceFeedUpdate {
                price: i64::try_from(parse_decimal(&price, decimals)?).context("price too large")?,
                conf: parse_amount(&conf, decimals)?,
                redemption_enabled: !redemption_suspended,
                reserve_ratio: match reserve_ratio {
                    Some(r) => i64::try_from(parse_decimal(&r, bulwark_sdk::units::PRICE_DECIMALS)?)?,
                    None => current.reserve_ratio,
                },
            };
            let signature = ctx.send(&signer, &[ix::update_price_feed_ix(&signer.pubkey(), &feed, update)]).await?;
            println!("published {price} to {feed}: {signature}");
        }
        Command::Feed(FeedCommand::Show { feed }) => {
            let f = ctx
                .chain
                .load::<PriceFeed>(&feed)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .with_context(|| format!("no price feed at {feed}"))?;
            let decimals = (-f.exponent).max(0) as u32;
            println!("authority      {}", f.authority);
            println!(
                "price          {} (ema {})",
                format_decimal(f.price as i128, decimals),
                format_decimal(f.ema_price as i128, decimals)
            );
            println!("published      unix {} (slot {})", f.publish_time, f.publish_slot);
            println!("redemption     {}", if f.redemption_enabled != 0 { "enabled" } else { "suspended" });
        }
    }
    Ok(())
}

async fn balance(ctx: &Ctx) -> Result<()> {
    let owner = ctx.signer()?.pubkey();
    let lamports = ctx.chain.client.get_balance(&owner).await.context("getBalance")?;
    println!("SOL            {}", format_decimal(lamports as i128, 9));
    if ctx.config.clearinghouse.is_some() {
        let (_, ch) = ctx.clearinghouse().await?;
        let wallet = token::associated_token_address(&owner, &ch.collateral_mint);
        let data = ctx.chain.accounts(&[wallet]).await.map_err(|e| anyhow::anyhow!("{e}"))?.pop().flatten();
        let atoms = data.and_then(|a| token::token_amount(&a.data)).unwrap_or(0);
        println!("collateral     {}", format_decimal(atoms as i128, ch.collateral_decimals as u32));
    }
    Ok(())
}

async fn positions(ctx: &Ctx, owner: &Pubkey, sub_account: u16) -> Result<()> {
    let snapshot = ctx.snapshot().await?;
    let decimals = snapshot.clearinghouse.collateral_decimals as u32;
    let key = pda::margin_account(&snapshot.keys.key, owner, sub_account);
    let account = snapshot.account(&key).with_context(|| format!("{owner} has no margin account {sub_account}"))?;
    let prices = snapshot.prices();
    let health = bulwark_sdk::health::health(account, &prices).ok();
    let risks = bulwark_sdk::health::position_risks(account, &prices).unwrap_or_default();
    let mut queues = adl::AdlQueues::default();
    for (k, a) in &snapshot.accounts {
        if let Some(h) = bulwark_sdk::health::health(a, &prices).ok() {
            queues.push(k, a, h.equity, &prices);
        }
    }
    queues.finish();
    let liquidatable = health.as_ref().and_then(|h| {
        bulwark::math::liquidation::is_liquidatable(
            h,
            account.status_flags & ACCOUNT_FLAG_BEING_LIQUIDATED != 0,
            snapshot.clearinghouse.waterfall.liquidation_buffer_bps,
        )
        .ok()
    });
    let amount = |v: i128| format_decimal(v, decimals);
    let mut rows = Vec::new();
    for p in account.open_positions() {
        let risk = risks.iter().find(|r| r.market_index == p.market_index);
        let indicator = adl::score(account, p.market_index, &prices).map(|score| {
            // A long is deleveraged against short targets: its queue is the longs' queue.
            adl::indicator(score, queues.counterparties(p.market_index, p.base_lots < 0))
        });
        rows.push(serde_json::json!({
            "market": p.market_index,
            "base_lots": p.base_lots,
            "quote_entry": amount(p.quote_entry as i128),
            "open_bid_lots": p.open_bid_lots,
            "open_ask_lots": p.open_ask_lots,
            "oracle_price": snapshot.market(p.market_index).and_then(|m| m.price).map(|m| format_price(m.price)),
            "unrealized_pnl": risk.map(|r| amount(r.unrealized_pnl)),
            "liquidation_price": risk.and_then(|r| r.liquidation_price).map(format_price),
            "bankruptcy_price": risk.and_then(|r| r.bankruptcy_price).map(format_price),
            "adl_indicator": indicator.unwrap_or(0),
        }));
    }
    let report = serde_json::json!({
        "margin_account": key.to_string(),
        "owner": owner.to_string(),
        "collateral": amount(account.collateral_balance as i128),
        "equity": health.as_ref().map(|h| amount(h.equity)),
        "initial_requirement": health.as_ref().map(|h| amount(h.initial_requirement)),
        "maintenance_requirement": health.as_ref().map(|h| amount(h.maintenance_requirement)),
        "liquidatable": liquidatable,
        "being_liquidated": account.status_flags & ACCOUNT_FLAG_BEING_LIQUIDATED != 0,
        "positions": rows,
    });
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
    println!("margin account {key} (owner {owner})");
    println!("collateral     {}", text(&report["collateral"]));
    println!("equity         {}", text(&report["equity"]));
    println!(
        "requirements   initial {} / maintenance {}",
        text(&report["initial_requirement"]),
        text(&report["maintenance_requirement"])
    );
    println!("liquidatable   {}", text(&report["liquidatable"]));
    println!(
        "{:>6} {:>10} {:>14} {:>14} {:>14} {:>14} {:>4}",
        "market", "lots", "oracle", "uPnL", "liq. price", "bankr. price", "ADL"
    );
    for r in &rows {
        println!(
            "{:>6} {:>10} {:>14} {:>14} {:>14} {:>14} {:>4}",
            text(&r["market"]),
            text(&r["base_lots"]),
            text(&r["oracle_price"]),
            text(&r["unrealized_pnl"]),
            text(&r["liquidation_price"]),
            text(&r["bankruptcy_price"]),
            text(&r["adl_indicator"])
        );
    }
    Ok(())
}

async fn markets(ctx: &Ctx) -> Result<()> {
    let snapshot = ctx.snapshot().await?;
    let rows: Vec<serde_json::Value> = snapshot
        .markets
        .iter()
        .map(|m| {
            let p = &m.market.params;
            let (bid, ask) =
                m.book.as_ref().map_or((None, None), |b| book::best_prices(b, snapshot.clock.unix_timestamp));
            serde_json::json!({
                "index": m.market.index,
                "market": m.keys.key.to_string(),
                "status": status_name(m.market.status),
                "oracle": m.market.oracle.feed.to_string(),
                "oracle_price": m.price.map(|x| format_price(x.price)),
                "best_bid": bid.map(|t| ticks_to_price(t, p)),
                "best_ask": ask.map(|t| ticks_to_price(t, p)),
                "open_interest_lots": m.market.open_interest_long_lots,
                "tick_size": format_price(p.tick_size as i64),
                "initial_margin_bps": p.initial_margin_bps,
                "maintenance_margin_bps": p.maintenance_margin_bps,
            })
        })
        .collect();
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
    println!(
        "{:>5} {:<45} {:<11} {:>12} {:>12} {:>12} {:>10}",
        "index", "market", "status", "oracle", "bid", "ask", "OI lots"
    );
    for r in &rows {
        println!(
            "{:>5} {:<45} {:<11} {:>12} {:>12} {:>12} {:>10}",
            text(&r["index"]),
            text(&r["market"]),
            text(&r["status"]),
            text(&r["oracle_price"]),
            text(&r["best_bid"]),
            text(&r["best_ask"]),
            text(&r["open_interest_lots"])
        );
    }
    Ok(())
}

async fn order_book(ctx: &Ctx, market: u16, depth: usize) -> Result<()> {
    let snapshot = ctx.snapshot().await?;
    let view = snapshot.market(market).with_context(|| format!("no market {market}"))?;
    let b = view.book.as_ref().context("order book unreadable")?;
    let now = snapshot.clock.unix_timestamp;
    let side = |s: u8| -> Vec<serde_json::Value> {
        book::levels(b, s, now)
            .iter()
            .take(depth)
            .map(|l| serde_json::json!({ "price": ticks_to_price(l.price_ticks, &view.market.params), "lots": l.base_lots }))
            .collect()
    };
    let (bids, asks) = (side(SIDE_BID), side(SIDE_ASK));
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "bids": bids, "asks": asks }))?);
        return Ok(());
    }
    println!("{:>14} {:>10} | {:>14} {:>10}", "bid", "lots", "ask", "lots");
    for i in 0..bids.len().max(asks.len()) {
        let cell = |v: Option<&serde_json::Value>, k: &str| {
            v.map(|x| x[k].to_string().trim_matches('"').to_string()).unwrap_or_default()
        };
        println!(
            "{:>14} {:>10} | {:>14} {:>10}",
            cell(bids.get(i), "price"),
            cell(bids.get(i), "lots"),
            cell(asks.get(i), "price"),
            cell(asks.get(i), "lots")
        );
    }
    Ok(())
}

async fn insurance(ctx: &Ctx, command: InsuranceCommand) -> Result<()> {
    let signer = ctx.signer()?;
    let owner = signer.pubkey();
    let (key, ch) = ctx.clearinghouse().await?;
    let keys = ClearinghouseKeys::new(key);
    let stake_key = pda::insurance_stake(&key, &owner);
    let stake = ctx.chain.load::<InsuranceStake>(&stake_key).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let wallet = token::associated_token_address(&owner, &ch.collateral_mint);
    let decimals = ch.collateral_decimals as u32;
    match command {
        InsuranceCommand::Stake { amount } => {
            let atoms = parse_amount(&amount, decimals)?;
            if ch.insurance_total_shares == 0 {
                // A new share epoch: the first stake pays for the locked shares the vault lacks.
                match insurance::quote_stake(&ch, atoms).map_err(|e| anyhow::anyhow!("{e:?}"))? {
                    Some(q) => {
                        println!("first stake: {} shares, {} shares locked for good", q.shares, q.unowned_shares)
                    }
                    None => bail!(
                        "the first stake must exceed {} atoms (locked insurance shares)",
                        bulwark::constants::INSURANCE_LOCKED_SHARES.saturating_sub(ch.insurance_balance)
                    ),
                }
            }
            let mut ixs = Vec::new();
            if stake.is_none() {
                ixs.push(ix::create_insurance_stake_ix(&owner, &owner, &key));
            }
            ixs.push(ix::stake_insurance_ix(&owner, &keys, &wallet, atoms));
            println!("staked {amount}: {}", ctx.send(&signer, &ixs).await?);
        }
        InsuranceCommand::RequestUnstake { shares } => {
            let stake = stake.context("no insurance stake")?;
            let shares = shares.unwrap_or(stake.shares);
            let signature = ctx.send(&signer, &[ix::request_unstake_ix(&owner, &key, shares)]).await?;
            println!("requested unstake of {shares} shares: {signature}");
            if let Some(s) = ctx.chain.load::<InsuranceStake>(&stake_key).await.map_err(|e| anyhow::anyhow!("{e}"))? {
                println!(
                    "pays at most {}; claim from unix {} until unix {}",
                    format_decimal(s.unstake_request_value as i128, decimals),
                    s.unstake_available_unix,
                    s.unstake_claim_deadline_unix
                );
            }
        }
        InsuranceCommand::Unstake => {
            let ixs = [
                token::create_associated_token_account_ix(&owner, &owner, &ch.collateral_mint),
                ix::unstake_insurance_ix(&owner, &keys, &wallet),
            ];
            println!("unstaked: {}", ctx.send(&signer, &ixs).await?);
        }
        InsuranceCommand::Show => {
            println!("insurance vault  {}", format_decimal(ch.insurance_balance as i128, decimals));
            println!("total shares     {}", ch.insurance_total_shares);
            println!("paid out         {}", format_decimal(ch.insurance_paid_total as i128, decimals));
            match stake {
                Some(s) => {
                    // Shares from before the vault was emptied are worth nothing.
                    let now = ctx.chain.clock().await.map_err(|e| anyhow::anyhow!("{e}"))?.unix_timestamp;
                    let view = insurance::stake_view(&s, &ch, now).map_err(|e| anyhow::anyhow!("{e:?}"))?;
                    println!(
                        "your shares      {} (worth {})",
                        view.shares,
                        format_decimal(view.value as i128, decimals)
                    );
                    let state = match view.request {
                        insurance::UnstakeState::None => None,
                        insurance::UnstakeState::CoolingDown => Some("cooling down"),
                        insurance::UnstakeState::Claimable => Some("claimable now"),
                        insurance::UnstakeState::Lapsed => Some("lapsed: request again"),
                    };
                    if let Some(state) = state {
                        println!(
                            "unstake request  {} shares, {state}; claim from unix {} until unix {}",
                            view.request_shares, view.available_unix, view.claim_deadline_unix
                        );
                        println!(
                            "                 pays {} (the lower of {} at the request and its value now)",
                            format_decimal(view.claim_amount as i128, decimals),
                            format_decimal(view.request_value as i128, decimals)
                        );
                    }
                }
                None => println!("your shares      0"),
            }
        }
    }
    Ok(())
}

async fn adl_rounds(ctx: &Ctx, command: AdlCommand) -> Result<()> {
    let snapshot = ctx.snapshot().await?;
    let prices = snapshot.prices();
    let decimals = snapshot.clearinghouse.collateral_decimals as u32;
    let index_of = |market: &Pubkey| snapshot.markets.iter().find(|m| m.keys.key == *market).map(|m| m.market.index);
    match command {
        AdlCommand::Show { market } => {
            let mut rounds = Vec::new();
            for (key, round) in &snapshot.adl_rounds {
                let Some(index) = index_of(&round.market) else { continue };
                if market.is_some_and(|m| m != index) {
                    continue;
                }
                let queue = adl::queue_view(round, index, |k| snapshot.account(k), &prices);
                let window = if snapshot.clock.slot <= round.window_end_slot {
                    format!("open until slot {}", round.window_end_slot)
                } else {
                    "closed: ready to execute".to_string()
                };
                rounds.push(serde_json::json!({
                    "round": key.to_string(),
                    "market": index,
                    "target": round.target.to_string(),
                    "price": format_price(round.price),
                    "target_lots": round.target_lots,
                    "remaining_lots": round.remaining_lots,
                    "uncovered": format_decimal(round.uncovered as i128, decimals),
                    "uncovered_left": format_decimal(round.uncovered_left as i128, decimals),
                    "haircut_total": format_decimal(round.haircut_total as i128, decimals),
                    "window": window,
                    "restarts": round.restart_count,
                    "queue": queue.iter().map(|e| serde_json::json!({
                        "position": e.position,
                        "margin_account": e.margin_account.to_string(),
                        "score": e.score.to_string(),
                        "deferred": e.deferred,
                        "base_lots": e.base_lots,
                        "profit_at_round_price": e.profit_at_round_price.map(|p| format_decimal(p, decimals)),
                        "light": e.light,
                    })).collect::<Vec<_>>(),
                }));
            }
            if ctx.json {
                println!("{}", serde_json::to_string_pretty(&rounds)?);
                return Ok(());
            }
            if rounds.is_empty() {
                println!("no open ADL round");
            }
            let text = |v: &serde_json::Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
            for r in &rounds {
                println!(
                    "round {} — market {}, target {}\n  price {}, {} of {} lots left, shortfall {} left of {}, \
                     haircuts so far {}; window {}; restarts {}",
                    text(&r["round"]),
                    text(&r["market"]),
                    text(&r["target"]),
                    text(&r["price"]),
                    text(&r["remaining_lots"]),
                    text(&r["target_lots"]),
                    text(&r["uncovered_left"]),
                    text(&r["uncovered"]),
                    text(&r["haircut_total"]),
                    text(&r["window"]),
                    text(&r["restarts"]),
                );
                println!(
                    "  {:>3} {:<44} {:>14} {:>10} {:>14} {:>5}",
                    "#", "winner", "score", "lots", "profit at P", "light"
                );
                for e in r["queue"].as_array().into_iter().flatten() {
                    let deferred = if e["deferred"].as_bool() == Some(true) { " (deferred)" } else { "" };
                    println!(
                        "  {:>3} {:<44} {:>14} {:>10} {:>14} {:>5}{deferred}",
                        text(&e["position"]),
                        text(&e["margin_account"]),
                        text(&e["score"]),
                        text(&e["base_lots"]),
                        text(&e["profit_at_round_price"]),
                        text(&e["light"]),
                    );
                }
            }
        }
        AdlCommand::Nominate { market, target, accounts } => {
            let signer = ctx.signer()?;
            let view = snapshot.market(market).with_context(|| format!("market {market} is not listed"))?;
            let round = snapshot.adl_round(market, &target).with_context(|| {
                format!("no open ADL round on {target} in market {market}: `bulwark adl show` lists them")
            })?;
            if snapshot.clock.slot > round.window_end_slot {
                bail!(
                    "the round's nomination window closed at slot {}: a keeper executes it next",
                    round.window_end_slot
                );
            }
            let nominees = if accounts.is_empty() {
                let target_lots = round.target_lots;
                let ranked = adl::rank_counterparties(
                    &target,
                    target_lots,
                    market,
                    snapshot.accounts.iter().map(|(k, a)| (k, a)),
                    &prices,
                );
                let queued: Vec<Pubkey> = round.queue().iter().map(|n| n.margin_account).collect();
                ranked
                    .iter()
                    .map(|c| c.margin_account)
                    .filter(|k| !queued.contains(k))
                    .take(bulwark::constants::MAX_ADL_COUNTERPARTIES)
                    .collect()
            } else {
                accounts
            };
            if nominees.is_empty() {
                bail!("nobody to nominate: every winner in profit on the other side is queued already");
            }
            let mut indexes: Vec<u16> = Vec::new();
            for key in &nominees {
                let account = snapshot.account(key).with_context(|| format!("{key} is not a margin account here"))?;
                for p in account.open_positions() {
                    if p.market_index != market && !indexes.contains(&p.market_index) {
                        indexes.push(p.market_index);
                    }
                }
            }
            let keys: Option<Vec<MarketKeys>> = indexes.iter().map(|i| snapshot.market(*i).map(|m| m.keys)).collect();
            let pairs = ix::price_pairs(&keys.context("a nominee holds a market that is not listed")?);
            let nominate =
                ix::nominate_adl_ix(&signer.pubkey(), &snapshot.keys.key, &view.keys, &target, &pairs, &nominees);
            let signature = ctx.send(&signer, &[nominate]).await?;
            println!("nominated {} winner(s) to the round on {target}: {signature}", nominees.len());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
