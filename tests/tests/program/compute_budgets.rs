//! The compute benchmark: every instruction run in the heaviest case the program allows, on the
//! SBF bytecode, against its budget in `bulwark_sdk::compute` and the 560,000 CU goal. Writes
//! the table to `target/compute.md`, or to `docs/compute.md` with `BULWARK_WRITE_COMPUTE_DOC=1`.
//!
//! Each scenario is a fresh bank with a redemption-aware collateral (three feeds, refreshed in
//! every transaction that prices anything) and up to 16 markets. The heavy cases use a price
//! band wherever the program accepts one, so each position there is valued at both ends: other
//! markets' feeds published with a confidence over their 2 % limit (the relaxed rule), and for
//! risk-reducing instructions the collateral at its soft floor (its print left stale).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anchor_lang::prelude::*;
use anchor_lang::solana_program::instruction::Instruction;
use bulwark::events::*;
use bulwark::instructions::{InitializeClearinghouseArgs, PriceFeedUpdate};
use bulwark::state::*;
use bulwark_sdk::chain::embedded::ProgramBuild;
use bulwark_sdk::compute::{budget, BUDGETS, GOAL_CU};
use bulwark_tests::*;
use solana_keypair::Keypair;
use solana_signer::Signer as _;

// ---- what was measured --------------------------------------------------------------------

/// The heaviest run of one instruction.
#[derive(Clone, Default)]
struct Worst {
    units: u64,
    case: String,
    /// The run ran out of compute at the transaction maximum: `units` is what it had.
    exhausted: bool,
}

impl Worst {
    /// Whether `other` is the heavier: a run that ran out beats any that completed.
    fn heavier(&self, other: &Worst) -> bool {
        (other.exhausted, other.units) > (self.exhausted, self.units)
    }
}

/// The heaviest run of every instruction seen, by its Anchor name.
#[derive(Default)]
struct Ledger {
    worst: BTreeMap<String, Worst>,
}

impl Ledger {
    fn record(&mut self, name: &str, run: Worst) {
        let entry = self.worst.entry(name.to_string()).or_default();
        if entry.heavier(&run) {
            *entry = run;
        }
    }

    fn merge(&mut self, other: Ledger) {
        for (name, worst) in other.worst {
            self.record(&name, worst);
        }
    }
}

/// Every top-level Bulwark instruction in `logs`, in order, with the compute units its own
/// `consumed` line reports (its token CPIs included).
fn bulwark_units(logs: &[String]) -> Vec<(String, u64)> {
    let program = bulwark::ID.to_string();
    let mut stack: Vec<&str> = Vec::new();
    let mut name: Option<String> = None;
    let mut measured = Vec::new();
    for line in logs {
        let Some(rest) = line.strip_prefix("Program ") else { continue };
        if let Some(message) = rest.strip_prefix("log: ") {
            if stack.len() == 1 && stack[0] == program {
                if let Some(instruction) = message.strip_prefix("Instruction: ") {
                    name = Some(instruction.to_string());
                }
            }
            continue;
        }
        // `<id> invoke [n]`, `<id> consumed <n> of <m> compute units`, `<id> success`, `<id> failed: …`
        let mut words = rest.split_whitespace();
        let (Some(id), Some(verb)) = (words.next(), words.next()) else { continue };
        match verb {
            "invoke" => stack.push(id),
            "success" | "failed:" => {
                stack.pop();
            }
            "consumed" if stack.len() == 1 && id == program => {
                let units = words.next().and_then(|w| w.parse().ok()).expect("a consumed count");
                measured.push((name.take().expect("the instruction logged its name"), units));
            }
            _ => {}
        }
    }
    measured
}

const REFRESH_CASE: &str = "redemption-aware collateral: market print, redemption rate and reserve attestation \
                            read, mode and source re-derived (the first read also switches the mode to healthy)";

/// Send `ixs`, which must succeed, and record each Bulwark instruction's compute units: the last
/// one's under `case`, a collateral refresh before it under its own description. With
/// `may_run_out`, the last instruction may instead run out of compute at the transaction
/// maximum: recorded as such (the goal check then fails), not as a failed scenario.
async fn run(
    env: &mut TestEnv,
    ledger: &mut Ledger,
    case: &str,
    ixs: &[Instruction],
    signers: &[&Keypair],
    may_run_out: bool,
) -> TxOutcome {
    let mut keys: Vec<Pubkey> = ixs.iter().flat_map(|ix| ix.accounts.iter().map(|a| a.pubkey)).collect();
    keys.extend(ixs.iter().map(|ix| ix.program_id));
    keys.sort();
    keys.dedup();
    let out =
        if keys.len() > MAX_LEGACY_ACCOUNTS { send_v0(env, ixs, signers).await } else { env.send(ixs, signers).await };
    let ran_out = out.result.is_err() && out.logs.iter().any(|l| l.contains("exceeded CUs meter"));
    let out = if may_run_out && ran_out { out } else { out.ok() };
    let measured = bulwark_units(&out.logs);
    let sent = ixs.iter().filter(|ix| ix.program_id == bulwark::ID).count();
    assert_eq!(measured.len(), sent, "one compute figure per Bulwark instruction\n{}", out.logs.join("\n"));
    let last = measured.len().saturating_sub(1);
    for (i, (name, units)) in measured.iter().enumerate() {
        let described = if i < last && name == "RefreshCollateralPrice" { REFRESH_CASE } else { case };
        let exhausted = ran_out && i == last;
        ledger.record(name, Worst { units: *units, case: described.to_string(), exhausted });
    }
    out
}

/// The bank indexes at most 38 static accounts per message (what fits a 1,232-byte packet);
/// a transaction with more goes as a v0 message with its other accounts in a lookup table, as
/// a client would send it. Below this many, a legacy transaction.
const MAX_LEGACY_ACCOUNTS: usize = 32;

const ADDRESS_LOOKUP_TABLE_PROGRAM: Pubkey = pubkey!("AddressLookupTab1e1111111111111111111111111");

/// Send `ixs` as a v0 message, every account that neither signs nor is a program looked up in
/// a new address lookup table.
async fn send_v0(env: &mut TestEnv, ixs: &[Instruction], signers: &[&Keypair]) -> TxOutcome {
    use solana_transaction::versioned::VersionedTransaction;
    use std::sync::atomic::{AtomicU32, Ordering};
    // A distinct compute-unit limit keeps identical instructions from colliding as duplicates.
    static SENT: AtomicU32 = AtomicU32::new(0);
    let payer = env.payer();
    let mut all = vec![compute_unit_limit_ix(1_400_000 - SENT.fetch_add(1, Ordering::Relaxed))];
    all.extend_from_slice(ixs);

    let signing: Vec<Pubkey> =
        all.iter().flat_map(|ix| ix.accounts.iter()).filter(|a| a.is_signer).map(|a| a.pubkey).collect();
    let programs: Vec<Pubkey> = all.iter().map(|ix| ix.program_id).collect();
    let mut looked_up: Vec<Pubkey> = Vec::new();
    for meta in all.iter().flat_map(|ix| ix.accounts.iter()) {
        let key = meta.pubkey;
        if key != payer.pubkey() && !signing.contains(&key) && !programs.contains(&key) && !looked_up.contains(&key) {
            looked_up.push(key);
        }
    }
    // An active table (never deactivated, last extended at slot 0): its meta, then the keys.
    let table = Pubkey::new_unique();
    let mut data = vec![0u8; 56];
    data[..4].copy_from_slice(&1u32.to_le_bytes()); // ProgramState::LookupTable
    data[4..12].copy_from_slice(&u64::MAX.to_le_bytes()); // deactivation slot
    for key in &looked_up {
        data.extend_from_slice(key.as_ref());
    }
    let lamports = Rent::default().minimum_balance(data.len());
    let account = solana_account::Account {
        lamports,
        data,
        owner: ADDRESS_LOOKUP_TABLE_PROGRAM,
        executable: false,
        rent_epoch: 0,
    };
    env.ctx.set_account(&table, &account.into());

    let mut message = compile_v0(&payer.pubkey(), &all, table, &looked_up);
    let blockhash = env.ctx.banks_client.get_latest_blockhash().await.expect("blockhash");
    if let solana_transaction::VersionedMessage::V0(m) = &mut message {
        m.recent_blockhash = blockhash;
    }
    let mut keypairs: Vec<&Keypair> = vec![&payer];
    keypairs.extend(signers.iter().copied().filter(|k| k.pubkey() != payer.pubkey()));
    let tx = VersionedTransaction::try_new(message, &keypairs).expect("signed");
    env.index.forget_data();
    let result = env.ctx.banks_client.process_transaction_with_metadata(tx).await;
    env.index.forget_data();
    match result {
        Ok(r) => {
            let (logs, compute_units) =
                r.metadata.map(|m| (m.log_messages, m.compute_units_consumed)).unwrap_or_default();
            TxOutcome { result: r.result, logs, compute_units }
        }
        Err(e) => panic!("banks client: {e:?}"),
    }
}

