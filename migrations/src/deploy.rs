//! Bring a cluster to a deployment file: create what is missing, propose or apply what
//! differs, execute changes whose timelock has passed, activate markets that are due.
//! Running it twice in a row changes nothing the second time.

use std::collections::BTreeMap;
use std::path::Path;

use anchor_lang::prelude::{AnchorDeserialize as _, Pubkey, Rent};
use anchor_lang::solana_program::instruction::Instruction;
use anyhow::{bail, Context, Result};
use bulwark::constants::PARAM_CHANGE_EXECUTION_WINDOW_SECONDS;
use bulwark::instructions::InitializeClearinghouseArgs;
use bulwark::state::{
    Clearinghouse, Market, MarketParams, MarketRisk, ParamChange, PriceFeed, MARKET_STATUS_PENDING,
    PARAM_CHANGE_PAYLOAD_CAPACITY,
};
use bulwark_sdk::chain::{self, Chain, ChainError, ConfirmOptions};
use bulwark_sdk::ix;
use bulwark_sdk::{pda, token};
use serde::Serialize;
use solana_keypair::Keypair;
use solana_signer::Signer as _;

use crate::config::{DeploymentConfig, MarketSpec};

/// The addresses a deployment lives at, and what this run did.
#[derive(Clone, Debug, Serialize)]
pub struct Deployment {
    pub program: String,
    pub clearinghouse: String,
    pub admin: String,
    pub guardian: String,
    pub collateral_mint: String,
    pub collateral_decimals: u8,
    pub collateral_vault: String,
    pub insurance_vault: String,
    pub feeds: BTreeMap<String, String>,
    pub markets: Vec<DeployedMarket>,
    /// One line per action taken or pending, in order.
    pub actions: Vec<String>,
    /// A parameter change still waits for its timelock; run again after it.
    pub pending: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct DeployedMarket {
    pub index: u16,
    pub name: String,
    pub market: String,
    pub order_book: String,
    pub oracle: String,
    pub active: bool,
}

struct Run<'a, C: Chain> {
    chain: &'a C,
    signer: &'a Keypair,
    actions: Vec<String>,
    pending: bool,
}

impl<C: Chain> Run<'_, C> {
    fn note(&mut self, line: String) {
        println!("  {line}");
        self.actions.push(line);
    }

    async fn send(&self, instructions: &[Instruction], extra: &[&Keypair]) -> Result<(), ChainError> {
        chain::send_and_confirm(self.chain, instructions, self.signer, extra, ConfirmOptions::default()).await?;
        Ok(())
    }

    async fn send_or_explain(&self, what: &str, instructions: &[Instruction], extra: &[&Keypair]) -> Result<()> {
        self.send(instructions, extra).await.map_err(|e| anyhow::anyhow!("{what}: {}", e.describe()))
    }

    async fn load<T: bulwark_sdk::accounts::ProgramAccount>(&self, key: &Pubkey) -> Result<Option<T>> {
        self.chain.load::<T>(key).await.map_err(|e| anyhow::anyhow!("reading {key}: {e}"))
    }

    async fn now(&self) -> Result<i64> {
        Ok(self.chain.clock().await.map_err(|e| anyhow::anyhow!("reading the clock: {e}"))?.unix_timestamp)
    }
}

