//! One scan's view of a clearinghouse: decoded accounts and every market's oracle price, read
//! through the program's own oracle and health code.

use crate::accounts::{decode_all, AccountFilter, ProgramAccount};
use crate::chain::{Chain, ChainError, ChainResult};
use crate::ix::{matching_remaining, ClearinghouseKeys, MakerMarkets, MarketKeys};
use crate::oracle::FeedAccount;
use anchor_lang::prelude::{Clock, Pubkey};
use bulwark::controller::pricing::MarketPrice;
use bulwark::math::margin::Health;
use bulwark::math::oracle::OracleTolerance;
use bulwark::state::{AdlRound, Clearinghouse, MarginAccount, Market, OrderBook, ORACLE_SOURCE_FIXED};

/// A market with its book and, when its oracle passes the strict guards, its price.
#[derive(Clone)]
pub struct MarketView {
    pub keys: MarketKeys,
    pub market: Market,
    pub book: Option<OrderBook>,
    /// `None`: the feed is missing, stale, wide or jumpy; nothing priced in it is cranked.
    pub price: Option<MarketPrice>,
}

#[derive(Clone)]
pub struct Snapshot {
    pub clock: Clock,
    pub keys: ClearinghouseKeys,
    pub clearinghouse: Clearinghouse,
    pub markets: Vec<MarketView>,
    pub accounts: Vec<(Pubkey, MarginAccount)>,
    /// Open ADL rounds.
    pub adl_rounds: Vec<(Pubkey, AdlRound)>,
}

impl Snapshot {
    /// Read everything one scan needs: three getProgramAccounts (markets, margin accounts, ADL
    /// rounds) and one getMultipleAccounts (clearinghouse, clock, books, feeds).
    pub async fn load<C: Chain>(chain: &C, clearinghouse: &Pubkey) -> ChainResult<Self> {
        let raw_markets = chain.program_accounts(&AccountFilter::markets(clearinghouse)).await?;
        let raw_accounts = chain.program_accounts(&AccountFilter::margin_accounts(clearinghouse)).await?;
        let raw_rounds = chain.program_accounts(&AccountFilter::adl_rounds(clearinghouse)).await?;
        let mut accounts: Vec<(Pubkey, MarginAccount)> = decode_all(&raw_accounts);
        accounts.sort_by(|a, b| a.0.cmp(&b.0));
        let mut rounds = decode_all(&raw_rounds);
        Self::assemble(chain, clearinghouse, decode_all(&raw_markets), &mut accounts, &mut rounds).await
    }

    /// Bring the snapshot up to date after a transaction of one's own landed, without a full
    /// scan: re-read the accounts it may have written (`touched`), the markets, what `load`
    /// reads by key (clearinghouse, clock, books, feeds, so prices are current), and the margin
    /// accounts of every maker resting in a book (matching needs their markets). A re-read
    /// margin account or ADL round is replaced, added, or dropped when gone. Whatever else others
    /// changed meanwhile waits for the next `load`. On an error the snapshot is left as it was.
    pub async fn refresh<C: Chain>(&mut self, chain: &C, touched: &[Pubkey]) -> ChainResult<()> {
        let market_keys: Vec<Pubkey> = self.markets.iter().map(|m| m.keys.key).collect();
        let keys: Vec<Pubkey> = market_keys.iter().chain(touched).copied().collect();
        let fetched = chain.accounts(&keys).await?;
        let markets: Vec<(Pubkey, Market)> = market_keys
            .iter()
            .zip(&fetched)
            .filter_map(|(key, raw)| ours(raw).and_then(|d| Market::decode(d).ok()).map(|m| (*key, m)))
            .collect();
        let clearinghouse = self.keys.key;
        // Moved, not copied (thousands of accounts); put back if the reads below fail.
        let mut accounts = std::mem::take(&mut self.accounts);
        let mut rounds = std::mem::take(&mut self.adl_rounds);
        for (key, raw) in touched.iter().zip(&fetched[market_keys.len()..]) {
            upsert(&mut accounts, &mut rounds, &clearinghouse, key, ours(raw));
        }
        let assembled = Self::assemble(chain, &clearinghouse, markets, &mut accounts, &mut rounds).await;
        let mut fresh = match assembled {
            Ok(fresh) => fresh,
            Err(e) => {
                self.accounts = accounts;
                self.adl_rounds = rounds;
                return Err(e);
            }
        };
        let mut makers: Vec<Pubkey> = fresh
            .markets
            .iter()
            .filter_map(|m| m.book.as_ref())
            .flat_map(|b| [0u8, 1].into_iter().flat_map(move |side| b.orders(side).iter().map(|o| o.maker)))
            .filter(|k| !touched.contains(k))
            .collect();
        makers.sort_unstable();
        makers.dedup();
        let read = chain.accounts(&makers).await;
        if let Ok(read) = &read {
            for (key, raw) in makers.iter().zip(read) {
                upsert(&mut fresh.accounts, &mut fresh.adl_rounds, &clearinghouse, key, ours(raw));
            }
        }
        *self = fresh;
        read.map(|_| ())
    }