/// A v0 message of `ixs` paid by `payer`, the accounts in `looked_up` read from `table`.
fn compile_v0(
    payer: &Pubkey,
    ixs: &[Instruction],
    table: Pubkey,
    looked_up: &[Pubkey],
) -> solana_transaction::VersionedMessage {
    // Every account once, with its strongest use: (key, signer, writable).
    let mut uses: Vec<(Pubkey, bool, bool)> = vec![(*payer, true, true)];
    for (key, signer, writable) in ixs
        .iter()
        .flat_map(|ix| ix.accounts.iter().map(|a| (a.pubkey, a.is_signer, a.is_writable)))
        .chain(ixs.iter().map(|ix| (ix.program_id, false, false)))
    {
        match uses.iter_mut().find(|u| u.0 == key) {
            Some(u) => {
                u.1 |= signer;
                u.2 |= writable;
            }
            None => uses.push((key, signer, writable)),
        }
    }
    let is_static = |key: &Pubkey| !looked_up.contains(key);
    let of = |signer: bool, writable: bool, in_table: bool| -> Vec<Pubkey> {
        uses.iter().filter(|u| u.1 == signer && u.2 == writable && is_static(&u.0) != in_table).map(|u| u.0).collect()
    };
    let (signed_writable, signed_readonly) = (of(true, true, false), of(true, false, false));
    let (unsigned_writable, unsigned_readonly) = (of(false, true, false), of(false, false, false));
    let (table_writable, table_readonly) = (of(false, true, true), of(false, false, true));
    let static_keys: Vec<Pubkey> = [&signed_writable, &signed_readonly, &unsigned_writable, &unsigned_readonly]
        .into_iter()
        .flatten()
        .copied()
        .collect();
    // Instructions index the static keys, then the table's writable, then its read-only ones.
    let order: Vec<Pubkey> =
        static_keys.iter().chain(table_writable.iter()).chain(table_readonly.iter()).copied().collect();
    let index = |key: &Pubkey| order.iter().position(|k| k == key).expect("every account is listed") as u8;
    let table_index = |key: &Pubkey| looked_up.iter().position(|k| k == key).expect("in the table") as u8;

    let mut message = solana_transaction::VersionedMessage::V0(Default::default());
    let solana_transaction::VersionedMessage::V0(m) = &mut message else { unreachable!() };
    m.header.num_required_signatures = (signed_writable.len() + signed_readonly.len()) as u8;
    m.header.num_readonly_signed_accounts = signed_readonly.len() as u8;
    m.header.num_readonly_unsigned_accounts = unsigned_readonly.len() as u8;
    m.account_keys = static_keys;
    m.instructions = ixs
        .iter()
        .map(|ix| solana_transaction::CompiledInstruction {
            program_id_index: index(&ix.program_id),
            accounts: ix.accounts.iter().map(|a| index(&a.pubkey)).collect(),
            data: ix.data.clone(),
        })
        .collect();
    m.address_table_lookups.push(Default::default());
    let lookup = m.address_table_lookups.last_mut().expect("just pushed");
    lookup.account_key = table;
    lookup.writable_indexes = table_writable.iter().map(table_index).collect();
    lookup.readonly_indexes = table_readonly.iter().map(table_index).collect();
    message
}

// ---- one bank with up to 16 markets -------------------------------------------------------

/// $0.10 ticks: a $100 market is at 1,000 ticks, so the 2 % book band holds 20 price levels.
const TICK: i64 = 100_000;

fn bench_params() -> MarketParams {
    MarketParams {
        tick_size: TICK as u64,
        // A size premium, so every margin ratio takes its scaled path.
        size_premium_unit_lots: 1_000,
        size_premium_bps: 10,
        ..simple_market_params()
    }
}

/// The markets a maker or counterparty holds besides market 0: two overlapping sets, so that
/// together they cover markets 8 to 15.
fn side_markets(k: usize) -> std::ops::Range<u16> {
    if k % 2 == 0 {
        8..15
    } else {
        9..16
    }
}

/// Every bank's keys derive from this seed (plus the bank's number).
const KEY_SEED: u64 = 20_251_130;

#[derive(Clone, Copy)]
struct Quote {
    usd: i64,
    /// Published with a confidence over the feed's 2 % limit: only the relaxed rule prices it,
    /// as a band.
    wide: bool,
}

struct World {
    env: TestEnv,
    fx: ClearinghouseFixture,
    /// The collateral's market print, redemption rate and reserve attestation.
    collateral: [Feed; 3],
    markets: Vec<MarketFixture>,
    quotes: Vec<Quote>,
    ledger: Ledger,
}

async fn new_feed(env: &mut TestEnv, ledger: &mut Ledger, feed_id: u64) -> Feed {
    let authority = env.funded_keypair().await;
    let payer = env.payer();
    let ix = create_price_feed_ix(&authority.pubkey(), &payer.pubkey(), feed_id, -6, 600);
    run(env, ledger, "create a manual price feed account", &[ix], &[&authority], false).await;
    Feed { key: price_feed_pda(&authority.pubkey(), feed_id), authority }
}

impl World {
    /// A clearinghouse (no timelock) whose collateral is priced redemption-aware, with
    /// `market_count` markets at $100.
    async fn new(market_count: u16) -> Self {
        Self::with_waterfall(market_count, default_waterfall()).await
    }