/// Run the deployment file `config` (relative paths resolve against `base_dir`) with `signer` as
/// admin, fee payer, feed authority and (for a created mint) mint authority.
pub async fn migrate<C: Chain>(
    chain: &C,
    signer: &Keypair,
    config: &DeploymentConfig,
    base_dir: &Path,
) -> Result<Deployment> {
    let mut run = Run { chain, signer, actions: vec![], pending: false };
    let admin = signer.pubkey();

    // ---- collateral mint
    let decimals = config.collateral.decimals;
    let mint = if config.collateral.mint == "create" {
        let path = base_dir.join(config.collateral.mint_keypair.as_ref().expect("checked on load"));
        let mint_keypair = if path.exists() {
            bulwark_sdk::keypair::read_keypair_file(&path)?
        } else {
            let keypair = Keypair::new();
            bulwark_sdk::keypair::write_keypair_file(&keypair, &path)?;
            keypair
        };
        let mint = mint_keypair.pubkey();
        match chain.accounts(&[mint]).await.map_err(|e| anyhow::anyhow!("reading mint: {e}"))?.pop().flatten() {
            None => {
                let rent = Rent::default().minimum_balance(token::MINT_LEN);
                run.send_or_explain(
                    "creating the collateral mint",
                    &token::create_mint_ixs(&admin, &mint, &admin, decimals, rent),
                    &[&mint_keypair],
                )
                .await?;
                run.note(format!("created collateral mint {mint} ({decimals} decimals)"));
            }
            Some(_) => run.note(format!("collateral mint {mint}: exists")),
        }
        mint
    } else {
        config.collateral.mint.parse::<Pubkey>().context("collateral.mint: neither \"create\" nor an address")?
    };
    let mint_account = chain
        .accounts(&[mint])
        .await
        .map_err(|e| anyhow::anyhow!("reading mint: {e}"))?
        .pop()
        .flatten()
        .with_context(|| format!("collateral mint {mint} does not exist"))?;
    if mint_account.owner != token::TOKEN_PROGRAM_ID {
        bail!("collateral mint {mint} is owned by {}, not the SPL Token program", mint_account.owner);
    }
    match token::mint_info(&mint_account.data) {
        Some((d, _)) if d == decimals => {}
        Some((d, _)) => bail!("collateral mint {mint} has {d} decimals, the file says {decimals}"),
        None => bail!("{mint} is not an SPL Token mint"),
    }

    // ---- manual feeds (the signer publishes)
    let mut feeds = BTreeMap::new();
    for spec in &config.feeds {
        let key = pda::price_feed(&admin, spec.feed_id);
        feeds.insert(spec.name.clone(), key);
        let update = spec.update()?;
        match run.load::<PriceFeed>(&key).await? {
            None => {
                run.send_or_explain(
                    &format!("creating feed {}", spec.name),
                    &[
                        ix::create_price_feed_ix(&admin, &admin, spec.feed_id, spec.exponent, spec.ema_window_seconds),
                        ix::update_price_feed_ix(&admin, &key, update),
                    ],
                    &[],
                )
                .await?;
                run.note(format!("created feed {} {key} at {}", spec.name, spec.price));
            }
            Some(feed) => {
                if feed.exponent != spec.exponent || feed.ema_window_seconds != spec.ema_window_seconds {
                    bail!(
                        "feed {} {key} exists with exponent {} and a {} s window; the file says {} and {} s (feeds cannot be changed: use a new feed_id)",
                        spec.name, feed.exponent, feed.ema_window_seconds, spec.exponent, spec.ema_window_seconds
                    );
                }
                run.note(format!("feed {} {key}: exists", spec.name));
            }
        }
    }

    // ---- clearinghouse
    let id = config.clearinghouse.id;
    let clearinghouse = pda::clearinghouse(&admin, &mint, id);
    let guardian = match &config.clearinghouse.guardian {
        Some(text) => text.parse::<Pubkey>().context("clearinghouse.guardian")?,
        None => admin,
    };
    let collateral_oracle = config.collateral_oracle(&feeds)?;
    let waterfall = config.waterfall()?;
    let breaker = &config.clearinghouse.withdrawal_breaker;
    let min_outflow_allowance = config.breaker_min_outflow_allowance()?;
    let ch = match run.load::<Clearinghouse>(&clearinghouse).await? {
        None => {
            let args = InitializeClearinghouseArgs {
                id,
                guardian,
                timelock_seconds: config.clearinghouse.timelock_seconds,
                collateral_oracle,
                breaker_window_seconds: breaker.window_seconds,
                breaker_max_net_outflow_bps: breaker.max_net_outflow_bps,
                breaker_min_outflow_allowance: min_outflow_allowance,
                waterfall,
            };
            run.send_or_explain(
                "creating the clearinghouse",
                &[ix::initialize_clearinghouse_ix(&admin, &mint, args)],
                &[],
            )
            .await?;
            run.note(format!("created clearinghouse {clearinghouse}"));
            run.load::<Clearinghouse>(&clearinghouse).await?.context("clearinghouse missing after creation")?
        }
        Some(ch) => {
            if ch.admin != admin {
                bail!("clearinghouse {clearinghouse} is administered by {}, not the signer {admin}", ch.admin);
            }
            run.note(format!("clearinghouse {clearinghouse}: exists"));
            ch
        }
    };
    let keys = ix::ClearinghouseKeys::new(clearinghouse);

    // A change whose timelock has passed lands first, so new proposals can follow it; the
    // differences below are taken after it.
    let ch = if execute_due_change(&mut run, &clearinghouse, &ch).await? {
        run.load::<Clearinghouse>(&clearinghouse).await?.context("clearinghouse missing")?
    } else {
        ch
    };

    let mut changes: Vec<(ParamChange, Option<Pubkey>)> = Vec::new();
    if ch.guardian != guardian {
        changes.push((ParamChange::SetGuardian { guardian }, None));
    }
    if ch.timelock_seconds != config.clearinghouse.timelock_seconds {
        changes.push((ParamChange::SetTimelock { seconds: config.clearinghouse.timelock_seconds }, None));
    }
    let b = &ch.withdrawal_breaker;
    if (b.window_seconds, b.max_net_outflow_bps, b.min_outflow_allowance)
        != (breaker.window_seconds, breaker.max_net_outflow_bps, min_outflow_allowance)
    {
        changes.push((
            ParamChange::SetWithdrawalBreaker {
                window_seconds: breaker.window_seconds,
                max_net_outflow_bps: breaker.max_net_outflow_bps,
                min_outflow_allowance,
            },
            None,
        ));
    }
    if bytemuck::bytes_of(&ch.collateral_oracle) != bytemuck::bytes_of(&collateral_oracle) {
        changes.push((ParamChange::SetCollateralOracle { config: collateral_oracle }, None));
    }
    if bytemuck::bytes_of(&ch.waterfall) != bytemuck::bytes_of(&waterfall) {
        changes.push((ParamChange::SetWaterfall { params: waterfall }, None));
    }

    // ---- markets
    let mut markets = Vec::new();
    for spec in &config.markets {
        let (deployed, risk_change) = market(&mut run, &keys, spec, &feeds).await?;
        if let Some(change) = risk_change {
            changes.push(change);
        }
        markets.push(deployed);
    }

    for (change, market) in changes {
        propose(&mut run, &clearinghouse, change, market).await?;
    }

    Ok(Deployment {
        program: bulwark::ID.to_string(),
        clearinghouse: clearinghouse.to_string(),
        admin: admin.to_string(),
        guardian: guardian.to_string(),
        collateral_mint: mint.to_string(),
        collateral_decimals: decimals,
        collateral_vault: keys.collateral_vault.to_string(),
        insurance_vault: keys.insurance_vault.to_string(),
        feeds: feeds.into_iter().map(|(k, v)| (k, v.to_string())).collect(),
        markets,
        actions: run.actions,
        pending: run.pending,
    })
}