    /// Read the clearinghouse, clock, books and feeds, and price every market; `accounts` and
    /// `adl_rounds` are moved into the snapshot only when every read succeeded.
    async fn assemble<C: Chain>(
        chain: &C,
        clearinghouse: &Pubkey,
        markets: Vec<(Pubkey, Market)>,
        accounts: &mut Vec<(Pubkey, MarginAccount)>,
        adl_rounds: &mut Vec<(Pubkey, AdlRound)>,
    ) -> ChainResult<Self> {
        let ch_data = chain.accounts(&[*clearinghouse, crate::chain::CLOCK_SYSVAR_ID]).await?;
        let ch = ch_data[0]
            .as_ref()
            .filter(|a| a.owner == bulwark::ID)
            .and_then(|a| Clearinghouse::decode(&a.data).ok())
            .ok_or_else(|| ChainError::Transport(format!("clearinghouse {clearinghouse} not found")))?;
        let clock = ch_data[1]
            .as_ref()
            .and_then(|a| crate::chain::decode_clock(&a.data))
            .ok_or_else(|| ChainError::Transport("clock sysvar unreadable".into()))?;

        let config = ch.collateral_oracle;
        let mut keys: Vec<Pubkey> =
            vec![config.market.feed, config.redemption_rate_feed, config.redemption_health_feed];
        for (_, m) in &markets {
            keys.push(m.order_book);
            keys.push(m.oracle.feed);
        }
        let fetched = chain.accounts(&keys).await?;
        let feed =
            |i: usize| fetched[i].as_ref().map(|a| FeedAccount { key: keys[i], owner: a.owner, data: a.data.clone() });
        let collateral_feeds: Vec<FeedAccount> = (0..3).filter_map(feed).collect();
        let collateral_usd = crate::oracle::collateral_price(&ch, &collateral_feeds, &clock).ok();

        let views = markets
            .iter()
            .enumerate()
            .map(|(i, (key, market))| {
                let book = fetched[3 + 2 * i].as_ref().and_then(|a| OrderBook::decode(&a.data).ok());
                let feed_account = if market.oracle.source == ORACLE_SOURCE_FIXED {
                    Some(FeedAccount { key: Pubkey::default(), owner: Pubkey::default(), data: vec![] })
                } else {
                    feed(4 + 2 * i)
                };
                let price = match (collateral_usd, feed_account) {
                    (Some(usd), Some(f)) => {
                        crate::oracle::market_price(market, &f, usd, &clock, OracleTolerance::STRICT).ok()
                    }
                    _ => None,
                };
                MarketView { keys: MarketKeys::of(*key, market), market: *market, book, price }
            })
            .collect();
        Ok(Self {
            clock,
            keys: ClearinghouseKeys {
                key: *clearinghouse,
                collateral_vault: ch.collateral_vault,
                insurance_vault: ch.insurance_vault,
            },
            clearinghouse: ch,
            markets: views,
            accounts: std::mem::take(accounts),
            adl_rounds: std::mem::take(adl_rounds),
        })
    }

