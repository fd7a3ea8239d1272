//! `bulwark`: the Bulwark command line over Solana JSON-RPC.

use std::fmt::Write as _;
use std::path::PathBuf;

use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::Instruction;
use anyhow::{anyhow, bail, Context, Result};
use bulwark::controller::orders::{
    PlaceOrderArgs, ORDER_TYPE_IMMEDIATE_OR_CANCEL, ORDER_TYPE_LIMIT, ORDER_TYPE_MARKET, ORDER_TYPE_POST_ONLY,
};
use bulwark::events::{OrderCancelledV1, CANCEL_REASON_USER};
use bulwark::state::{
    Clearinghouse, InsuranceStake, MarginAccount, Order, PriceFeed, ACCOUNT_FLAG_BEING_LIQUIDATED,
    MARKET_STATUS_ACTIVE, MARKET_STATUS_PAUSED, MARKET_STATUS_PENDING, MARKET_STATUS_REDUCE_ONLY,
    ORDER_FLAG_REDUCE_ONLY, SIDE_ASK, SIDE_BID,
};
use bulwark_cli::explain::{self, Situation};
use bulwark_cli::names::Names;
use bulwark_cli::outcome::{self, OrderAsked, OrderOutcome};
use bulwark_cli::{input, CliConfig};
use bulwark_sdk::accounts::ProgramAccount as _;
use bulwark_sdk::chain::rpc::RpcChain;
use bulwark_sdk::chain::{self, Chain, ChainError, ConfirmOptions, Landed, Signature};
use bulwark_sdk::ix::{self, ClearinghouseKeys, MarketKeys};
use bulwark_sdk::snapshot::{MarketView, Snapshot};
use bulwark_sdk::units::{format_decimal, format_price, ticks_to_price, PRICE_DECIMALS};
use bulwark_sdk::{adl, book, insurance, pda, token};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{json, Value};
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_rpc_client_api::client_error::{Error as ClientError, ErrorKind};
use solana_rpc_client_api::request::{RpcError, RpcRequest};
use solana_signer::Signer as _;

/// Lamports one signature costs: less than this cannot pay for any transaction.
const SIGNATURE_FEE_LAMPORTS: u64 = 5_000;

#[derive(Parser, Debug)]
#[command(
    name = "bulwark",
    version,
    about = "Bulwark perpetual futures: wallet, trading, positions and insurance",
    after_help = "Getting started on bulwark-localnet:\n  \
        bulwark keygen                                   # a keypair at ~/.config/solana/id.json\n  \
        bulwark airdrop 10                               # SOL for fees\n  \
        bulwark-migrate migrations/localnet.toml --airdrop 100 --out deployment.json\n  \
        bulwark config set --set-deployment deployment.json\n  \
        bulwark markets; bulwark book --market BTC-PERP\n\n\
        Markets are named by symbol (BTC-PERP) or index (0), feeds by name (btc-usd) or address. The chain \
        stores no names: symbols and feed names come from the deployment file --deployment names.\n\n\
        With --json, a command prints its result as JSON on stdout; a failure prints {\"error\": \"...\"} on \
        stderr and exits with status 1 (2 for a command line that does not parse)."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