    async fn with_waterfall(market_count: u16, waterfall: WaterfallParams) -> Self {
        let mut env = TestEnv::new().await;
        // Seeded keys, another seed for each bank: the same addresses, so the same PDA bump
        // searches (about 1,500 CU per extra attempt), on every run, and many of them.
        static BANKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        env.seed_keypairs(KEY_SEED + BANKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let mut ledger = Ledger::default();
        let collateral = [
            new_feed(&mut env, &mut ledger, 1).await,
            new_feed(&mut env, &mut ledger, 2).await,
            new_feed(&mut env, &mut ledger, 3).await,
        ];
        let mint_authority = env.new_keypair();
        let mint = env.create_mint(&mint_authority.pubkey(), 6).await;
        let admin = env.funded_keypair().await;
        let guardian = env.funded_keypair().await;
        let args = InitializeClearinghouseArgs {
            id: 0,
            guardian: guardian.pubkey(),
            timelock_seconds: 0,
            collateral_oracle: redemption_aware_collateral(
                oracle_config(ORACLE_SOURCE_MANUAL, collateral[0].key),
                collateral[1].key,
                collateral[2].key,
            ),
            breaker_window_seconds: 3_600,
            breaker_max_net_outflow_bps: 10_000,
            breaker_min_outflow_allowance: 0,
            waterfall,
        };
        let case = "create a clearinghouse with its collateral and insurance vaults (two token accounts)";
        let init = initialize_clearinghouse_ix(&admin.pubkey(), &mint, args);
        run(&mut env, &mut ledger, case, &[init], &[&admin], false).await;
        let key = clearinghouse_pda(&admin.pubkey(), &mint, 0);
        let fx = ClearinghouseFixture {
            keys: ClearinghouseKeys::new(key),
            mint,
            mint_authority,
            admin,
            guardian,
            margin_accounts: vec![],
            markets: vec![],
        };
        let mut world = Self { env, fx, collateral, markets: vec![], quotes: vec![], ledger };
        world.publish_collateral().await;
        let refresh = world.refresh_ix();
        world.send_plain(REFRESH_CASE, vec![refresh]).await;
        for index in 0..market_count {
            world.list_market(index).await;
        }
        world
    }

    async fn list_market(&mut self, index: u16) {
        let feed = new_feed(&mut self.env, &mut self.ledger, 1_000 + index as u64).await;
        let admin = self.fx.admin.insecure_clone();
        let oracle = oracle_config(ORACLE_SOURCE_MANUAL, feed.key);
        let list = create_market_ix(&admin.pubkey(), &self.fx.key, index, oracle, bench_params());
        self.send_signed("list a market: market and order-book accounts created", vec![list], &[&admin]).await;
        let market = market_pda(&self.fx.key, index);
        self.send_plain("open a listed market", vec![activate_market_ix(&market)]).await;
        self.fx.markets.push(market);
        self.markets.push(MarketFixture { keys: MarketKeys::new(&self.fx.key, index, feed.key), feed });
        self.quotes.push(Quote { usd: 100 * USD as i64, wide: false });
        self.publish(index, 100 * USD as i64, false).await;
    }

    fn refresh_ix(&self) -> Instruction {
        let [market, rate, health] = &self.collateral;
        refresh_collateral_price_ix(&self.fx.key, Some(market.key), Some(rate.key), Some(health.key))
    }

    /// Send with a collateral refresh in front (every priced instruction needs one in its slot).
    async fn send(&mut self, case: &str, ixs: Vec<Instruction>, signers: &[&Keypair]) -> TxOutcome {
        let mut all = vec![self.refresh_ix()];
        all.extend(ixs);
        run(&mut self.env, &mut self.ledger, case, &all, signers, false).await
    }

    /// `send` for a worst case that may run out of compute at the transaction maximum.
    async fn measure(&mut self, case: &str, ix: Instruction, signers: &[&Keypair]) -> TxOutcome {
        let all = vec![self.refresh_ix(), ix];
        run(&mut self.env, &mut self.ledger, case, &all, signers, true).await
    }

    /// Send signed by the payer alone, without a refresh.
    async fn send_plain(&mut self, case: &str, ixs: Vec<Instruction>) -> TxOutcome {
        run(&mut self.env, &mut self.ledger, case, &ixs, &[], false).await
    }

    async fn send_signed(&mut self, case: &str, ixs: Vec<Instruction>, signers: &[&Keypair]) -> TxOutcome {
        run(&mut self.env, &mut self.ledger, case, &ixs, signers, false).await
    }

    async fn publish_feed(&mut self, feed: usize, update: PriceFeedUpdate) {
        let authority = match feed {
            0..=2 => self.collateral[feed].authority.insecure_clone(),
            _ => self.markets[feed - 3].feed.authority.insecure_clone(),
        };
        let key = if feed < 3 { self.collateral[feed].key } else { self.markets[feed - 3].feed.key };
        let ix = update_price_feed_ix(&authority.pubkey(), &key, update);
        self.send_signed("publish a price to a manual feed", vec![ix], &[&authority]).await;
    }

    /// The collateral at par: a $1.00 print and the redemption attestations.
    async fn publish_collateral(&mut self) {
        let print = PriceFeedUpdate { price: 1_000_000, conf: 0, redemption_enabled: true, reserve_ratio: 0 };
        self.publish_feed(0, print).await;
        self.publish_attestations().await;
    }

    /// A 1.00 redemption rate, redemption open and 102 % reserves: healthy mode.
    async fn publish_attestations(&mut self) {
        let rate = PriceFeedUpdate { price: 1_000_000, conf: 0, redemption_enabled: true, reserve_ratio: 0 };
        self.publish_feed(1, rate).await;
        let reserves = PriceFeedUpdate { price: 0, conf: 0, redemption_enabled: true, reserve_ratio: 1_020_000 };
        self.publish_feed(2, reserves).await;
    }

    /// Publish market `index` at `usd` (6 decimals), with a 3 % confidence when `wide`.
    async fn publish(&mut self, index: u16, usd: i64, wide: bool) {
        self.quotes[index as usize] = Quote { usd, wide };
        let conf = if wide { usd as u64 * 3 / 100 } else { 0 };
        let update = PriceFeedUpdate { price: usd, conf, redemption_enabled: true, reserve_ratio: 0 };
        self.publish_feed(3 + index as usize, update).await;
    }

    /// Publish every market's feed again at its quote (after the clock moved).
    async fn republish_markets(&mut self) {
        for index in 0..self.markets.len() as u16 {
            let quote = self.quotes[index as usize];
            self.publish(index, quote.usd, quote.wide).await;
        }
    }

    async fn warp(&mut self, seconds: i64) {
        self.env.warp(seconds, 2).await;
        self.publish_collateral().await;
        self.republish_markets().await;
    }

    /// Move market `index` to `usd` and let its moving average follow (50 minutes), so the move
    /// is not refused as too volatile.
    async fn set_price(&mut self, index: u16, usd: i64) {
        self.publish(index, usd, false).await;
        self.warp(3_000).await;
    }

    /// A minute without a collateral print, every other feed published again: healthy redemption
    /// mode then values the collateral at its soft floor, `r·(1 − soft band)`, read as the band
    /// up to `r`, which only risk-reducing instructions accept; every market price in collateral
    /// becomes a band with it.
    async fn stale_collateral_print(&mut self) {
        self.env.warp(61, 2).await;
        self.publish_attestations().await;
        self.republish_markets().await;
        let refresh = self.refresh_ix();
        self.send_plain(REFRESH_CASE, vec![refresh]).await;
        let state = self.env.clearinghouse(&self.fx).await.collateral_oracle_state;
        assert_eq!(state.price_source, COLLATERAL_PRICE_SOFT_FLOOR, "the collateral at its soft floor");
    }

    fn ticks(&self, index: u16) -> u64 {
        (self.quotes[index as usize].usd / TICK) as u64
    }

    /// A margin account with `deposit` deposited and `wallet` more left in its owner's wallet.
    async fn user_with_wallet(&mut self, deposit: u64, wallet: u64) -> User {
        let owner = self.env.funded_keypair().await;
        let token_account = self.env.create_token_account(&self.fx.mint, &owner.pubkey()).await;
        if deposit + wallet > 0 {
            let authority = self.fx.mint_authority.insecure_clone();
            self.env.mint_to(&self.fx.mint, &authority, &token_account, deposit + wallet).await;
        }
        let create = create_margin_account_ix(&self.fx.key, &owner.pubkey(), &owner.pubkey(), 0);
        self.send_signed("create a margin account", vec![create], &[&owner]).await;
        let margin_account = margin_account_pda(&self.fx.key, &owner.pubkey(), 0);
        self.fx.margin_accounts.push(margin_account);
        if deposit > 0 {
            let ix = deposit_ix(
                &owner.pubkey(),
                &self.fx.key,
                &margin_account,
                &self.fx.collateral_vault,
                &token_account,
                deposit,
            );
            self.send_signed("deposit from the owner's wallet (one token transfer)", vec![ix], &[&owner]).await;
        }
        User { owner, margin_account, token_account }
    }

    async fn user(&mut self, deposit: u64) -> User {
        self.user_with_wallet(deposit, 0).await
    }

    /// The `(market, oracle)` pairs of every market the accounts hold (a position or orders), in
    /// order of first appearance, `except` left out.
    async fn price_pairs(&mut self, accounts: &[Pubkey], except: Option<u16>) -> Vec<Pubkey> {
        let mut indexes: Vec<u16> = Vec::new();
        for &account in accounts {
            let held: Vec<u16> = self.env.margin(account).await.open_positions().map(|p| p.market_index).collect();
            for index in held {
                if Some(index) != except && !indexes.contains(&index) {
                    indexes.push(index);
                }
            }
        }
        assert!(indexes.len() <= bulwark::constants::MAX_PRICED_MARKETS, "too many markets to price");
        indexes.iter().flat_map(|&i| self.markets[i as usize].price_pair()).collect()
    }

    /// `user` places `args` in market `index`; the makers it may meet are passed in book order.
    async fn place(
        &mut self,
        case: &str,
        user: &User,
        index: u16,
        args: PlaceOrderArgs,
        makers: &[Pubkey],
    ) -> TxOutcome {
        let mut accounts = vec![user.margin_account];
        accounts.extend_from_slice(makers);
        let mut remaining = self.price_pairs(&accounts, Some(index)).await;
        remaining.extend_from_slice(makers);
        let owner = user.owner.insecure_clone();
        let ix = place_order_ix(
            &owner.pubkey(),
            &self.fx,
            &user.margin_account,
            &self.markets[index as usize],
            args,
            &remaining,
        );
        self.send(case, vec![ix], &[&owner]).await
    }

    async fn rest(&mut self, user: &User, index: u16, side: u8, price_ticks: u64, lots: u64) {
        self.rest_until(user, index, side, price_ticks, lots, 0).await;
    }

    async fn rest_until(&mut self, user: &User, index: u16, side: u8, price_ticks: u64, lots: u64, expiry: i64) {
        let args = PlaceOrderArgs { expiry_unix: expiry, ..order(side, ORDER_TYPE_LIMIT, price_ticks, lots) };
        let out = self.place("set-up: rest a limit order", user, index, args, &[]).await;
        assert_eq!(out.events::<OrderPlacedV1>().len(), 1, "the order rests");
    }

    /// `user` buys (`lots` > 0) or sells `|lots|` in market `index` from `dealer` at the oracle.
    async fn open(&mut self, user: &User, dealer: &User, index: u16, lots: i64) {
        let ticks = self.ticks(index);
        let size = lots.unsigned_abs();
        let (dealer_side, user_side) = if lots > 0 { (SIDE_ASK, SIDE_BID) } else { (SIDE_BID, SIDE_ASK) };
        let quote = order(dealer_side, ORDER_TYPE_POST_ONLY, ticks, size);
        self.place("set-up: a dealer quotes", dealer, index, quote, &[]).await;
        let take = order(user_side, ORDER_TYPE_IMMEDIATE_OR_CANCEL, ticks, size);
        let out = self.place("set-up: take the dealer's quote", user, index, take, &[dealer.margin_account]).await;
        assert_eq!(out.events::<FillV1>().iter().map(|f| f.base_lots).sum::<u64>(), size);
    }

    async fn finish(mut self) -> Ledger {
        self.env.check_invariants(&self.fx).await;
        self.ledger
    }
}

fn cancelled(out: &TxOutcome, reason: u8) -> usize {
    out.events::<OrderCancelledV1>().iter().filter(|c| c.reason == reason).count()
}

// ---- the worst cases ----------------------------------------------------------------------

/// Orders the matching removes without a fill, in front of the book's real depth.
#[derive(Clone, Copy, Debug)]
struct StaleOrders {
    /// Refused by their maker's margin: the costly kind, found only after the maker's whole
    /// account is valued before and after.
    refused: usize,
    /// Expired: removed after a glance.
    expired: usize,
}

/// The most of both a matching instruction removes and still fills after: one refusal under
/// `MAX_MARGIN_REFUSALS_PER_ORDER`, and expired orders up to one under
/// `MAX_STALE_REMOVALS_PER_ORDER` in all.
const STALE_ORDERS: StaleOrders = StaleOrders {
    refused: bulwark::constants::MAX_MARGIN_REFUSALS_PER_ORDER - 1,
    expired: bulwark::constants::MAX_STALE_REMOVALS_PER_ORDER - bulwark::constants::MAX_MARGIN_REFUSALS_PER_ORDER,
};

/// `place_order` (reduce-only, so the collateral's fallback band is accepted) and `withdraw`,
/// then `sweep_fees` on what the trading left in the fee pool. `stale.refused` asks of a maker
/// whose margin gives way sit in front of the eight makers.
async fn trading(stale: StaleOrders) -> Ledger {
    let stale_orders = stale.refused;
    let mut w = World::new(16).await;
    let dealer_low = w.user(10_000_000 * USD).await; // markets 0 to 7
    let dealer_high = w.user(10_000_000 * USD).await; // markets 8 to 15

    // The taker: short 60 lots in market 0, long in markets 1 to 7.
    let taker = w.user(1_000_000 * USD).await;
    for index in 1..8 {
        w.open(&taker, &dealer_low, index, 10).await;
    }
    w.open(&taker, &dealer_low, 0, -60).await;
    // Eight makers, each holding seven of markets 8 to 15, with an ask at its own level.
    let mut makers = Vec::new();
    for k in 0..8 {
        let maker = w.user(100_000 * USD).await;
        for index in side_markets(k) {
            w.open(&maker, &dealer_high, index, 1).await;
        }
        makers.push(maker);
    }
    // A maker whose asks sit in front of them all, and whose margin gives way once market 8
    // falls: each of its orders is checked against its whole account, then cancelled.
    let expired = stale.expired;
    let stale = w.user(1_650 * USD).await;
    for index in 8..15 {
        w.open(&stale, &dealer_high, index, 20).await;
    }
    for (k, maker) in makers.iter().enumerate() {
        w.rest(maker, 0, SIDE_ASK, 1_001 + k as u64, 5).await;
    }
    for _ in 0..stale_orders {
        w.rest(&stale, 0, SIDE_ASK, 999, 1).await;
    }
    // Asks in front of everything that expire before the measured order (the collateral's
    // print goes stale 61 s later).
    let expiring = w.user(100_000 * USD).await;
    let expiry = w.env.clock().await.unix_timestamp + 30;
    for _ in 0..expired {
        w.rest_until(&expiring, 0, SIDE_ASK, 998, 1, expiry).await;
    }
    // A full bid side: the taker's remainder evicts its worst order.
    for first in [900, 916] {
        let filler = w.user(50_000 * USD).await;
        for i in 0..16 {
            w.rest(&filler, 0, SIDE_BID, first + i, 1).await;
        }
    }
    assert_eq!(w.env.book(&w.markets[0]).await.bid_count as usize, bulwark::constants::MAX_ORDERS_PER_SIDE);

    // withdraw: every one of the eight markets priced exactly, the breaker window updated.
    let pairs = w.price_pairs(&[taker.margin_account], None).await;
    let owner = taker.owner.insecure_clone();
    let ix = with_remaining(
        withdraw_ix(
            &owner.pubkey(),
            &w.fx.key,
            &taker.margin_account,
            &w.fx.collateral_vault,
            &taker.token_account,
            USD,
        ),
        &pairs,
    );
    let case = format!(
        "8 positions, each market's price read and checked, the withdrawal breaker's window updated, one token \
         transfer; {} accounts",
        ix.accounts.len()
    );
    w.send(&case, vec![ix], &[&owner]).await;

    // Markets 8 to 15 priced only as bands (market 8 down to $90), the collateral at its floor.
    for index in 8..16 {
        w.publish(index, if index == 8 { 90 } else { 100 } * USD as i64, true).await;
    }
    w.stale_collateral_print().await;

    let mut in_book_order = if expired > 0 { vec![expiring.margin_account] } else { vec![] };
    if stale_orders > 0 {
        in_book_order.push(stale.margin_account);
    }
    in_book_order.extend(makers.iter().map(|m| m.margin_account));
    let mut accounts = vec![taker.margin_account];
    accounts.extend_from_slice(&in_book_order);
    let mut remaining = w.price_pairs(&accounts, Some(0)).await;
    remaining.extend_from_slice(&in_book_order);
    let close = PlaceOrderArgs { reduce_only: true, ..order(SIDE_BID, ORDER_TYPE_LIMIT, 1_008, 50) };
    let ix = place_order_ix(&owner.pubkey(), &w.fx, &taker.margin_account, &w.markets[0], close, &remaining);
    let case = format!(
        "reduce-only bid of a taker holding 8 markets through {expired} expired asks and {stale_orders} asks \
         refused by their maker's margin (checked against its 8 markets each time, then cancelled) and 8 makers at 8 price levels, each holding \
         8 markets; 16 markets priced, every price a band (7 markets' feeds too wide, the collateral at its soft \
         floor); the remainder rests in a full side, evicting the worst bid; {} accounts",
        ix.accounts.len()
    );
    let out = w.measure(&case, ix, &[&owner]).await;
    if out.result.is_ok() {
        assert_eq!(out.events::<FillV1>().len(), bulwark::constants::MAX_MAKER_TOUCHES_PER_ORDER);
        assert_eq!(cancelled(&out, CANCEL_REASON_MAKER_MARGIN), stale_orders);
        assert_eq!(cancelled(&out, CANCEL_REASON_EXPIRED), expired);
        assert_eq!(cancelled(&out, CANCEL_REASON_EVICTED), 1);
        assert_eq!(out.events::<OrderPlacedV1>().len(), 1);
    }

    let sweep = sweep_fees_ix(&w.fx);
    w.send_plain("the fee pool moved to the insurance vault (one token transfer)", vec![sweep]).await;
    w.finish().await
}

/// `update_liquidation_status`, then `liquidate_against_book` (through `stale` stale bids)
/// and `liquidate_takeover` with the collateral at its fallback band.
async fn liquidations(stale: StaleOrders) -> Ledger {
    let (stale_orders, expired) = (stale.refused, stale.expired);
    let mut w = World::new(16).await;
    let dealer_low = w.user(10_000_000 * USD).await;
    let dealer_high = w.user(10_000_000 * USD).await;

    // Two targets: long 100 lots in market 0 and one lot in each of markets 1 to 7 on $1,100,
    // each with sixteen asks resting in market 0 (cancelled by the liquidation).
    let mut targets = Vec::new();
    for _ in 0..2 {
        let target = w.user(1_100 * USD).await;
        for index in 1..8 {
            w.open(&target, &dealer_low, index, 1).await;
        }
        w.open(&target, &dealer_low, 0, 100).await;
        for i in 0..16 {
            w.rest(&target, 0, SIDE_ASK, 1_100 + i, 1).await;
        }
        targets.push(target);
    }
    let (book_target, takeover_target) = (&targets[0], &targets[1]);
    // The liquidator takes the position into a new slot beside seven other markets.
    let liquidator = w.user(100_000 * USD).await;
    for index in 8..15 {
        w.open(&liquidator, &dealer_high, index, 1).await;
    }
    let mut bidders = Vec::new();
    for k in 0..8 {
        let bidder = w.user(100_000 * USD).await;
        for index in side_markets(k) {
            w.open(&bidder, &dealer_high, index, 1).await;
        }
        bidders.push(bidder);
    }
    let stale = w.user(1_650 * USD).await;
    for index in 8..15 {
        w.open(&stale, &dealer_high, index, 20).await;
    }
    let cranker = w.user(0).await;

    // $92.50: both targets' equity (about $339) is under their maintenance (about $498).
    w.set_price(0, 92_500_000).await;
    for (k, bidder) in bidders.iter().enumerate() {
        w.rest(bidder, 0, SIDE_BID, 924 - k as u64, 1).await;
    }
    for _ in 0..stale_orders {
        w.rest(&stale, 0, SIDE_BID, 925, 1).await;
    }
    // Bids in front of everything that expire before the liquidation (the collateral's print
    // goes stale 61 s later).
    let expiring = w.user(100_000 * USD).await;
    let expiry = w.env.clock().await.unix_timestamp + 30;
    for _ in 0..expired {
        w.rest_until(&expiring, 0, SIDE_BID, 926, 1, expiry).await;
    }
    for index in 1..16 {
        w.publish(index, if index == 8 { 90 } else { 100 } * USD as i64, true).await;
    }

    let pairs = w.price_pairs(&[takeover_target.margin_account], None).await;
    let ix = update_liquidation_status_ix(&w.fx.key, &takeover_target.margin_account, &pairs);
    let case = "8 markets, 7 of them priced as bands; the account flagged liquidatable";
    let out = w.send(case, vec![ix], &[]).await;
    assert_eq!(out.events::<LiquidationStatusV1>()[0].status_flags & ACCOUNT_FLAG_BEING_LIQUIDATED, 1);

    w.stale_collateral_print().await;
    let mut in_book_order = if expired > 0 { vec![expiring.margin_account] } else { vec![] };
    if stale_orders > 0 {
        in_book_order.push(stale.margin_account);
    }
    in_book_order.extend(bidders.iter().map(|b| b.margin_account));
    let mut accounts = vec![book_target.margin_account];
    accounts.extend_from_slice(&in_book_order);
    let mut remaining = w.price_pairs(&accounts, Some(0)).await;
    remaining.extend_from_slice(&in_book_order);
    let owner = cranker.owner.insecure_clone();
    let ix = liquidate_against_book_ix(
        &owner.pubkey(),
        &w.fx,
        &cranker.margin_account,
        &book_target.margin_account,
        &w.markets[0],
        &remaining,
    );
    let case = format!(
        "target holding 8 markets and 16 resting orders, all cancelled; sells through {expired} expired bids and \
         {stale_orders} bids refused by their maker's margin (checked against its 8 markets each time, then \
         cancelled) into 8 makers holding \
         8 markets each; 16 markets priced, every price a band (7 markets' feeds too wide, the collateral at its \
         soft floor); {} accounts",
        ix.accounts.len()
    );
    let out = w.measure(&case, ix, &[&owner]).await;
    if out.result.is_ok() {
        assert_eq!(out.events::<FillV1>().len(), bulwark::constants::MAX_MAKER_TOUCHES_PER_ORDER);
        assert_eq!(cancelled(&out, CANCEL_REASON_MAKER_MARGIN), stale_orders);
        assert_eq!(cancelled(&out, CANCEL_REASON_EXPIRED), expired);
        assert_eq!(cancelled(&out, CANCEL_REASON_LIQUIDATION), 16);
        assert_eq!(out.events::<LiquidationV1>()[0].kind, LIQUIDATION_KIND_BOOK);
    }

    let remaining = w.price_pairs(&[takeover_target.margin_account, liquidator.margin_account], Some(0)).await;
    let owner = liquidator.owner.insecure_clone();
    let ix = liquidate_takeover_ix(
        &owner.pubkey(),
        &w.fx,
        &liquidator.margin_account,
        &takeover_target.margin_account,
        &w.markets[0],
        0,
        &remaining,
    );
    let case = format!(
        "target holding 8 markets and 16 resting orders, all cancelled; the liquidator holds 7 other markets \
         and takes the position into a new slot; 15 markets priced, every price a band (7 markets' feeds too \
         wide, the collateral at its soft floor); fee to insurance (one token transfer); {} accounts",
        ix.accounts.len()
    );
    let out = w.measure(&case, ix, &[&owner]).await;
    if out.result.is_ok() {
        assert_eq!(cancelled(&out, CANCEL_REASON_LIQUIDATION), 16);
        assert_eq!(out.events::<LiquidationV1>()[0].kind, LIQUIDATION_KIND_TAKEOVER);
    }
    w.finish().await
}

/// `update_liquidation_status` with every market a band, then `auto_deleverage` with its six
/// counterparties, closing the target flat (insurance paying what it holds), with exact
/// prices or with the collateral at its fallback band (`fallback`). The shortfall is sized
/// with the market acted on at exactly the fill price, so a close at a band settles too.
async fn deleveraging(fallback: bool) -> Ledger {
    let mut w = World::new(16).await;
    let dealer_high = w.user(10_000_000 * USD).await;
    // Six shorts in market 0, each holding seven of markets 8 to 15; the smaller the deposit,
    // the higher the leverage and the ADL score, so this is their order.
    let mut counterparties = Vec::new();
    for k in 0..6 {
        let counterparty = w.user((10_000 + 1_000 * k as u64) * USD).await;
        for index in side_markets(k) {
            w.open(&counterparty, &dealer_high, index, 1).await;
        }
        counterparties.push(counterparty);
    }
    // The target: a bid in each of markets 1 to 7, then long 60 lots in market 0 from the six,
    // then sixteen asks (cancelled by the ADL).
    let target = w.user(700 * USD).await;
    for index in 1..8 {
        w.rest(&target, index, SIDE_BID, 900, 1).await;
    }
    for counterparty in &counterparties {
        w.rest(counterparty, 0, SIDE_ASK, 1_000, 10).await;
    }
    let shorts: Vec<Pubkey> = counterparties.iter().map(|c| c.margin_account).collect();
    let take = order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 1_000, 60);
    let out = w.place("set-up: take six makers", &target, 0, take, &shorts).await;
    assert_eq!(out.events::<FillV1>().len(), 6);
    for i in 0..16 {
        w.rest(&target, 0, SIDE_ASK, 1_100 + i, 1).await;
    }