    /// Every market's price, where known.
    pub fn prices(&self) -> Vec<MarketPrice> {
        self.markets.iter().filter_map(|m| m.price).collect()
    }

    pub fn market(&self, index: u16) -> Option<&MarketView> {
        self.markets.iter().find(|m| m.market.index == index)
    }

    /// `target`'s open ADL round in market `index`, if any.
    pub fn adl_round(&self, index: u16, target: &Pubkey) -> Option<&AdlRound> {
        let market = self.market(index)?.keys.key;
        self.adl_rounds.iter().find(|(_, r)| r.market == market && r.target == *target).map(|(_, r)| r)
    }

    pub fn account(&self, key: &Pubkey) -> Option<&MarginAccount> {
        // `load` sorts the accounts by key; a snapshot built otherwise falls back to a scan.
        match self.accounts.binary_search_by(|(k, _)| k.cmp(key)) {
            Ok(i) => Some(&self.accounts[i].1),
            Err(_) => self.accounts.iter().find(|(k, _)| k == key).map(|(_, a)| a),
        }
    }

    /// The markets `key`'s margin account holds (position slots, in slot order); empty when it
    /// has no account in the snapshot.
    pub fn markets_of(&self, key: &Pubkey) -> Vec<u16> {
        self.markets_of_known(key).unwrap_or_default()
    }

    /// Remaining accounts for `taker`'s matching instruction on `market_index` against `makers`
    /// (book order): `ix::matching_remaining` with every account's markets from this snapshot.
    /// A maker missing from the snapshot ends the list (its markets are unknown).
    pub fn matching_remaining(&self, market_index: u16, taker: &Pubkey, makers: &[Pubkey]) -> Option<Vec<Pubkey>> {
        let known: Vec<MakerMarkets> = makers
            .iter()
            .map_while(|key| Some(MakerMarkets { margin_account: *key, markets: self.markets_of_known(key)? }))
            .collect();
        matching_remaining(market_index, &self.markets_of(taker), &known, |index| self.market(index).map(|m| m.keys))
    }

    fn markets_of_known(&self, key: &Pubkey) -> Option<Vec<u16>> {
        self.account(key).map(|a| a.open_positions().map(|p| p.market_index).collect())
    }
}

/// The data of a Bulwark-owned account.
fn ours(raw: &Option<crate::chain::RawAccount>) -> Option<&[u8]> {
    raw.as_ref().filter(|a| a.owner == bulwark::ID).map(|a| a.data.as_slice())
}

/// Put what was read at `key` into `accounts` (sorted by key) or `rounds`: replaced, added, or
/// removed when it is no longer one of this clearinghouse's.
fn upsert(
    accounts: &mut Vec<(Pubkey, MarginAccount)>,
    rounds: &mut Vec<(Pubkey, AdlRound)>,
    clearinghouse: &Pubkey,
    key: &Pubkey,
    data: Option<&[u8]>,
) {
    debug_assert!(accounts.windows(2).all(|w| w[0].0 < w[1].0), "accounts sorted by key");
    let account = data.and_then(|d| MarginAccount::decode(d).ok()).filter(|a| a.clearinghouse == *clearinghouse);
    match (accounts.binary_search_by(|(k, _)| k.cmp(key)), account) {
        (Ok(i), Some(a)) => accounts[i].1 = a,
        (Ok(i), None) => {
            accounts.remove(i);
        }
        (Err(i), Some(a)) => accounts.insert(i, (*key, a)),
        (Err(_), None) => {}
    }
    let round = data.and_then(|d| AdlRound::decode(d).ok()).filter(|r| r.clearinghouse == *clearinghouse);
    match (rounds.iter().position(|(k, _)| k == key), round) {
        (Some(i), Some(r)) => rounds[i].1 = r,
        (Some(i), None) => {
            rounds.remove(i);
        }
        (None, Some(r)) => rounds.push((*key, r)),
        (None, None) => {}
    }
}

/// Health when every market the account holds is priced; `None` otherwise.
pub fn health(account: &MarginAccount, prices: &[MarketPrice]) -> Option<Health> {
    crate::health::health(account, prices).ok()
}