#[command(next_help_heading = "Global options")]
struct Global {
    /// Config file [default: ~/.config/bulwark/cli.toml].
    #[arg(long, global = true, env = "BULWARK_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Cluster JSON-RPC URL [default: the config's `url`, else http://127.0.0.1:8899].
    #[arg(long, global = true, env = "BULWARK_RPC_URL")]
    url: Option<String>,
    /// Keypair file that signs and pays [default: the config's `keypair`, else ~/.config/solana/id.json].
    #[arg(long, global = true, env = "BULWARK_KEYPAIR", value_name = "FILE")]
    keypair: Option<PathBuf>,
    /// Clearinghouse address [default: the config's `clearinghouse`, else the deployment file's].
    #[arg(long, global = true, env = "BULWARK_CLEARINGHOUSE", value_name = "ADDRESS")]
    clearinghouse: Option<String>,
    /// The JSON `bulwark-migrate --out` wrote: names markets (BTC-PERP) and feeds (btc-usd), and gives
    /// the clearinghouse when none is set [default: the config's `deployment`, else none: markets by
    /// index, feeds by address].
    #[arg(long, global = true, env = "BULWARK_DEPLOYMENT", value_name = "FILE")]
    deployment: Option<PathBuf>,
    /// Print JSON: the result on stdout, or {"error": "..."} on stderr when the command fails
    /// [default: text].
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show or change the config file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Write a new keypair file, and print where it went and its address.
    Keygen {
        /// Where to write it [default: the --keypair in use, else ~/.config/solana/id.json].
        #[arg(long, value_name = "FILE")]
        outfile: Option<PathBuf>,
        /// Overwrite an existing file (whatever its address holds becomes unreachable).
        #[arg(long)]
        force: bool,
    },
    /// The signer's address.
    Address,
    /// SOL and collateral held by the signer's wallet.
    Balance,
    /// Request SOL from the cluster's faucet (bulwark-localnet gives at most 1000 SOL at a time,
    /// devnet a few).
    Airdrop {
        /// SOL to request (decimal, e.g. 1 or 0.5).
        #[arg(value_name = "SOL", allow_hyphen_values = true)]
        sol: String,
    },
    /// Mint collateral to a wallet (the signer must be the mint authority: test clusters).
    MintCollateral {
        /// Collateral to mint (decimal, e.g. 1000).
        #[arg(allow_hyphen_values = true)]
        amount: String,
        /// Owner whose associated token account receives it [default: the signer].
        #[arg(long, value_name = "ADDRESS")]
        to: Option<Pubkey>,
    },
    /// Move collateral from the wallet into the margin account (created on first use).
    Deposit {
        /// Collateral to deposit (decimal, e.g. 1000).
        #[arg(allow_hyphen_values = true)]
        amount: String,
        #[command(flatten)]
        sub: SubAccount,
    },
    /// Move collateral from the margin account back to the wallet.
    Withdraw {
        /// Collateral to withdraw (decimal, e.g. 250.5).
        #[arg(allow_hyphen_values = true)]
        amount: String,
        #[command(flatten)]
        sub: SubAccount,
    },
    /// Place or cancel orders.
    #[command(subcommand)]
    Order(OrderCommand),
    /// Positions, health, liquidation prices, ADL indicators and open orders (with their ids).
    Positions {
        /// Whose margin account [default: the signer's].
        #[arg(long, value_name = "ADDRESS")]
        owner: Option<Pubkey>,
        #[command(flatten)]
        sub: SubAccount,
    },
    /// The clearinghouse's markets: symbol, status, oracle price, best bid and ask.
    Markets,
    /// A market's order book: price levels and the ids of the orders resting there.
    Book {
        /// Market symbol (BTC-PERP, from the deployment file) or index (0).
        #[arg(long)]
        market: String,
        /// Price levels shown per side.
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

#[derive(Args, Debug)]
struct SubAccount {
    /// Which of the owner's margin accounts (one owner may hold several, numbered from 0).
    #[arg(long, default_value_t = 0)]
    sub_account: u16,
}

#[derive(Subcommand, Debug)]
enum AdlCommand {
    /// Every open ADL round: price, lots and shortfall left, window, and the queue in the order
    /// it pays.
    Show {
        /// Only this market's rounds: symbol or index [default: every market].
        #[arg(long)]
        market: Option<String>,
    },
    /// Nominate winners to a target's open round (the program scores them at the round's price).
    Nominate {
        /// Market of the round: symbol or index.
        #[arg(long)]
        market: String,
        /// The target's margin account.
        #[arg(long, value_name = "ADDRESS")]
        target: Pubkey,
        /// Margin accounts to nominate [default: the best-ranked winners not queued, up to six].
        #[arg(value_name = "ACCOUNT")]
        accounts: Vec<Pubkey>,
    },
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Print the settings in force (flags and environment over the config file).
    Show,
    /// Change settings in the config file (only those given; the others are kept).
    Set {
        /// Cluster JSON-RPC URL [default: unchanged].
        #[arg(long, value_name = "URL")]
        set_url: Option<String>,
        /// Keypair file [default: unchanged].
        #[arg(long, value_name = "FILE")]
        set_keypair: Option<PathBuf>,
        /// Clearinghouse address [default: unchanged].
        #[arg(long, value_name = "ADDRESS")]
        set_clearinghouse: Option<Pubkey>,
        /// Deployment file from `bulwark-migrate --out`, stored as an absolute path [default: unchanged].
        #[arg(long, value_name = "FILE")]
        set_deployment: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Side {
    /// Go long (or shrink a short).
    Buy,
    /// Go short (or shrink a long).
    Sell,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum OrderType {
    /// Take what crosses, rest the remainder.
    Limit,
    /// Rest only: refused if it would take.
    PostOnly,
    /// Immediate or cancel: take what crosses, cancel the rest.
    Ioc,
    /// Immediate or cancel up to a worst price (--price, or the oracle ± the fill band).
    Market,
}

#[derive(Subcommand, Debug)]
enum OrderCommand {
    /// Place an order, and report what filled (lots, average price) and what rests (order id).
    Place {
        /// Market symbol (BTC-PERP, from the deployment file) or index (0).
        #[arg(long)]
        market: String,
        /// Buy (long) or sell (short).
        #[arg(long, value_enum)]
        side: Side,
        /// Size in lots (a lot is the market's base_lot_size: 0.001 BTC for BTC-PERP on localnet).
        #[arg(long)]
        lots: u64,
        /// Limit price in collateral per whole base unit, a multiple of the tick size [default: required,
        /// except for --type market: the oracle ± the clearinghouse's fill band].
        #[arg(long, allow_negative_numbers = true)]
        price: Option<String>,
        /// Order type.
        #[arg(long = "type", value_enum, default_value = "limit")]
        order_type: OrderType,
        /// Only shrink the position, never grow or flip it.
        #[arg(long)]
        reduce_only: bool,
        /// Expire after this many seconds [default: good till cancelled].
        #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
        expires_in: Option<i64>,
        /// Your own number for the order, stored with it on the book.
        #[arg(long, default_value_t = 0)]
        client_id: u64,
        #[command(flatten)]
        sub: SubAccount,
    },
    /// Cancel one order by id (`bulwark positions` or `bulwark book` show ids), or all of yours in a market.
    Cancel {
        /// Market symbol (BTC-PERP, from the deployment file) or index (0).
        #[arg(long)]
        market: String,
        /// The order id [default: every order of the account in the market].
        #[arg(long)]
        id: Option<u64>,
        #[command(flatten)]
        sub: SubAccount,
    },
}

#[derive(Subcommand, Debug)]
enum InsuranceCommand {
    /// Stake collateral from the wallet.
    Stake {
        /// Collateral to stake (decimal).
        #[arg(allow_hyphen_values = true)]
        amount: String,
    },
    /// Start the cooldown for `shares`. Asking again restarts it. The claim pays at most the
    /// shares' value now.
    RequestUnstake {
        /// Shares to unstake [default: all of them].
        shares: Option<u64>,
    },
    /// Withdraw requested shares after the cooldown, within the short claim window.
    Unstake,
    /// The vault and the signer's stake.
    Show,
}

#[derive(Subcommand, Debug)]
enum FeedCommand {
    /// Publish a price (the signer must be the feed's authority).
    Publish {
        /// Feed name (btc-usd, from the deployment file) or address.
        feed: String,
        /// In the feed's units (decimal). Non-positive prices are stored, and every reader refuses them.
        #[arg(long, allow_negative_numbers = true)]
        price: String,
        /// Confidence interval, in the feed's units (decimal).
        #[arg(long, default_value = "0")]
        conf: String,
        /// For a redemption-health feed: reserves / liabilities (decimal) [default: the feed's current ratio].
        #[arg(long)]
        reserve_ratio: Option<String>,
        /// Attest that redemption is suspended.
        #[arg(long)]
        redemption_suspended: bool,
    },
    /// A feed's price, average, publish time and authority.
    Show {
        /// Feed name (btc-usd, from the deployment file) or address.
        feed: String,
    },
}

/// A command's result: JSON for --json, text otherwise.
struct Output {
    json: Value,
    text: String,
}

impl Output {
    fn new(json: Value, text: impl Into<String>) -> Self {
        Self { json, text: text.into() }
    }
}

struct Ctx {
    config: CliConfig,
    url: String,
    chain: RpcChain,
    /// Output is JSON: nothing but the one object goes to each stream.
    json: bool,
}

impl Ctx {
    fn situation<'a>(&'a self, signer: Option<&'a Pubkey>) -> Situation<'a> {
        Situation { url: &self.url, signer }
    }

    /// A failed read, as a sentence.
    fn read_error(&self, error: ChainError) -> anyhow::Error {
        anyhow!(explain::chain_error(&error, &[], &self.situation(None)))
    }

    fn client_error(&self, error: ClientError) -> anyhow::Error {
        self.read_error(chain::rpc::classify(&error))
    }

    fn signer(&self) -> Result<Keypair> {
        let path = self.config.keypair_path();
        bulwark_sdk::keypair::read_keypair_file(&path).map_err(|e| anyhow!(explain::keypair_error(&path, &e)))
    }

    /// Refuse early when the signer cannot pay a fee (the node would say "no record of a prior
    /// credit").
    async fn check_fees(&self, signer: &Keypair) -> Result<()> {
        let key = signer.pubkey();
        let lamports = self.chain.client.get_balance(&key).await.map_err(|e| self.client_error(e))?;
        if lamports == 0 {
            bail!(explain::no_sol(Some(&key)));
        }
        if lamports < SIGNATURE_FEE_LAMPORTS {
            bail!(
                "the signer {key} has {} SOL, too little to pay fees: {}",
                format_decimal(lamports as i128, 9),
                explain::AIRDROP_HINT
            );
        }
        Ok(())
    }

    async fn send(&self, signer: &Keypair, instructions: &[Instruction]) -> Result<Landed> {
        self.send_with_hint(signer, instructions, |_| None).await
    }

    /// `send`, with `hint` adding what the command knows to a program error.
    async fn send_with_hint(
        &self,
        signer: &Keypair,
        instructions: &[Instruction],
        hint: impl Fn(&explain::ProgramFailure) -> Option<String>,
    ) -> Result<Landed> {
        let key = signer.pubkey();
        let programs: Vec<Pubkey> = instructions.iter().map(|i| i.program_id).collect();
        chain::send_and_confirm(&self.chain, instructions, signer, &[], ConfirmOptions::default()).await.map_err(|e| {
            let mut text = explain::chain_error(&e, &programs, &self.situation(Some(&key)));
            if let ChainError::Transaction { err, logs } = &e {
                if let Some(extra) = explain::program_failure(err, logs, &programs).as_ref().and_then(hint) {
                    text = format!("{text}: {extra}");
                }
            }
            anyhow!(text)
        })
    }

    async fn clearinghouse(&self) -> Result<(Pubkey, Clearinghouse)> {
        let key = self.config.clearinghouse()?;
        let account = self.chain.accounts(&[key]).await.map_err(|e| self.read_error(e))?.pop().flatten();
        let Some(account) = account else {
            bail!(
                "no clearinghouse at {key} on {}: bulwark-localnet keeps state in memory — rerun `bulwark-migrate \
                 migrations/localnet.toml --airdrop 100 --out deployment.json` after a restart, then `bulwark config \
                 set --set-clearinghouse <ADDRESS>` (or --set-deployment deployment.json)",
                self.url
            );
        };
        if account.owner != bulwark::ID {
            bail!(
                "{key} on {} is not a Bulwark clearinghouse (its owner is {}): check --clearinghouse",
                self.url,
                explain::program_name(&account.owner)
            );
        }
        let ch = Clearinghouse::decode(&account.data).map_err(|_| {
            anyhow!("{key} on {} is a Bulwark account but not a clearinghouse: check --clearinghouse", self.url)
        })?;
        Ok((key, ch))
    }

    async fn snapshot(&self) -> Result<Snapshot> {
        let (key, _) = self.clearinghouse().await?;
        Snapshot::load(&self.chain, &key).await.map_err(|e| self.read_error(e))
    }

    /// The names in force for `clearinghouse`.
    /// Names from the deployment file. An unreadable file does not stop commands that need no
    /// names (they show indexes and addresses, with a warning unless --json); naming a market
    /// or feed then fails saying why.
    fn names(&self, clearinghouse: &Pubkey) -> Result<Names> {
        Ok(match self.config.deployment() {
            Ok(deployment) => Names::new(deployment, Some(clearinghouse)),
            Err(e) => {
                if !self.json {
                    eprintln!("warning: {e}: markets and feeds are shown by index and address");
                }
                Names::unreadable(e.to_string())
            }
        })
    }

    async fn exists(&self, key: &Pubkey) -> Result<bool> {
        Ok(self.chain.accounts(&[*key]).await.map_err(|e| self.read_error(e))?[0].is_some())
    }

    async fn load<T: bulwark_sdk::accounts::ProgramAccount>(&self, key: &Pubkey) -> Result<Option<T>> {
        self.chain.load::<T>(key).await.map_err(|e| self.read_error(e))
    }

    /// Collateral atoms in `owner`'s associated token account, `None` when it has none.
    async fn wallet_collateral(&self, owner: &Pubkey, ch: &Clearinghouse) -> Result<Option<u64>> {
        let wallet = token::associated_token_address(owner, &ch.collateral_mint);
        let account = self.chain.accounts(&[wallet]).await.map_err(|e| self.read_error(e))?.pop().flatten();
        Ok(account.map(|a| token::token_amount(&a.data).unwrap_or(0)))
    }

    /// Refuse to move more collateral out of the wallet than it holds.
    async fn check_wallet(&self, owner: &Pubkey, ch: &Clearinghouse, atoms: u64, verb: &str) -> Result<()> {
        let decimals = ch.collateral_decimals as u32;
        match self.wallet_collateral(owner, ch).await? {
            None => bail!(
                "your wallet has no token account for the collateral mint {}, so it holds no collateral to {verb}: get \
                 some first — `bulwark mint-collateral <AMOUNT>` on a test cluster",
                ch.collateral_mint
            ),
            Some(held) if held < atoms => {
                let held = format_decimal(held as i128, decimals);
                bail!(
                    "your wallet holds {held} collateral; {verb} at most {held}, or `bulwark mint-collateral` on a \
                     test cluster"
                )
            }
            Some(_) => Ok(()),
        }
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

/// A JSON value as a table cell: strings bare, `null` as `-`.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The market `text` names, with its label (symbol, else `#index`).
fn market_view<'s>(snapshot: &'s Snapshot, names: &Names, text: &str) -> Result<(&'s MarketView, String)> {
    let index = names.market_index(text)?;
    let label = names.market_label(index);
    let view = snapshot.market(index).ok_or_else(|| {
        anyhow!("no market {label} in clearinghouse {}: `bulwark markets` lists them", snapshot.keys.key)
    })?;
    Ok((view, label))
}

/// `who`: "you" (the signer) or anyone else.
fn no_margin_account(owner: &Pubkey, sub_account: u16, who: &str) -> anyhow::Error {
    if who != "you" {
        return anyhow!("{owner} has no margin account {sub_account} in this clearinghouse");
    }
    anyhow!(
        "you ({owner}) have no margin account {sub_account} in this clearinghouse: `bulwark deposit <AMOUNT>{}` \
         creates it",
        if sub_account == 0 { String::new() } else { format!(" --sub-account {sub_account}") }
    )
}

/// The account's orders resting in `view`'s book.
fn own_orders<'a>(view: &'a MarketView, margin: &'a Pubkey) -> impl Iterator<Item = (u8, &'a Order)> + 'a {
    view.book
        .iter()
        .flat_map(|b| [SIDE_BID, SIDE_ASK].into_iter().flat_map(move |s| b.orders(s).iter().map(move |o| (s, o))))
        .filter(move |(_, o)| o.maker == *margin)
}

fn clap_error_sentence(error: &clap::Error) -> String {
    let rendered = error.to_string();
    let first = rendered.lines().next().unwrap_or_default();
    first.strip_prefix("error: ").unwrap_or(first).to_string()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let json = std::env::args_os().any(|a| a == "--json");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if json && e.use_stderr() => {
            eprintln!("{}", json!({ "error": clap_error_sentence(&e) }));
            std::process::exit(2);
        }
        Err(e) => e.exit(),
    };
    match run(cli).await {
        Ok(output) if json => println!("{}", serde_json::to_string_pretty(&output.json).expect("JSON")),
        Ok(output) => {
            if !output.text.is_empty() {
                println!("{}", output.text.trim_end_matches('\n'));
            }
        }
        Err(e) => {
            let message = explain::render(&e);
            if json {
                eprintln!("{}", json!({ "error": message }));
            } else {
                eprintln!("error: {message}");
            }
            std::process::exit(1);
        }
    }
}

async fn run(cli: Cli) -> Result<Output> {
    let config_path = cli.global.config.clone().unwrap_or_else(CliConfig::default_path);
    let file = CliConfig::load(&config_path)?;
    let overrides = CliConfig {
        url: cli.global.url.clone(),
        keypair: cli.global.keypair.clone(),
        clearinghouse: cli.global.clearinghouse.clone(),
        deployment: cli.global.deployment.clone(),
    };
    let config = file.merged(&overrides);
    let url = config.url();
    let chain = RpcChain::new(url.clone(), CommitmentConfig::confirmed());
    let ctx = Ctx { config, url, chain, json: cli.global.json };

    match cli.command {
        Command::Config(ConfigCommand::Show) => {
            let c = &ctx.config;
            let path = |p: Option<PathBuf>| p.map(|p| p.display().to_string());
            let report = json!({
                "config_file": config_path.display().to_string(),
                "url": c.url(),
                "keypair": c.keypair_path().display().to_string(),
                "clearinghouse": c.clearinghouse.clone(),
                "deployment": path(c.deployment.clone()),
            });
            let mut text = String::new();
            writeln!(text, "config file    {}", config_path.display())?;
            writeln!(text, "url            {}", c.url())?;
            writeln!(text, "keypair        {}", c.keypair_path().display())?;
            let from_deployment = if c.deployment.is_some() { "(the deployment file's)" } else { "(not set)" };
            writeln!(text, "clearinghouse  {}", c.clearinghouse.as_deref().unwrap_or(from_deployment))?;
            writeln!(text, "deployment     {}", path(c.deployment.clone()).as_deref().unwrap_or("(not set)"))?;
            Ok(Output::new(report, text))
        }
        Command::Config(ConfigCommand::Set { set_url, set_keypair, set_clearinghouse, set_deployment }) => {
            if set_url.is_none() && set_keypair.is_none() && set_clearinghouse.is_none() && set_deployment.is_none() {
                bail!("nothing to set: pass --set-url, --set-keypair, --set-clearinghouse or --set-deployment");
            }
            let set_deployment = match set_deployment {
                Some(path) => {
                    // Read it now: a wrong path is said here, not at every later command.
                    let deployment = bulwark_cli::names::Deployment::load(&path)?;
                    Some(std::fs::canonicalize(&path).unwrap_or(deployment.path))
                }
                None => None,
            };
            let mut updated = file.clone();
            updated.url = set_url.or(updated.url);
            updated.keypair = set_keypair.or(updated.keypair);
            updated.clearinghouse = set_clearinghouse.map(|k| k.to_string()).or(updated.clearinghouse);
            updated.deployment = set_deployment.or(updated.deployment);
            updated.save(&config_path)?;
            Ok(Output::new(
                json!({ "wrote": config_path.display().to_string() }),
                format!("wrote {}", config_path.display()),
            ))
        }
        Command::Keygen { outfile, force } => {
            let path = outfile.unwrap_or_else(|| ctx.config.keypair_path());
            if path.exists() && !force {
                let holder = bulwark_sdk::keypair::read_keypair_file(&path)
                    .map(|k| format!(" (address {})", k.pubkey()))
                    .unwrap_or_default();
                bail!(
                    "{} already exists{holder}: pass --force to overwrite it (its funds become unreachable), or \
                     choose another --outfile",
                    path.display()
                );
            }
            let keypair = Keypair::new();
            bulwark_sdk::keypair::write_keypair_file(&keypair, &path)
                .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))?;
            let shown = std::fs::canonicalize(&path).unwrap_or(path);
            Ok(Output::new(
                json!({ "path": shown.display().to_string(), "address": keypair.pubkey().to_string() }),
                format!(
                    "wrote a new keypair to {}\naddress {}\nnext: `bulwark airdrop 1` for fees (localnet/devnet)",
                    shown.display(),
                    keypair.pubkey()
                ),
            ))
        }
        Command::Address => {
            let address = ctx.signer()?.pubkey();
            Ok(Output::new(json!({ "address": address.to_string() }), address.to_string()))
        }
        Command::Balance => balance(&ctx).await,
        Command::Airdrop { sol } => airdrop(&ctx, &sol).await,
        Command::MintCollateral { amount, to } => {
            let signer = ctx.signer()?;
            let (_, ch) = ctx.clearinghouse().await?;
            let decimals = ch.collateral_decimals as u32;
            let atoms = input::positive_amount("amount", &amount, decimals)?;
            let mint = ch.collateral_mint;
            let account = ctx.chain.accounts(&[mint]).await.map_err(|e| ctx.read_error(e))?.pop().flatten();
            let authority = account.and_then(|a| token::mint_info(&a.data)).map(|(_, authority)| authority);
            match authority {
                None => bail!("the collateral mint {mint} is missing or not a token mint on {}", ctx.url),
                Some(None) => bail!(
                    "the collateral mint {mint} has no mint authority: nobody can mint it (acquire the collateral \
                     instead)"
                ),
                Some(Some(authority)) if authority != signer.pubkey() => bail!(
                    "the signer {} is not the mint authority of the collateral mint {mint} (its authority is \
                     {authority}): only that keypair can mint — on bulwark-localnet, the keypair that ran \
                     bulwark-migrate",
                    signer.pubkey()
                ),
                Some(Some(_)) => {}
            }
            ctx.check_fees(&signer).await?;
            let owner = to.unwrap_or(signer.pubkey());
            let wallet = token::associated_token_address(&owner, &mint);
            let landed = ctx
                .send(
                    &signer,
                    &[
                        token::create_associated_token_account_ix(&signer.pubkey(), &owner, &mint),
                        token::mint_to_ix(&mint, &wallet, &signer.pubkey(), atoms),
                    ],
                )
                .await?;
            let amount = format_decimal(atoms as i128, decimals);
            Ok(Output::new(
                json!({ "minted": amount, "to": owner.to_string(), "signature": landed.signature.to_string() }),
                format!("minted {amount} collateral to {owner}: {}", landed.signature),
            ))
        }
        Command::Deposit { amount, sub: SubAccount { sub_account } } => {
            let signer = ctx.signer()?;
            let (key, ch) = ctx.clearinghouse().await?;
            let decimals = ch.collateral_decimals as u32;
            let atoms = input::positive_amount("amount", &amount, decimals)?;
            ctx.check_fees(&signer).await?;
            let owner = signer.pubkey();
            ctx.check_wallet(&owner, &ch, atoms, "deposit").await?;
            let margin = pda::margin_account(&key, &owner, sub_account);
            let keys = ClearinghouseKeys::new(key);
            let wallet = token::associated_token_address(&owner, &ch.collateral_mint);
            let mut ixs = Vec::new();
            let created = !ctx.exists(&margin).await?;
            if created {
                ixs.push(ix::create_margin_account_ix(&key, &owner, &owner, sub_account));
            }
            ixs.push(ix::deposit_ix(&owner, &key, &margin, &keys.collateral_vault, &wallet, atoms));
            let landed = ctx.send(&signer, &ixs).await?;
            let balance = ctx
                .load::<MarginAccount>(&margin)
                .await?
                .map(|a| format_decimal(a.collateral_balance as i128, decimals));
            let amount = format_decimal(atoms as i128, decimals);
            Ok(Output::new(
                json!({
                    "deposited": amount, "margin_account": margin.to_string(), "created": created,
                    "collateral": balance, "signature": landed.signature.to_string(),
                }),
                format!(
                    "deposited {amount} into {}margin account {margin}{}: {}",
                    if created { "the new " } else { "" },
                    balance.map(|b| format!(" (collateral now {b})")).unwrap_or_default(),
                    landed.signature
                ),
            ))
        }
        Command::Withdraw { amount, sub: SubAccount { sub_account } } => {
            let signer = ctx.signer()?;
            let snapshot = ctx.snapshot().await?;
            let ch = &snapshot.clearinghouse;
            let decimals = ch.collateral_decimals as u32;
            let atoms = input::positive_amount("amount", &amount, decimals)?;
            let owner = signer.pubkey();
            let margin = pda::margin_account(&snapshot.keys.key, &owner, sub_account);
            let account = snapshot.account(&margin).ok_or_else(|| no_margin_account(&owner, sub_account, "you"))?;
            ctx.check_fees(&signer).await?;
            let wallet = token::associated_token_address(&owner, &ch.collateral_mint);
            let pairs = price_pairs_for(&snapshot, Some(account), None);
            let withdraw = ix::with_remaining(
                ix::withdraw_ix(&owner, &snapshot.keys.key, &margin, &snapshot.keys.collateral_vault, &wallet, atoms),
                &pairs,
            );
            let mut ixs = vec![token::create_associated_token_account_ix(&owner, &owner, &ch.collateral_mint)];
            ixs.extend(with_refresh(&snapshot.keys.key, ch, vec![withdraw]));
            let landed = ctx.send(&signer, &ixs).await?;
            let amount = format_decimal(atoms as i128, decimals);
            Ok(Output::new(
                json!({
                    "withdrew": amount,
                    "margin_account": margin.to_string(),
                    "signature": landed.signature.to_string(),
                }),
                format!("withdrew {amount} from margin account {margin}: {}", landed.signature),
            ))
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
            sub: SubAccount { sub_account },
        }) => {
            let args =
                PlaceArgs { market, side, lots, price, order_type, reduce_only, expires_in, client_id, sub_account };
            place_order(&ctx, args).await
        }
        Command::Order(OrderCommand::Cancel { market, id, sub: SubAccount { sub_account } }) => {
            let signer = ctx.signer()?;
            let snapshot = ctx.snapshot().await?;
            let names = ctx.names(&snapshot.keys.key)?;
            let (view, label) = market_view(&snapshot, &names, &market)?;
            let margin = pda::margin_account(&snapshot.keys.key, &signer.pubkey(), sub_account);
            let mine: Vec<u64> = own_orders(view, &margin).map(|(_, o)| o.order_id).collect();
            if let Some(id) = id {
                let all = view
                    .book
                    .iter()
                    .flat_map(|b| [SIDE_BID, SIDE_ASK].into_iter().flat_map(move |s| b.orders(s).iter()));
                match all.clone().find(|o| o.order_id == id) {
                    None => bail!("no open order {id} in {label}: `bulwark positions` lists your orders and their ids"),
                    Some(o) if o.maker != margin => bail!(
                        "order {id} in {label} is not yours (it belongs to margin account {}): `bulwark positions` \
                         lists yours",
                        o.maker
                    ),
                    Some(_) => {}
                }
            } else if mine.is_empty() {
                return Ok(Output::new(
                    json!({ "market": label, "cancelled": Vec::<u64>::new() }),
                    format!("you have no open orders in {label}: nothing to cancel"),
                ));
            }
            ctx.check_fees(&signer).await?;
            let landed = ctx.send(&signer, &[ix::cancel_order_ix(&signer.pubkey(), &margin, &view.keys, id)]).await?;
            let mut cancelled: Vec<u64> = bulwark_sdk::events::decode_events::<OrderCancelledV1>(&landed.logs)
                .iter()
                .filter(|c| c.margin_account == margin && c.reason == CANCEL_REASON_USER)
                .map(|c| c.order_id)
                .collect();
            if cancelled.is_empty() {
                // No events returned: what was asked for is what the program did.
                cancelled = id.map_or(mine, |i| vec![i]);
            }
            let ids: Vec<String> = cancelled.iter().map(|i| i.to_string()).collect();
            Ok(Output::new(
                json!({ "market": label, "cancelled": cancelled, "signature": landed.signature.to_string() }),
                format!(
                    "cancelled {} {} in {label}: {}",
                    if cancelled.len() == 1 { "order" } else { "orders" },
                    ids.join(", "),
                    landed.signature
                ),
            ))
        }
        Command::Positions { owner, sub: SubAccount { sub_account } } => {
            let (owner, who) = match owner {
                Some(o) => (o, "owner"),
                None => (ctx.signer()?.pubkey(), "you"),
            };
            positions(&ctx, &owner, who, sub_account).await
        }
        Command::Markets => markets(&ctx).await,
        Command::Book { market, depth } => order_book(&ctx, &market, depth).await,
        Command::Insurance(command) => insurance_command(&ctx, command).await,
        Command::Adl(command) => adl_rounds(&ctx, command).await,
        Command::Feed(command) => feed(&ctx, command).await,
    }
}