    // $80: the target is about $506 short of zero, far more than the insurance vault holds.
    w.set_price(0, 80_000_000).await;
    for index in 0..16 {
        let usd = w.quotes[index as usize].usd;
        w.publish(index, usd, true).await;
    }
    let pairs = w.price_pairs(&[target.margin_account], None).await;
    let ix = update_liquidation_status_ix(&w.fx.key, &target.margin_account, &pairs);
    let case = "8 markets, all priced as bands; the account flagged liquidatable and bankrupt";
    let out = w.send(case, vec![ix], &[]).await;
    let flags = ACCOUNT_FLAG_BEING_LIQUIDATED | ACCOUNT_FLAG_BANKRUPT;
    assert_eq!(out.events::<LiquidationStatusV1>()[0].status_flags, flags);

    w.publish(0, 80_000_000, false).await;
    let mut accounts = vec![target.margin_account];
    accounts.extend_from_slice(&shorts);
    let mut remaining = w.price_pairs(&accounts, Some(0)).await;
    remaining.extend_from_slice(&shorts);
    let (max_lots, pricing, settlement) = if fallback {
        w.stale_collateral_print().await;
        // The status crank again, in the new slot, with the collateral's band on every price.
        let ix = update_liquidation_status_ix(&w.fx.key, &target.margin_account, &pairs);
        let case = "8 markets, every price a band (7 markets' feeds too wide, the collateral at its soft floor); \
                    the account seen liquidatable again";
        w.send(case, vec![ix], &[]).await;
        (0, "every price a band (7 markets' feeds too wide, the collateral at its soft floor)", "closed flat")
    } else {
        (0, "7 of them priced as bands", "closed flat; insurance pays what it holds (one token transfer)")
    };
    let ix = auto_deleverage_ix(&w.fx, &w.markets[0], &target.margin_account, max_lots, &remaining);
    let case = format!(
        "target holding 8 markets and 16 resting orders, all cancelled; 6 counterparties holding 8 markets \
         each, scored and filled; 16 markets priced, {pricing}; {settlement}; {} accounts",
        ix.accounts.len()
    );
    let out = w.measure(&case, ix, &[]).await;
    if out.result.is_ok() {
        assert_eq!(out.events::<AdlFillV1>().len(), bulwark::constants::MAX_ADL_COUNTERPARTIES);
        assert!(out.events::<InsurancePayoutV1>().len() <= 1);
        assert_eq!(w.env.position(&target, &w.markets[0]).await.base_lots, 0, "closed flat");
        assert_eq!(cancelled(&out, CANCEL_REASON_LIQUIDATION), 16);
    }
    w.finish().await
}