/// The change waiting in the clearinghouse, if any.
fn pending_change(ch: &Clearinghouse) -> Option<ParamChange> {
    if !ch.pending_change.is_pending() {
        return None;
    }
    let len = (ch.pending_change.payload_len as usize).min(PARAM_CHANGE_PAYLOAD_CAPACITY);
    ParamChange::try_from_slice(&ch.pending_change.payload[..len]).ok()
}

fn market_of(change: &ParamChange, clearinghouse: &Pubkey) -> Option<Pubkey> {
    match change {
        ParamChange::SetMarketRisk { market_index, .. } => Some(pda::market(clearinghouse, *market_index)),
        _ => None,
    }
}

/// Execute the pending change if it is due (or cancel it if its execution window has passed, so
/// it can be proposed again). Returns whether anything was sent.
async fn execute_due_change<C: Chain>(
    run: &mut Run<'_, C>,
    clearinghouse: &Pubkey,
    ch: &Clearinghouse,
) -> Result<bool> {
    if !ch.pending_change.is_pending() {
        return Ok(false);
    }
    // A paused clearinghouse executes nothing, and its paused time is added to the timelock
    // when it resumes (the executable time read then is the real one).
    if ch.is_paused() {
        run.pending = true;
        run.note("the clearinghouse is paused: the pending change waits until it resumes".to_string());
        return Ok(false);
    }
    let now = run.now().await?;
    if now < ch.pending_change.executable_unix {
        return Ok(false);
    }
    let admin = run.signer.pubkey();
    let expired = now > ch.pending_change.executable_unix.saturating_add(PARAM_CHANGE_EXECUTION_WINDOW_SECONDS);
    let change = match pending_change(ch) {
        Some(change) if !expired => change,
        other => {
            run.send_or_explain(
                "cancelling the pending change",
                &[ix::cancel_param_change_ix(&admin, clearinghouse)],
                &[],
            )
            .await?;
            let what = other.as_ref().map_or("an unreadable change".to_string(), describe);
            run.note(format!("cancelled {what}: its execution window had passed"));
            return Ok(true);
        }
    };
    let market = market_of(&change, clearinghouse);
    let executor = admin;
    run.send_or_explain(
        "executing the pending change",
        &[ix::execute_market_param_change_ix(&executor, clearinghouse, market)],
        &[],
    )
    .await?;
    run.note(format!("executed {}", describe(&change)));
    Ok(true)
}