async fn balance(ctx: &Ctx) -> Result<Output> {
    let owner = ctx.signer()?.pubkey();
    let lamports = ctx.chain.client.get_balance(&owner).await.map_err(|e| ctx.client_error(e))?;
    let sol = format_decimal(lamports as i128, 9);
    let mut text = format!("SOL            {sol}\n");
    let mut collateral = None;
    let mut note = None;
    if ctx.config.clearinghouse.is_some() || ctx.config.deployment.is_some() {
        // SOL is shown whatever happens to the clearinghouse (e.g. a localnet restarted).
        match ctx.clearinghouse().await {
            Ok((_, ch)) => {
                let atoms = ctx.wallet_collateral(&owner, &ch).await?.unwrap_or(0);
                let amount = format_decimal(atoms as i128, ch.collateral_decimals as u32);
                writeln!(text, "collateral     {amount}")?;
                collateral = Some(amount);
            }
            Err(e) => {
                writeln!(text, "collateral     unknown: {e}")?;
                note = Some(e.to_string());
            }
        }
    }
    Ok(Output::new(
        json!({ "address": owner.to_string(), "sol": sol, "collateral": collateral, "collateral_unknown": note }),
        text,
    ))
}

/// `requestAirdrop` sent as is: the client library replaces every refusal by a guess about rate
/// limits, and the node's own reason is the useful part.
async fn airdrop(ctx: &Ctx, sol: &str) -> Result<Output> {
    let lamports = input::positive_amount("the airdrop (SOL)", sol, 9)?;
    let signer = ctx.signer()?.pubkey();
    let refused = |e: ClientError| -> anyhow::Error {
        match e.kind() {
            ErrorKind::RpcError(RpcError::RpcResponseError { code, message, .. }) => {
                anyhow!(explain::airdrop_refused(&ctx.url, Some(*code), message))
            }
            ErrorKind::Reqwest(r) if r.status().map(|s| s.as_u16()) == Some(429) => {
                anyhow!(explain::airdrop_refused(&ctx.url, Some(429), &r.to_string()))
            }
            _ => ctx.client_error(e),
        }
    };
    let params = json!([signer.to_string(), lamports, { "commitment": "confirmed" }]);
    let signature: String = ctx.chain.client.send(RpcRequest::RequestAirdrop, params).await.map_err(refused)?;
    let signature: Signature =
        signature.parse().map_err(|_| anyhow!("the faucet at {} answered {signature:?}, not a signature", ctx.url))?;
    ctx.chain.client.poll_for_signature(&signature).await.map_err(|e| ctx.client_error(e))?;
    let sol = format_decimal(lamports as i128, 9);
    Ok(Output::new(
        json!({ "sol": sol, "to": signer.to_string(), "signature": signature.to_string() }),
        format!("airdropped {sol} SOL to {signer}: {signature}"),
    ))
}