/// ADL in rounds at the bounds: a target holding 8 markets and 16 resting orders; a full queue
/// of `ADL_QUEUE_LEN`, its head six winners holding 8 markets each, the rest one market.
async fn deleveraging_rounds() -> Ledger {
    const WINDOW: u64 = 2;
    let waterfall = WaterfallParams { adl_nomination_slots: WINDOW, ..default_waterfall() };
    let mut w = World::with_waterfall(16, waterfall).await;
    let dealer_high = w.user(10_000_000 * USD).await;
    let mut heavy = Vec::new();
    for k in 0..6 {
        let counterparty = w.user((10_000 + 1_000 * k as u64) * USD).await;
        for index in side_markets(k) {
            w.open(&counterparty, &dealer_high, index, 1).await;
        }
        heavy.push(counterparty);
    }
    // Ten more winners, short one lot each against the dealer: deep pockets, low scores.
    let light_count = bulwark::constants::ADL_QUEUE_LEN - heavy.len();
    let dealer_light = w.user(1_000_000 * USD).await;
    let mut light = Vec::new();
    for _ in 0..light_count {
        let counterparty = w.user(1_000_000 * USD).await;
        w.open(&counterparty, &dealer_light, 0, -1).await;
        light.push(counterparty.margin_account);
    }
    let target = w.user(700 * USD).await;
    for index in 1..8 {
        w.rest(&target, index, SIDE_BID, 900, 1).await;
    }
    for counterparty in &heavy {
        w.rest(counterparty, 0, SIDE_ASK, 1_000, 10).await;
    }
    let heavy: Vec<Pubkey> = heavy.iter().map(|c| c.margin_account).collect();
    let take = order(SIDE_BID, ORDER_TYPE_IMMEDIATE_OR_CANCEL, 1_000, 60);
    let out = w.place("set-up: take six makers", &target, 0, take, &heavy).await;
    assert_eq!(out.events::<FillV1>().len(), 6);
    for i in 0..16 {
        w.rest(&target, 0, SIDE_ASK, 1_100 + i, 1).await;
    }

    // $80: the target is far more short of zero than the insurance vault holds.
    w.set_price(0, 80_000_000).await;
    for index in 0..16 {
        let usd = w.quotes[index as usize].usd;
        w.publish(index, usd, true).await;
    }
    w.publish(0, 80_000_000, false).await;
    let payer = w.env.payer().pubkey();
    let pairs = w.price_pairs(&[target.margin_account], Some(0)).await;
    let ix = begin_adl_ix(&payer, &w.fx.key, &w.markets[0], &target.margin_account, &pairs);
    let case = format!(
        "target holding 8 markets and 16 resting orders, all cancelled; 8 markets priced, 7 as bands; \
         the round's address created; {} accounts",
        ix.accounts.len()
    );
    let out = w.measure(&case, ix, &[]).await;
    assert_eq!(cancelled(&out, CANCEL_REASON_LIQUIDATION), 16);

    // The light winners fill the queue's back first; the six heavy ones then enter at its front.
    for chunk in light.chunks(bulwark::constants::MAX_ADL_COUNTERPARTIES) {
        let pairs = w.price_pairs(chunk, Some(0)).await;
        let ix = nominate_adl_ix(&payer, &w.fx.key, &w.markets[0], &target.margin_account, &pairs, chunk);
        w.send("set-up: nominate the light winners", vec![ix], &[]).await;
    }
    let pairs = w.price_pairs(&heavy, Some(0)).await;
    let ix = nominate_adl_ix(&payer, &w.fx.key, &w.markets[0], &target.margin_account, &pairs, &heavy);
    let case = format!(
        "6 winners holding 8 markets each, scored (16 markets priced, 15 as bands), each inserted at the \
         front of a queue of {light_count}; {} accounts",
        ix.accounts.len()
    );
    let out = w.measure(&case, ix, &[]).await;
    assert_eq!(out.events::<AdlNominatedV1>().len(), 6);

    w.env.warp(1, WINDOW + 1).await;
    w.publish_collateral().await;
    w.republish_markets().await;
    w.publish(0, 80_000_000, false).await;
    let round: AdlRound = w.env.load(bulwark_sdk::pda::adl_round(&w.markets[0].key, &target.margin_account)).await;
    assert_eq!(round.nominee_count as usize, bulwark::constants::ADL_QUEUE_LEN);
    let queued: Vec<Pubkey> = round.queue()[..6].iter().map(|n| n.margin_account).collect();
    let mut accounts = vec![target.margin_account];
    accounts.extend_from_slice(&queued);
    let mut pairs = w.price_pairs(&accounts, Some(0)).await;
    pairs.truncate(2 * 15);
    let ix = execute_adl_ix(&w.fx, &w.markets[0], &target.margin_account, &payer, &pairs, &queued);
    let case = format!(
        "6 queued winners holding 8 markets each, scored and filled; 16 markets priced, 15 as bands; the \
         target closed flat, insurance pays what it holds (one token transfer); the round closed; {} accounts",
        ix.accounts.len()
    );
    let out = w.measure(&case, ix, &[]).await;
    if out.result.is_ok() {
        assert_eq!(out.events::<AdlFillV1>().len(), 6);
        assert_eq!(out.events::<AdlRoundClosedV1>().len(), 1);
        assert_eq!(out.events::<InsurancePayoutV1>().len(), 1);
        assert_eq!(w.env.position(&target, &w.markets[0]).await.base_lots, 0, "closed flat");
    }
    w.finish().await
}