async fn propose<C: Chain>(
    run: &mut Run<'_, C>,
    clearinghouse: &Pubkey,
    change: ParamChange,
    market: Option<Pubkey>,
) -> Result<()> {
    let ch = run.load::<Clearinghouse>(clearinghouse).await?.context("clearinghouse missing")?;
    if pending_change(&ch).as_ref() == Some(&change) {
        run.pending = true;
        run.note(format!("{}: proposed, executable at unix {}", describe(&change), ch.pending_change.executable_unix));
        return Ok(());
    }
    let admin = run.signer.pubkey();
    match run.send(&[ix::propose_market_param_change_ix(&admin, clearinghouse, market, change.clone())], &[]).await {
        Ok(()) => {}
        Err(e) if e.is_bulwark(bulwark::error::BulwarkError::ParamChangePending) => {
            run.pending = true;
            run.note(format!(
                "{}: waiting, another change is pending until unix {}",
                describe(&change),
                ch.pending_change.executable_unix
            ));
            return Ok(());
        }
        Err(e) if e.is_bulwark(bulwark::error::BulwarkError::BreakerRecentlyTightened) => {
            run.pending = true;
            run.note(format!(
                "{}: waiting, the withdrawal breaker was tightened less than a timelock ago",
                describe(&change)
            ));
            return Ok(());
        }
        Err(e) => bail!("proposing {}: {}", describe(&change), e.describe()),
    }
    let after = run.load::<Clearinghouse>(clearinghouse).await?.context("clearinghouse missing")?;
    if pending_change(&after).as_ref() == Some(&change) {
        run.pending = true;
        run.note(format!(
            "{}: proposed, executable at unix {}",
            describe(&change),
            after.pending_change.executable_unix
        ));
    } else {
        run.note(format!("{}: applied (lowers risk, no timelock)", describe(&change)));
    }
    Ok(())
}

fn describe(change: &ParamChange) -> String {
    match change {
        ParamChange::SetAdmin { admin } => format!("set admin {admin}"),
        ParamChange::SetGuardian { guardian } => format!("set guardian {guardian}"),
        ParamChange::SetTimelock { seconds } => format!("set timelock {seconds} s"),
        ParamChange::SetWithdrawalBreaker { .. } => "set withdrawal breaker".into(),
        ParamChange::SetCollateralOracle { .. } => "set collateral oracle".into(),
        ParamChange::SetMarketRisk { market_index, .. } => format!("set market {market_index} risk"),
        ParamChange::SetWaterfall { .. } => "set waterfall".into(),
    }
}

/// Create, check and activate one market. Returns a risk change when only its risk parameters
/// differ from the file (anything else differing cannot be changed on-chain and is an error).
async fn market<C: Chain>(
    run: &mut Run<'_, C>,
    keys: &ix::ClearinghouseKeys,
    spec: &MarketSpec,
    feeds: &BTreeMap<String, Pubkey>,
) -> Result<(DeployedMarket, Option<(ParamChange, Option<Pubkey>)>)> {
    let oracle = spec.oracle.to_config(feeds).with_context(|| format!("market {}: oracle", spec.name))?;
    let params = spec.params()?;
    let address = pda::market(&keys.key, spec.index);
    let admin = run.signer.pubkey();
    let mut risk_change = None;
    let mut market = match run.load::<Market>(&address).await? {
        None => {
            run.send_or_explain(
                &format!("creating market {}", spec.name),
                &[ix::create_market_ix(&admin, &keys.key, spec.index, oracle, params)],
                &[],
            )
            .await?;
            run.note(format!("created market {} {address}", spec.name));
            run.load::<Market>(&address).await?.context("market missing after creation")?
        }
        Some(market) => {
            if bytemuck::bytes_of(&market.oracle) != bytemuck::bytes_of(&oracle) {
                bail!(
                    "market {} {address}: its oracle differs from the file, and a market's oracle cannot be changed",
                    spec.name
                );
            }
            let desired_risk = MarketRisk::of(&params);
            if !same_params(&desired_risk.applied_to(&market.params), &params) {
                bail!(
                    "market {} {address}: parameters other than margins, size premium, liquidation fee and open-interest cap differ from the file; those cannot be changed",
                    spec.name
                );
            }
            if MarketRisk::of(&market.params) != desired_risk {
                risk_change =
                    Some((ParamChange::SetMarketRisk { market_index: spec.index, risk: desired_risk }, Some(address)));
            }
            run.note(format!("market {} {address}: exists", spec.name));
            market
        }
    };
    if market.status == MARKET_STATUS_PENDING {
        if run.now().await? >= market.activates_unix {
            run.send_or_explain(&format!("activating market {}", spec.name), &[ix::activate_market_ix(&address)], &[])
                .await?;
            run.note(format!("activated market {}", spec.name));
            market = run.load::<Market>(&address).await?.context("market missing")?;
        } else {
            run.pending = true;
            run.note(format!("market {}: activates at unix {} (the timelock)", spec.name, market.activates_unix));
        }
    }
    let deployed = DeployedMarket {
        index: spec.index,
        name: spec.name.clone(),
        market: address.to_string(),
        order_book: market.order_book.to_string(),
        oracle: market.oracle.feed.to_string(),
        active: market.status != MARKET_STATUS_PENDING,
    };
    Ok((deployed, risk_change))
}

fn same_params(a: &MarketParams, b: &MarketParams) -> bool {
    bytemuck::bytes_of(a) == bytemuck::bytes_of(b)
}