struct PlaceArgs {
    market: String,
    side: Side,
    lots: u64,
    price: Option<String>,
    order_type: OrderType,
    reduce_only: bool,
    expires_in: Option<i64>,
    client_id: u64,
    sub_account: u16,
}

async fn place_order(ctx: &Ctx, a: PlaceArgs) -> Result<Output> {
    let signer = ctx.signer()?;
    let snapshot = ctx.snapshot().await?;
    let names = ctx.names(&snapshot.keys.key)?;
    let (view, label) = market_view(&snapshot, &names, &a.market)?;
    let params = &view.market.params;
    if a.lots == 0 {
        bail!("--lots must be at least 1 (the market's smallest order is {} lots)", params.min_order_lots.max(1));
    }
    let side = if a.side == Side::Buy { SIDE_BID } else { SIDE_ASK };
    let order_type = match a.order_type {
        OrderType::Limit => ORDER_TYPE_LIMIT,
        OrderType::PostOnly => ORDER_TYPE_POST_ONLY,
        OrderType::Ioc => ORDER_TYPE_IMMEDIATE_OR_CANCEL,
        OrderType::Market => ORDER_TYPE_MARKET,
    };
    let price_ticks = match (&a.price, order_type) {
        (Some(text), _) => input::price_ticks(text, params)?,
        (None, ORDER_TYPE_MARKET) => {
            let oracle = view
                .price
                .with_context(|| format!("{label}'s oracle price is unavailable (stale or missing): pass --price"))?
                .price as i128;
            let band = snapshot.clearinghouse.waterfall.max_fill_deviation_bps as i128;
            let worst = if side == SIDE_BID { oracle * (10_000 + band) } else { oracle * (10_000 - band) } / 10_000;
            let tick = params.tick_size as i128;
            (if side == SIDE_BID { worst / tick } else { (worst + tick - 1) / tick }).max(1) as u64
        }
        (None, _) => bail!(
            "--price is required for a {} order (only --type market may leave it out)",
            a.order_type.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default()
        ),
    };
    let expiry_unix = match a.expires_in {
        None => 0,
        Some(s) if s > 0 => snapshot.clock.unix_timestamp.checked_add(s).context("--expires-in is too large")?,
        Some(s) => bail!("--expires-in must be a positive number of seconds: got {s}"),
    };
    let owner = signer.pubkey();
    let margin = pda::margin_account(&snapshot.keys.key, &owner, a.sub_account);
    if snapshot.account(&margin).is_none() {
        return Err(no_margin_account(&owner, a.sub_account, "you"));
    }
    ctx.check_fees(&signer).await?;
    // The makers the order may meet up to its limit, in the order the program takes them.
    let makers = view.book.as_ref().map(|b| book::makers_crossing(b, side, &margin, price_ticks)).unwrap_or_default();
    let args = PlaceOrderArgs {
        side,
        order_type,
        price_ticks,
        base_lots: a.lots,
        reduce_only: a.reduce_only,
        expiry_unix,
        client_order_id: a.client_id,
    };
    // Every passed maker's markets are priced too (the program checks each maker's whole
    // account after its fill); trailing makers are dropped to fit one packet.
    let build = |makers: &[Pubkey]| {
        let remaining = snapshot.matching_remaining(view.market.index, &margin, makers)?;
        let place = ix::place_order_ix(&owner, &snapshot.keys, &margin, &view.keys, args, &remaining);
        Some(with_refresh(&snapshot.keys.key, &snapshot.clearinghouse, vec![place]))
    };
    let ixs = ix::fit_makers(&makers, 0, &owner, build)
        .context("the order's other markets cannot be priced, or it does not fit one transaction")?;
    // The band resting orders must keep to, for when the program refuses one outside it.
    let band = view.price.and_then(|p| {
        let deviation = snapshot.clearinghouse.waterfall.max_fill_deviation_bps;
        let (low, high) = book::resting_band_ticks(p.price, params.tick_size, deviation)?;
        Some(format!(
            "orders rest only between {} and {} now (the oracle {} ± {}%)",
            ticks_to_price(low, params),
            ticks_to_price(high, params),
            format_price(p.price),
            format_decimal(
                (deviation.saturating_mul(bulwark::constants::RESTING_BAND_FILL_BANDS))
                    .min(bulwark::constants::MAX_RESTING_DEVIATION_BPS) as i128,
                2
            )
        ))
    });
    let landed = ctx
        .send_with_hint(&signer, &ixs, |failure| {
            (failure.program == bulwark::ID && failure.name.as_deref() == Some("OrderPriceOutOfBand"))
                .then(|| band.clone())
                .flatten()
        })
        .await?;

    let price = ticks_to_price(price_ticks, params);
    let decimals = snapshot.clearinghouse.collateral_decimals as u32;
    let result = OrderOutcome::from_logs(&landed.logs, &view.keys.key, &margin);
    let price_text = |t: u64| ticks_to_price(t, params);
    let asked = OrderAsked {
        buy: side == SIDE_BID,
        lots: a.lots,
        price: &price,
        market: &label,
        tick_size: params.tick_size,
        decimals,
        price_text: &price_text,
    };
    let mut text = outcome::describe(&result, &asked);
    if !result.events_seen {
        // The node returned no logs: say where the account stands now.
        if let Ok(after) = ctx.snapshot().await {
            if let Some(view) = after.market(view.market.index) {
                let lots = after
                    .account(&margin)
                    .and_then(|acc| acc.open_positions().find(|p| p.market_index == view.market.index))
                    .map_or(0, |p| p.base_lots);
                let ids: Vec<String> = own_orders(view, &margin).map(|(_, o)| o.order_id.to_string()).collect();
                write!(
                    text,
                    "; your position is now {lots} lots, open orders: {}",
                    if ids.is_empty() { "none".into() } else { ids.join(", ") }
                )?;
            }
        }
    }
    write!(text, " (transaction {})", landed.signature)?;
    let report = json!({
        "market": label,
        "market_index": view.market.index,
        "side": if side == SIDE_BID { "buy" } else { "sell" },
        "lots": a.lots,
        "price": price,
        "filled_lots": result.filled_lots,
        "average_price": result.average_price(params.tick_size),
        "fees": format_decimal(result.fees, decimals),
        "resting": result.resting.map(|r| json!({
            "order_id": r.order_id, "lots": r.lots, "price": ticks_to_price(r.price_ticks, params),
        })),
        "cancelled_lots": result.cancelled.map_or(0, |(lots, _)| lots),
        "cancel_reason": result.cancelled.map(|(_, reason)| outcome::cancel_reason(reason)),
        "own_orders_removed": result.own_orders_removed,
        "own_orders_cancelled": result.own_orders_cancelled.iter()
            .map(|(id, reason)| serde_json::json!({ "order_id": id, "reason": outcome::cancel_reason(*reason) }))
            .collect::<Vec<_>>(),
        "events_seen": result.events_seen,
        "signature": landed.signature.to_string(),
    });
    Ok(Output::new(report, text))
}