/// Cancels, pruning and funding on a full book; the insurance stake's life; parameter changes,
/// pauses and the remaining account instructions.
async fn book_and_administration() -> Ledger {
    let mut w = World::new(1).await;
    // A full book, 32 orders a side. `owner` holds the eight best of each side.
    let owner = w.user(100_000 * USD).await;
    let (o1, o2, o3) = (w.user(100_000 * USD).await, w.user(100_000 * USD).await, w.user(100_000 * USD).await);
    for i in 0..8 {
        w.rest(&owner, 0, SIDE_BID, 990 - i, 1).await;
        w.rest(&owner, 0, SIDE_ASK, 1_010 + i, 1).await;
        w.rest(&o2, 0, SIDE_BID, 966 - i, 1).await;
        w.rest(&o2, 0, SIDE_ASK, 1_018 + i, 1).await;
        w.rest(&o3, 0, SIDE_ASK, 1_026 + i, 1).await;
    }
    for i in 0..16 {
        w.rest(&o1, 0, SIDE_BID, 982 - i, 1).await;
    }
    // The eight worst asks expire in a minute, each its own maker's.
    let expiry = w.env.clock().await.unix_timestamp + 60;
    let mut expiring = Vec::new();
    for k in 0..8 {
        let maker = w.user(10_000 * USD).await;
        w.rest_until(&maker, 0, SIDE_ASK, 1_190 + k, 1, expiry).await;
        expiring.push(maker.margin_account);
    }
    let book = w.env.book(&w.markets[0]).await;
    assert_eq!((book.bid_count, book.ask_count), (32, 32));

    // cancel_order scans both full sides for one order.
    let id =
        book.orders(SIDE_ASK).iter().find(|o| o.maker == o3.margin_account && o.price_ticks == 1_033).unwrap().order_id;
    let o3_owner = o3.owner.insecure_clone();
    let ix = cancel_order_ix(&o3_owner.pubkey(), &o3.margin_account, &w.markets[0], Some(id));
    w.send_signed("one order among 64 (both sides full, every order scanned)", vec![ix], &[&o3_owner]).await;
    w.rest(&o3, 0, SIDE_ASK, 1_034, 1).await;

    // prune_expired_orders: 56 live orders scanned, then its maximum of 8 expired removed.
    w.warp(61).await;
    let ix = prune_expired_orders_ix(&w.fx.key, &w.markets[0], &expiring);
    let out =
        w.send_plain("full book: 56 live orders scanned, then 8 expired orders of 8 makers removed", vec![ix]).await;
    assert_eq!(cancelled(&out, CANCEL_REASON_EXPIRED), bulwark::constants::MAX_PRUNES_PER_CALL);
    for i in 0..8 {
        w.rest(&o3, 0, SIDE_ASK, 1_035 + i, 1).await;
    }

    // cancel_all_orders: 16 orders, the best of both full sides.
    let authority = owner.owner.insecure_clone();
    let ix = cancel_order_ix(&authority.pubkey(), &owner.margin_account, &w.markets[0], None);
    let out = w
        .send_signed(
            "16 orders (the account's maximum), the 8 best of each full side, among 64",
            vec![ix],
            &[&authority],
        )
        .await;
    assert_eq!(cancelled(&out, CANCEL_REASON_USER), 16);

    // update_funding: three samples of the two-sided book, then a funding period accrued.
    for _ in 0..3 {
        w.warp(900).await;
        let ix = update_funding_ix(&w.fx.key, &w.markets[0]);
        let out = w.send("sampling: the book's clamped mid and the oracle folded into the TWAPs", vec![ix], &[]).await;
        assert_eq!(out.events::<FundingSampledV1>().len(), 1);
    }
    w.warp(900).await;
    let ix = update_funding_ix(&w.fx.key, &w.markets[0]);
    let case = "accrual: the TWAPs updated and a sampled period's funding charged to the index";
    let out = w.send(case, vec![ix], &[]).await;
    assert_eq!(out.events::<FundingUpdatedV1>()[0].periods, 1);

    // The insurance stake: opened, the first stake (paying for the locked shares), a second
    // staker, a request, and the claim after the cooldown.
    let payer = w.env.payer();
    let mut stakers = Vec::new();
    for amount in [1_000 * USD, 500 * USD] {
        let staker = w.user_with_wallet(0, amount).await;
        let key = staker.owner.insecure_clone();
        let create = create_insurance_stake_ix(&key.pubkey(), &payer.pubkey(), &w.fx.key);
        w.send_signed("create an insurance stake account", vec![create], &[&key]).await;
        let stake = stake_insurance_ix(&key.pubkey(), &w.fx, &staker.token_account, amount);
        let case = "a stake into the insurance vault (one token transfer; the first also pays for the locked shares)";
        w.send_signed(case, vec![stake], &[&key]).await;
        stakers.push(staker);
    }
    let key = stakers[0].owner.insecure_clone();
    let shares = w.env.insurance_stake(&w.fx, &key).await.shares;
    let request = request_unstake_ix(&key.pubkey(), &w.fx.key, shares);
    w.send_signed("request to redeem every share, valued now", vec![request], &[&key]).await;
    w.warp(3_600).await;
    let unstake = unstake_insurance_ix(&key.pubkey(), &w.fx, &stakers[0].token_account);
    w.send_signed(
        "claim after the cooldown at the lower of the two values (one token transfer)",
        vec![unstake],
        &[&key],
    )
    .await;

    // Parameter changes: the largest payload (a collateral oracle), delayed by a pause.
    let admin = w.fx.admin.insecure_clone();
    let guardian = w.fx.guardian.insecure_clone();
    let mut config = w.env.clearinghouse(&w.fx).await.collateral_oracle;
    config.hard_band_grace_seconds = 7_200;
    let change = ParamChange::SetCollateralOracle { config };
    let propose = propose_param_change_ix(&admin.pubkey(), &w.fx.key, change.clone());
    let propose_case =
        "a new collateral oracle configuration (the largest change), validated and parked behind the timelock";
    w.send_signed(propose_case, vec![propose], &[&admin]).await;
    w.send_signed("the guardian pauses the clearinghouse", vec![pause_ix(&guardian.pubkey(), &w.fx.key)], &[&guardian])
        .await;
    w.warp(10).await;
    let unpause = unpause_ix(&guardian.pubkey(), &w.fx.key);
    let out = w
        .send_signed("the guardian resumes; the pending change's timelock is pushed back", vec![unpause], &[&guardian])
        .await;
    assert_eq!(out.events::<ParamChangeDelayedV1>().len(), 1);
    let execute = execute_param_change_ix(&admin.pubkey(), &w.fx.key);
    let case = "a collateral oracle configuration decoded, validated again and applied";
    w.send_signed(case, vec![execute], &[&admin]).await;

    // A market's risk loosened: parked, the market paused and resumed (delaying it), applied.
    let market = w.markets[0].key;
    let risk = MarketRisk { max_open_interest_lots: 2_000_000, ..MarketRisk::of(&bench_params()) };
    let change_risk = ParamChange::SetMarketRisk { market_index: 0, risk };
    let propose = propose_market_param_change_ix(&admin.pubkey(), &w.fx.key, Some(market), change_risk);
    w.send_signed("a market's risk parameters validated and parked behind the timelock", vec![propose], &[&admin])
        .await;
    let pause_market = set_market_status_ix(&guardian.pubkey(), &w.fx.key, &market, MARKET_STATUS_PAUSED);
    w.send_signed("the guardian pauses a market a pending change targets", vec![pause_market], &[&guardian]).await;
    w.warp(10).await;
    let resume = set_market_status_ix(&guardian.pubkey(), &w.fx.key, &market, MARKET_STATUS_ACTIVE);
    let case = "the guardian resumes a market a pending change targets; the change's timelock is pushed back";
    let out = w.send_signed(case, vec![resume], &[&guardian]).await;
    assert_eq!(out.events::<ParamChangeDelayedV1>().len(), 1);
    let execute = execute_market_param_change_ix(&admin.pubkey(), &w.fx.key, Some(market));
    w.send_signed("a market's risk parameters validated again and applied", vec![execute], &[&admin]).await;
    // The waterfall, checked against every market's margins.
    let change_waterfall = ParamChange::SetWaterfall { params: default_waterfall() };
    let propose = propose_param_change_ix(&admin.pubkey(), &w.fx.key, change_waterfall);
    w.send_signed("waterfall parameters validated and parked behind the timelock", vec![propose], &[&admin]).await;
    let execute = execute_param_change_ix(&admin.pubkey(), &w.fx.key);
    w.send_signed("waterfall parameters validated again and applied", vec![execute], &[&admin]).await;
    // Cancelled: the largest payload decoded and dropped.
    let propose = propose_param_change_ix(&admin.pubkey(), &w.fx.key, change);
    w.send_signed(propose_case, vec![propose], &[&admin]).await;
    let cancel = cancel_param_change_ix(&admin.pubkey(), &w.fx.key);
    w.send_signed("a pending collateral oracle configuration decoded and dropped", vec![cancel], &[&admin]).await;

    // The account instructions left: a delegate, and closing an empty account.
    let ix = set_delegate_ix(&authority.pubkey(), &owner.margin_account, Pubkey::new_unique());
    w.send_signed("name a delegate", vec![ix], &[&authority]).await;
    let empty = w.user(0).await;
    let key = empty.owner.insecure_clone();
    let ix = close_margin_account_ix(&key.pubkey(), &w.fx.key, &empty.margin_account, &key.pubkey());
    w.send_signed("close an empty account, its rent to the owner", vec![ix], &[&key]).await;
    w.finish().await
}