async fn positions(ctx: &Ctx, owner: &Pubkey, who: &str, sub_account: u16) -> Result<Output> {
    let snapshot = ctx.snapshot().await?;
    let names = ctx.names(&snapshot.keys.key)?;
    let decimals = snapshot.clearinghouse.collateral_decimals as u32;
    let key = pda::margin_account(&snapshot.keys.key, owner, sub_account);
    let account = snapshot.account(&key).ok_or_else(|| no_margin_account(owner, sub_account, who))?;
    let prices = snapshot.prices();
    let health = bulwark_sdk::health::health(account, &prices).ok();
    let risks = bulwark_sdk::health::position_risks(account, &prices).unwrap_or_default();
    let mut queues = adl::AdlQueues::default();
    for (k, a) in &snapshot.accounts {
        if let Ok(h) = bulwark_sdk::health::health(a, &prices) {
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
        rows.push(json!({
            "market": p.market_index,
            "symbol": names.symbol(p.market_index),
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
    let mut orders = Vec::new();
    for view in &snapshot.markets {
        for (side, o) in own_orders(view, &key) {
            orders.push(json!({
                "id": o.order_id,
                "market": view.market.index,
                "symbol": names.symbol(view.market.index),
                "side": if side == SIDE_BID { "buy" } else { "sell" },
                "lots": o.base_lots,
                "price": ticks_to_price(o.price_ticks, &view.market.params),
                "client_id": o.client_order_id,
                "expires_unix": (o.expiry_unix != 0).then_some(o.expiry_unix),
                "reduce_only": o.flags & ORDER_FLAG_REDUCE_ONLY != 0,
            }));
        }
    }
    let report = json!({
        "margin_account": key.to_string(),
        "owner": owner.to_string(),
        "collateral": amount(account.collateral_balance as i128),
        "equity": health.as_ref().map(|h| amount(h.equity)),
        "initial_requirement": health.as_ref().map(|h| amount(h.initial_requirement)),
        "maintenance_requirement": health.as_ref().map(|h| amount(h.maintenance_requirement)),
        "liquidatable": liquidatable,
        "being_liquidated": account.status_flags & ACCOUNT_FLAG_BEING_LIQUIDATED != 0,
        "positions": rows,
        "orders": orders,
    });
    let market_cell =
        |r: &Value| r["symbol"].as_str().map_or_else(|| format!("#{}", cell(&r["market"])), str::to_string);
    let mut text = String::new();
    writeln!(text, "margin account {key} (owner {owner})")?;
    writeln!(text, "collateral     {}", cell(&report["collateral"]))?;
    writeln!(text, "equity         {}", cell(&report["equity"]))?;
    writeln!(
        text,
        "requirements   initial {} / maintenance {}",
        cell(&report["initial_requirement"]),
        cell(&report["maintenance_requirement"])
    )?;
    writeln!(text, "liquidatable   {}", cell(&report["liquidatable"]))?;
    if rows.is_empty() {
        writeln!(text, "no positions")?;
    } else {
        writeln!(
            text,
            "{:<10} {:>10} {:>14} {:>14} {:>14} {:>14} {:>4}",
            "market", "lots", "oracle", "uPnL", "liq. price", "bankr. price", "ADL"
        )?;
    }
    for r in &rows {
        writeln!(
            text,
            "{:<10} {:>10} {:>14} {:>14} {:>14} {:>14} {:>4}",
            market_cell(r),
            cell(&r["base_lots"]),
            cell(&r["oracle_price"]),
            cell(&r["unrealized_pnl"]),
            cell(&r["liquidation_price"]),
            cell(&r["bankruptcy_price"]),
            cell(&r["adl_indicator"])
        )?;
    }
    if orders.is_empty() {
        writeln!(text, "no open orders")?;
    } else {
        writeln!(text, "open orders (cancel one with `bulwark order cancel --market <MARKET> --id <ID>`)")?;
        writeln!(
            text,
            "{:>8} {:<10} {:<5} {:>10} {:>14} {:>10}",
            "id", "market", "side", "lots", "price", "client id"
        )?;
        for o in &orders {
            writeln!(
                text,
                "{:>8} {:<10} {:<5} {:>10} {:>14} {:>10}",
                cell(&o["id"]),
                market_cell(o),
                cell(&o["side"]),
                cell(&o["lots"]),
                cell(&o["price"]),
                cell(&o["client_id"])
            )?;
        }
    }
    Ok(Output::new(report, text))
}

async fn markets(ctx: &Ctx) -> Result<Output> {
    let snapshot = ctx.snapshot().await?;
    let names = ctx.names(&snapshot.keys.key)?;
    let rows: Vec<Value> = snapshot
        .markets
        .iter()
        .map(|m| {
            let p = &m.market.params;
            let (bid, ask) =
                m.book.as_ref().map_or((None, None), |b| book::best_prices(b, snapshot.clock.unix_timestamp));
            json!({
                "index": m.market.index,
                "symbol": names.symbol(m.market.index),
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
    let mut text = String::new();
    if rows.is_empty() {
        writeln!(text, "no markets in clearinghouse {}", snapshot.keys.key)?;
    } else {
        writeln!(
            text,
            "{:>5} {:<12} {:<11} {:>12} {:>12} {:>12} {:>10}",
            "index", "symbol", "status", "oracle", "bid", "ask", "OI lots"
        )?;
    }
    for r in &rows {
        writeln!(
            text,
            "{:>5} {:<12} {:<11} {:>12} {:>12} {:>12} {:>10}",
            cell(&r["index"]),
            cell(&r["symbol"]),
            cell(&r["status"]),
            cell(&r["oracle_price"]),
            cell(&r["best_bid"]),
            cell(&r["best_ask"]),
            cell(&r["open_interest_lots"])
        )?;
    }
    if names.symbol(0).is_none() && !rows.is_empty() {
        writeln!(text, "(symbols come from a deployment file: {})", bulwark_cli::names::HOW_TO_NAME)?;
    }
    Ok(Output::new(Value::Array(rows), text))
}

async fn order_book(ctx: &Ctx, market: &str, depth: usize) -> Result<Output> {
    let snapshot = ctx.snapshot().await?;
    let names = ctx.names(&snapshot.keys.key)?;
    let (view, label) = market_view(&snapshot, &names, market)?;
    let b =
        view.book.as_ref().with_context(|| format!("{label}'s order book {} is unreadable", view.keys.order_book))?;
    let now = snapshot.clock.unix_timestamp;
    let side = |s: u8| -> Vec<Value> {
        book::levels(b, s, now)
            .iter()
            .take(depth)
            .map(|l| {
                let ids: Vec<u64> = b
                    .orders(s)
                    .iter()
                    .filter(|o| o.price_ticks == l.price_ticks && !o.is_expired(now))
                    .map(|o| o.order_id)
                    .collect();
                json!({
                    "price": ticks_to_price(l.price_ticks, &view.market.params),
                    "lots": l.base_lots,
                    "order_ids": ids,
                })
            })
            .collect()
    };
    let (bids, asks) = (side(SIDE_BID), side(SIDE_ASK));
    let mut text = String::new();
    writeln!(text, "{label} order book")?;
    writeln!(text, "{:<5} {:>14} {:>10}  order ids", "", "price", "lots")?;
    let ids = |l: &Value| -> String {
        l["order_ids"].as_array().into_iter().flatten().map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
    };
    if asks.is_empty() {
        writeln!(text, "{:<5} {:>14}", "asks", "-")?;
    }
    // Asks highest first, so the best prices meet in the middle.
    for l in asks.iter().rev() {
        writeln!(text, "{:<5} {:>14} {:>10}  {}", "ask", cell(&l["price"]), cell(&l["lots"]), ids(l))?;
    }
    for l in &bids {
        writeln!(text, "{:<5} {:>14} {:>10}  {}", "bid", cell(&l["price"]), cell(&l["lots"]), ids(l))?;
    }
    if bids.is_empty() {
        writeln!(text, "{:<5} {:>14}", "bids", "-")?;
    }
    Ok(Output::new(json!({ "market": label, "bids": bids, "asks": asks }), text))
}

async fn feed(ctx: &Ctx, command: FeedCommand) -> Result<Output> {
    // Names need the clearinghouse only to check that the deployment file describes it.
    let clearinghouse = ctx.config.clearinghouse().ok();
    let names = match ctx.config.deployment() {
        Ok(deployment) => Names::new(deployment, clearinghouse.as_ref()),
        Err(e) => Names::unreadable(e.to_string()),
    };
    let load = |text: &str| {
        let key = names.feed(text);
        async move {
            let key = key?;
            let feed = ctx.load::<PriceFeed>(&key).await?.ok_or_else(|| {
                anyhow!(
                    "no price feed at {key} on {}: check the address (or the deployment file's feed names)",
                    ctx.url
                )
            })?;
            Ok::<_, anyhow::Error>((key, feed))
        }
    };
    match command {
        FeedCommand::Publish { feed, price, conf, reserve_ratio, redemption_suspended } => {
            let signer = ctx.signer()?;
            let (key, current) = load(&feed).await?;
            let decimals =
                u32::try_from(-current.exponent).context("feeds with a positive exponent are not supported")?;
            let price_value = input::decimal("--price", &price, decimals)?;
            let conf_value = input::decimal("--conf", &conf, decimals)?;
            if conf_value < 0 {
                bail!("--conf must not be negative: got {conf}");
            }
            if current.authority != signer.pubkey() {
                bail!(
                    "the signer {} is not the authority of feed {feed} (its authority is {}): sign with that keypair",
                    signer.pubkey(),
                    current.authority
                );
            }
            ctx.check_fees(&signer).await?;
            let update = bulwark::instructions::PriceFeedUpdate {
                price: i64::try_from(price_value).context("--price is too large")?,
                conf: u64::try_from(conf_value).context("--conf is too large")?,
                redemption_enabled: !redemption_suspended,
                reserve_ratio: match reserve_ratio {
                    Some(r) => i64::try_from(input::decimal("--reserve-ratio", &r, PRICE_DECIMALS)?)
                        .context("--reserve-ratio is too large")?,
                    None => current.reserve_ratio,
                },
            };
            let landed = ctx.send(&signer, &[ix::update_price_feed_ix(&signer.pubkey(), &key, update)]).await?;
            let shown = format_decimal(price_value, decimals);
            let name = names.feed_name(&key).map(|n| format!("{n} ({key})")).unwrap_or_else(|| key.to_string());
            Ok(Output::new(
                json!({
                    "feed": key.to_string(),
                    "name": names.feed_name(&key),
                    "price": shown,
                    "signature": landed.signature.to_string(),
                }),
                format!("published {shown} to {name}: {}", landed.signature),
            ))
        }
        FeedCommand::Show { feed } => {
            let (key, f) = load(&feed).await?;
            let decimals = (-f.exponent).max(0) as u32;
            let report = json!({
                "feed": key.to_string(),
                "name": names.feed_name(&key),
                "authority": f.authority.to_string(),
                "price": format_decimal(f.price as i128, decimals),
                "conf": format_decimal(f.conf as i128, decimals),
                "ema_price": format_decimal(f.ema_price as i128, decimals),
                "publish_time": f.publish_time,
                "publish_slot": f.publish_slot,
                "reserve_ratio": format_decimal(f.reserve_ratio as i128, PRICE_DECIMALS),
                "redemption_enabled": f.redemption_enabled != 0,
            });
            let mut text = String::new();
            writeln!(
                text,
                "feed           {}{}",
                key,
                names.feed_name(&key).map(|n| format!(" ({n})")).unwrap_or_default()
            )?;
            writeln!(text, "authority      {}", f.authority)?;
            writeln!(
                text,
                "price          {} ± {} (ema {})",
                cell(&report["price"]),
                cell(&report["conf"]),
                cell(&report["ema_price"])
            )?;
            writeln!(text, "published      unix {} (slot {})", f.publish_time, f.publish_slot)?;
            writeln!(text, "redemption     {}", if f.redemption_enabled != 0 { "enabled" } else { "suspended" })?;
            Ok(Output::new(report, text))
        }
    }
}

async fn insurance_command(ctx: &Ctx, command: InsuranceCommand) -> Result<Output> {
    let signer = ctx.signer()?;
    let owner = signer.pubkey();
    let (key, ch) = ctx.clearinghouse().await?;
    let keys = ClearinghouseKeys::new(key);
    let stake_key = pda::insurance_stake(&key, &owner);
    let stake = ctx.load::<InsuranceStake>(&stake_key).await?;
    let wallet = token::associated_token_address(&owner, &ch.collateral_mint);
    let decimals = ch.collateral_decimals as u32;
    let amount = |v: u64| format_decimal(v as i128, decimals);
    match command {
        InsuranceCommand::Stake { amount: text } => {
            let atoms = input::positive_amount("amount", &text, decimals)?;
            let mut notes = String::new();
            if ch.insurance_total_shares == 0 {
                // A new share epoch: the first stake pays for the locked shares the vault lacks.
                match insurance::quote_stake(&ch, atoms).map_err(|e| anyhow!("quoting the stake: {e:?}"))? {
                    Some(q) => writeln!(
                        notes,
                        "first stake: {} shares, {} shares locked for good",
                        q.shares, q.unowned_shares
                    )?,
                    None => bail!(
                        "the first stake must exceed {} atoms of collateral (the insurance shares locked for good)",
                        bulwark::constants::INSURANCE_LOCKED_SHARES.saturating_sub(ch.insurance_balance)
                    ),
                }
            }
            ctx.check_fees(&signer).await?;
            ctx.check_wallet(&owner, &ch, atoms, "stake").await?;
            let mut ixs = Vec::new();
            if stake.is_none() {
                ixs.push(ix::create_insurance_stake_ix(&owner, &owner, &key));
            }
            ixs.push(ix::stake_insurance_ix(&owner, &keys, &wallet, atoms));
            let landed = ctx.send(&signer, &ixs).await?;
            write!(notes, "staked {}: {}", amount(atoms), landed.signature)?;
            Ok(Output::new(json!({ "staked": amount(atoms), "signature": landed.signature.to_string() }), notes))
        }
        InsuranceCommand::RequestUnstake { shares } => {
            let stake = stake.context("you have no insurance stake: `bulwark insurance stake <AMOUNT>` makes one")?;
            let shares = shares.unwrap_or(stake.shares);
            if shares == 0 {
                bail!("you hold no insurance shares to unstake");
            }
            ctx.check_fees(&signer).await?;
            let landed = ctx.send(&signer, &[ix::request_unstake_ix(&owner, &key, shares)]).await?;
            let mut text = format!("requested unstake of {shares} shares: {}", landed.signature);
            let mut report = json!({ "shares": shares, "signature": landed.signature.to_string() });
            if let Some(s) = ctx.load::<InsuranceStake>(&stake_key).await? {
                write!(
                    text,
                    "\npays at most {}; claim from unix {} until unix {}",
                    amount(s.unstake_request_value),
                    s.unstake_available_unix,
                    s.unstake_claim_deadline_unix
                )?;
                report["pays_at_most"] = json!(amount(s.unstake_request_value));
                report["claim_from_unix"] = json!(s.unstake_available_unix);
                report["claim_until_unix"] = json!(s.unstake_claim_deadline_unix);
            }
            Ok(Output::new(report, text))
        }
        InsuranceCommand::Unstake => {
            if stake.is_none() {
                bail!("you have no insurance stake to unstake");
            }
            ctx.check_fees(&signer).await?;
            let ixs = [
                token::create_associated_token_account_ix(&owner, &owner, &ch.collateral_mint),
                ix::unstake_insurance_ix(&owner, &keys, &wallet),
            ];
            let landed = ctx.send(&signer, &ixs).await?;
            Ok(Output::new(
                json!({ "signature": landed.signature.to_string() }),
                format!("unstaked: {}", landed.signature),
            ))
        }
        InsuranceCommand::Show => {
            let mut report = json!({
                "insurance_vault": amount(ch.insurance_balance),
                "total_shares": ch.insurance_total_shares,
                "paid_out": amount(ch.insurance_paid_total),
                "your_shares": 0,
                "your_value": amount(0),
                "unstake_request": Value::Null,
            });
            let mut text = String::new();
            writeln!(text, "insurance vault  {}", amount(ch.insurance_balance))?;
            writeln!(text, "total shares     {}", ch.insurance_total_shares)?;
            writeln!(text, "paid out         {}", amount(ch.insurance_paid_total))?;
            match stake {
                Some(s) => {
                    // Shares from before the vault was emptied are worth nothing.
                    let now = ctx.chain.clock().await.map_err(|e| ctx.read_error(e))?.unix_timestamp;
                    let view = insurance::stake_view(&s, &ch, now).map_err(|e| anyhow!("valuing the stake: {e:?}"))?;
                    writeln!(text, "your shares      {} (worth {})", view.shares, amount(view.value))?;
                    report["your_shares"] = json!(view.shares);
                    report["your_value"] = json!(amount(view.value));
                    let state = match view.request {
                        insurance::UnstakeState::None => None,
                        insurance::UnstakeState::CoolingDown => Some("cooling down"),
                        insurance::UnstakeState::Claimable => Some("claimable now"),
                        insurance::UnstakeState::Lapsed => Some("lapsed: request again"),
                    };
                    if let Some(state) = state {
                        writeln!(
                            text,
                            "unstake request  {} shares, {state}; claim from unix {} until unix {}",
                            view.request_shares, view.available_unix, view.claim_deadline_unix
                        )?;
                        writeln!(
                            text,
                            "                 pays {} (the lower of {} at the request and its value now)",
                            amount(view.claim_amount),
                            amount(view.request_value)
                        )?;
                        report["unstake_request"] = json!({
                            "shares": view.request_shares,
                            "state": state,
                            "claim_from_unix": view.available_unix,
                            "claim_until_unix": view.claim_deadline_unix,
                            "pays": amount(view.claim_amount),
                            "value_at_request": amount(view.request_value),
                        });
                    }
                }
                None => writeln!(text, "your shares      0")?,
            }
            Ok(Output::new(report, text))
        }
    }
}

async fn adl_rounds(ctx: &Ctx, command: AdlCommand) -> Result<Output> {
    let snapshot = ctx.snapshot().await?;
    let names = ctx.names(&snapshot.keys.key)?;
    let prices = snapshot.prices();
    let decimals = snapshot.clearinghouse.collateral_decimals as u32;
    let index_of = |market: &Pubkey| snapshot.markets.iter().find(|m| m.keys.key == *market).map(|m| m.market.index);
    match command {
        AdlCommand::Show { market } => {
            let market = match market {
                Some(text) => Some(market_view(&snapshot, &names, &text)?.0.market.index),
                None => None,
            };
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
                rounds.push(json!({
                    "round": key.to_string(),
                    "market": index,
                    "symbol": names.symbol(index),
                    "target": round.target.to_string(),
                    "price": format_price(round.price),
                    "target_lots": round.target_lots,
                    "remaining_lots": round.remaining_lots,
                    "uncovered": format_decimal(round.uncovered as i128, decimals),
                    "uncovered_left": format_decimal(round.uncovered_left as i128, decimals),
                    "haircut_total": format_decimal(round.haircut_total as i128, decimals),
                    "window": window,
                    "restarts": round.restart_count,
                    "queue": queue.iter().map(|e| json!({
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
            let mut text = String::new();
            if rounds.is_empty() {
                writeln!(text, "no open ADL round")?;
            }
            for r in &rounds {
                let label = r["symbol"].as_str().map_or_else(|| format!("#{}", cell(&r["market"])), str::to_string);
                writeln!(
                    text,
                    "round {} — market {label}, target {}\n  price {}, {} of {} lots left, shortfall {} left of {}, \
                     haircuts so far {}; window {}; restarts {}",
                    cell(&r["round"]),
                    cell(&r["target"]),
                    cell(&r["price"]),
                    cell(&r["remaining_lots"]),
                    cell(&r["target_lots"]),
                    cell(&r["uncovered_left"]),
                    cell(&r["uncovered"]),
                    cell(&r["haircut_total"]),
                    cell(&r["window"]),
                    cell(&r["restarts"]),
                )?;
                writeln!(
                    text,
                    "  {:>3} {:<44} {:>14} {:>10} {:>14} {:>5}",
                    "#", "winner", "score", "lots", "profit at P", "light"
                )?;
                for e in r["queue"].as_array().into_iter().flatten() {
                    let deferred = if e["deferred"].as_bool() == Some(true) { " (deferred)" } else { "" };
                    writeln!(
                        text,
                        "  {:>3} {:<44} {:>14} {:>10} {:>14} {:>5}{deferred}",
                        cell(&e["position"]),
                        cell(&e["margin_account"]),
                        cell(&e["score"]),
                        cell(&e["base_lots"]),
                        cell(&e["profit_at_round_price"]),
                        cell(&e["light"]),
                    )?;
                }
            }
            Ok(Output::new(Value::Array(rounds), text))
        }
        AdlCommand::Nominate { market, target, accounts } => {
            let signer = ctx.signer()?;
            let (view, label) = market_view(&snapshot, &names, &market)?;
            let market = view.market.index;
            let round = snapshot
                .adl_round(market, &target)
                .with_context(|| format!("no open ADL round on {target} in {label}: `bulwark adl show` lists them"))?;
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
            ctx.check_fees(&signer).await?;
            let nominate =
                ix::nominate_adl_ix(&signer.pubkey(), &snapshot.keys.key, &view.keys, &target, &pairs, &nominees);
            let landed = ctx.send(&signer, &[nominate]).await?;
            Ok(Output::new(
                json!({
                    "nominated": nominees.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
                    "target": target.to_string(),
                    "signature": landed.signature.to_string(),
                }),
                format!("nominated {} winner(s) to the round on {target}: {}", nominees.len(), landed.signature),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory as _, Parser as _};

    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }

    /// Every flag and positional argument of every command says what it is, and an optional one
    /// that takes a value says its default (clap's `[default: …]` or the help text's).
    #[test]
    fn every_argument_is_documented_with_its_default() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>, optional_values: &mut usize) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                let name = format!("{path} {}", arg.get_long().map_or_else(|| format!("<{id}>"), |l| format!("--{l}")));
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                if help.trim().is_empty() {
                    missing.push(format!("{name}: no help"));
                    continue;
                }
                let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values());
                let is_flag = matches!(arg.get_action(), clap::ArgAction::SetTrue | clap::ArgAction::SetFalse);
                if takes_value && !is_flag && !arg.is_required_set() && arg.get_default_values().is_empty() {
                    *optional_values += 1;
                    if !help.contains("default") {
                        missing.push(format!("{name}: optional without a stated default"));
                    }
                }
            }
            for sub in command.get_subcommands() {
                if sub.get_name() == "help" {
                    continue;
                }
                if sub.get_about().is_none() {
                    missing.push(format!("{path} {}: no description", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing, optional_values);
            }
        }
        let mut command = super::Cli::command();
        command.build();
        let (mut missing, mut optional_values) = (Vec::new(), 0);
        walk(&command, "bulwark", &mut missing, &mut optional_values);
        assert!(missing.is_empty(), "undocumented:\n{}", missing.join("\n"));
        // The walk saw the optional values (--price, --to, the global flags in every command, …).
        assert!(optional_values > 50, "{optional_values}");
    }

    #[test]
    fn negative_prices_and_amounts_reach_the_cli_rather_than_clap() {
        let parsed = super::Cli::try_parse_from([
            "bulwark", "order", "place", "--market", "0", "--side", "buy", "--lots", "1", "--price", "-5",
        ]);
        assert!(parsed.is_ok(), "{parsed:?}");
        assert!(super::Cli::try_parse_from(["bulwark", "deposit", "-5"]).is_ok());
    }
}