// ---- the report ---------------------------------------------------------------------------

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The figure measured; "≥" when the run ran out of compute there.
fn measured(w: &Worst) -> String {
    format!("{}{}", if w.exhausted { "≥ " } else { "" }, thousands(w.units))
}

fn over_goal(w: &Worst) -> String {
    format!("{}{}", if w.exhausted { "≥ " } else { "" }, thousands(w.units - GOAL_CU as u64))
}

/// The share of the goal, to one decimal, rounded half up.
fn percent_of_goal(w: &Worst) -> String {
    let tenths = (w.units * 1_000 + GOAL_CU as u64 / 2) / GOAL_CU as u64;
    format!("{}{}.{} %", if w.exhausted { "≥ " } else { "" }, tenths / 10, tenths % 10)
}

/// The matching instructions' worst cases with `orders` stale orders in front of the makers.
struct Stale {
    orders: StaleOrders,
    place: Worst,
    book: Worst,
}

fn report(ledger: &Ledger, matching: &[Stale]) -> String {
    let (heaviest, worst) =
        ledger.worst.iter().max_by_key(|(_, w)| (w.exhausted, w.units)).expect("something was measured");
    let mut doc = String::new();
    doc.push_str("# Compute units\n\n");
    doc.push_str(
        "Every Bulwark instruction's compute units in its worst case, measured on the program's SBF \
         bytecode (SBPF v0, `target/deploy/bulwark.so`) as the bank of solana-program-test 3.1 runs it, \
         against its budget in `sdk/src/compute.rs` (`bulwark_sdk::compute::BUDGETS`, from which clients size \
         a transaction's compute-unit limit with `crank_limit`) and against the goal: no instruction above \
         560,000 CU, 40 % of the 1,400,000 CU a transaction may use. Each figure is the instruction's own \
         `consumed` line (its token transfers included), not the transaction's total, and the heaviest of \
         every run of that instruction in the benchmark.\n\n",
    );
    doc.push_str(
        "The worst cases go to the program's bounds: 8 positions per account (`MAX_POSITIONS`), 16 markets \
         priced in one instruction (`MAX_PRICED_MARKETS`), 8 fills (`MAX_MAKER_TOUCHES_PER_ORDER`) behind 15 \
         stale orders (one fewer than `MAX_STALE_REMOVALS_PER_ORDER`, which ends the matching before any \
         fill): 2 of them orders whose fill their maker's margin refuses, the costliest kind, found only \
         after the maker's whole account is valued before and after (one fewer than \
         `MAX_MARGIN_REFUSALS_PER_ORDER`), the rest expired; 6 ADL counterparties \
         (`MAX_ADL_COUNTERPARTIES`), 16 resting orders of one account in one market \
         (`MAX_OPEN_ORDERS_PER_MARKET`), books full at 32 orders a side (`MAX_ORDERS_PER_SIDE`) and 8 prunes \
         (`MAX_PRUNES_PER_CALL`). Markets carry a size premium, so every margin ratio takes its \
         scaled path. The collateral is priced redemption-aware from three feeds, refreshed in the same \
         transaction. Where the program accepts a band (a maker's or a liquidated account's other markets, \
         priced by the relaxed rule from a feed whose confidence is over its limit; every market once the \
         collateral's print is stale and its price is the soft floor, for risk-reducing instructions), the \
         cases use one, so each position there is valued at both ends.\n\n",
    );
    doc.push_str(
        "The heaviest transactions carry more accounts than fit a legacy transaction (1,232 bytes); the \
         benchmark sends them as v0 messages with an address lookup table, as a client would. \
         Instructions that create an account at a program address search for its bump, 1,500 CU per \
         candidate passed over, which depends on the keys: the benchmark seeds its keys so every run \
         measures the same figures, and those budgets carry an allowance for the search on top of the 25 %. \
         At the collateral's soft floor `auto_deleverage` closes the bankrupt account flat: its shortfall \
         is sized with the market acted on at the fill price itself.\n\n",
    );
    doc.push_str(
        "Reproduce:\n\n```sh\ncargo xtask sbf\nBULWARK_SO=$PWD/target/deploy/bulwark.so RUST_LOG=error \\\n  \
         cargo test --locked -p bulwark-tests --test program compute_budgets -- --nocapture\n```\n\n",
    );
    doc.push_str(
        "With `BULWARK_WRITE_COMPUTE_DOC=1` the test rewrites this page; otherwise it writes the same report \
         to `target/compute.md` (under `CARGO_TARGET_DIR` when set). CI runs it through `cargo xtask test`, \
         which builds the bytecode and runs every test on it; the test fails when an instruction is over its \
         budget or the goal. On the native build it measures nothing.\n\n",
    );
    let over_maximum = if worst.exhausted { ", and ran out of compute at the transaction maximum" } else { "" };
    doc.push_str(&format!(
        "The single worst case: `{heaviest}`, {} CU ({} of the goal{over_maximum}): {}.\n\n",
        measured(worst),
        percent_of_goal(worst),
        worst.case
    ));
    let over: Vec<String> = BUDGETS
        .iter()
        .filter_map(|&(name, _)| ledger.worst.get(name).filter(|w| w.units > GOAL_CU as u64).map(|w| (name, w)))
        .map(|(name, w)| format!("`{name}` ({} CU, {} CU over)", measured(w), over_goal(w)))
        .collect();
    if !over.is_empty() {
        doc.push_str(&format!(
            "Over the goal: {}. An instruction that ran out of compute at the transaction maximum cannot \
             complete in any transaction in that case; its true cost is higher than the figure shown.\n\n",
            over.join(", ")
        ));
    }
    doc.push_str(&stale_orders_section(matching));
    doc.push_str("| instruction | worst case measured | measured CU | budget CU | % of goal |\n");
    doc.push_str("| --- | --- | ---: | ---: | ---: |\n");
    for &(name, budget_units) in BUDGETS {
        let Some(w) = ledger.worst.get(name) else { continue };
        doc.push_str(&format!(
            "| `{name}` | {} | {} | {} | {} |\n",
            w.case,
            measured(w),
            thousands(budget_units as u64),
            percent_of_goal(w)
        ));
    }
    doc
}

/// What the matching instructions cost with 0, 5 and 15 stale orders in front of the same eight
/// makers, and each stale order's share (the first two runs' difference over their orders);
/// for a run that ran out, what the bound would need at that rate.
fn stale_orders_section(matching: &[Stale]) -> String {
    let [fewest, some, most] = matching else { panic!("three runs of the matching instructions") };
    let label = |o: &StaleOrders| format!("{} refused, {} expired", o.refused, o.expired);
    let mut out = format!(
        "Where the matching instructions' compute goes: the same cases with fewer stale orders in front of the \
         eight makers (refused: by their maker's margin; expired: removed after a glance).\n\n\
         | instruction | {} | {} | {} | each refused order |\n| --- | ---: | ---: | ---: | ---: |\n",
        label(&fewest.orders),
        label(&some.orders),
        label(&most.orders)
    );
    for (name, pick) in
        [("PlaceOrder", (|s: &Stale| &s.place) as fn(&Stale) -> &Worst), ("LiquidateAgainstBook", |s| &s.book)]
    {
        let refused = (some.orders.refused - fewest.orders.refused).max(1) as u64;
        let each = pick(some).units.saturating_sub(pick(fewest).units) / refused;
        out.push_str(&format!(
            "| `{name}` | {} | {} | {} | {} |\n",
            measured(pick(fewest)),
            measured(pick(some)),
            measured(pick(most)),
            thousands(each)
        ));
    }
    out.push_str(&format!(
        "\nA matching instruction stops after {} margin refusals or {} removals in all, keeping what it removed \
         (a limit order still crossing then is not rested: `CANCEL_REASON_MATCH_BUDGET`), so stale orders at \
         the top are cleared over calls instead of making any one call run out of compute.\n\n",
        bulwark::constants::MAX_MARGIN_REFUSALS_PER_ORDER,
        bulwark::constants::MAX_STALE_REMOVALS_PER_ORDER
    ));
    out
}

/// The workspace: the tests crate's parent directory.
fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("the tests crate lies in the workspace").to_path_buf()
}

/// `CARGO_TARGET_DIR` (relative to the workspace when relative), else the workspace's `target`.
fn target_dir() -> PathBuf {
    let workspace = workspace();
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace.join(dir)
            }
        }
        _ => workspace.join("target"),
    }
}

#[tokio::test]
async fn every_instruction_fits_its_compute_budget_in_its_worst_case() {
    let build = ProgramBuild::from_env().unwrap_or_else(|e| panic!("{e}"));
    if matches!(build, ProgramBuild::Native) {
        println!("compute budgets: compute units are measured on the SBF build only (set BULWARK_SO); skipped");
        return;
    }
    let started = std::time::Instant::now();
    let mut ledger = Ledger::default();
    ledger.merge(trading(STALE_ORDERS).await);
    ledger.merge(liquidations(STALE_ORDERS).await);
    ledger.merge(deleveraging(false).await);
    ledger.merge(deleveraging(true).await);
    ledger.merge(deleveraging_rounds().await);
    ledger.merge(book_and_administration().await);
    // The two matching instructions again with fewer stale orders in front: what each costs.
    let mut matching = Vec::new();
    let none = StaleOrders { refused: 0, expired: 0 };
    for orders in [none, StaleOrders { expired: 0, ..STALE_ORDERS }] {
        let place = trading(orders).await.worst.remove("PlaceOrder").expect("measured");
        let book = liquidations(orders).await.worst.remove("LiquidateAgainstBook").expect("measured");
        matching.push(Stale { orders, place, book });
    }
    matching.push(Stale {
        orders: STALE_ORDERS,
        place: ledger.worst.get("PlaceOrder").cloned().expect("measured"),
        book: ledger.worst.get("LiquidateAgainstBook").cloned().expect("measured"),
    });

    let doc = report(&ledger, &matching);
    println!("{doc}");
    println!("compute budgets: {} instructions measured in {} s", ledger.worst.len(), started.elapsed().as_secs());
    let path = if std::env::var("BULWARK_WRITE_COMPUTE_DOC").as_deref() == Ok("1") {
        workspace().join("docs/compute.md")
    } else {
        target_dir().join("compute.md")
    };
    std::fs::create_dir_all(path.parent().expect("a parent directory")).expect("create the report's directory");
    std::fs::write(&path, &doc).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    println!("compute budgets: wrote {}", path.display());

    let mut failures = Vec::new();
    for &(name, _) in BUDGETS {
        if !ledger.worst.contains_key(name) {
            failures.push(format!("{name}: never measured"));
        }
    }
    for (name, w) in &ledger.worst {
        let ran_out = if w.exhausted { " (ran out of compute at the transaction maximum)" } else { "" };
        match budget(name) {
            None => failures.push(format!("{name}: measured but has no budget")),
            Some(limit) if w.exhausted => failures.push(format!(
                "{name}: ran out of compute at {} CU, the transaction maximum, so beyond its {} CU budget: {}",
                thousands(w.units),
                thousands(limit as u64),
                w.case
            )),
            Some(limit) if w.units > limit as u64 => failures.push(format!(
                "{name}: {} CU, over its {} CU budget: {}",
                thousands(w.units),
                thousands(limit as u64),
                w.case
            )),
            Some(_) => {}
        }
        if w.units > GOAL_CU as u64 {
            failures.push(format!(
                "{name}: {} CU, {} CU over the {} CU goal{ran_out}",
                measured(w),
                over_goal(w),
                thousands(GOAL_CU as u64)
            ));
        }
    }
    assert!(failures.is_empty(), "compute budgets:\n{}", failures.join("\n"));
}
