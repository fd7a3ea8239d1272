//! Prices off-chain through the program's own oracle readers: a fetched feed is wrapped in an
//! `AccountInfo` and read by `bulwark::oracle` and `bulwark::controller` exactly as on chain,
//! with the same owner checks and guards.

use anchor_lang::prelude::{AccountInfo, Clock, Pubkey, Result};
use bulwark::controller::collateral_oracle::{read_collateral_price, CollateralFeeds};
use bulwark::controller::pricing::{self, CollateralQuote, CollateralUse, MarketPrice};
use bulwark::math::oracle::{OracleTolerance, PriceRule};
use bulwark::state::{Clearinghouse, Market, COLLATERAL_MODE_MARKET, ORACLE_SOURCE_FIXED};

/// A fetched account as the readers need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedAccount {
    pub key: Pubkey,
    pub owner: Pubkey,
    pub data: Vec<u8>,
}

fn with_info<R>(feed: &FeedAccount, f: impl FnOnce(&AccountInfo) -> R) -> R {
    let (key, owner) = (feed.key, feed.owner);
    let mut data = feed.data.clone();
    let mut lamports = 0u64;
    let info = AccountInfo::new(&key, false, false, &mut lamports, &mut data, &owner, false);
    f(&info)
}

/// The collateral's USD price as `refresh_collateral_price` would record it now (the crank
/// sends that refresh first), or the fixed price: the market-derived price, or the fallback
/// (soft floor, last good) the refresh would record. `feeds` holds whichever configured feeds
/// were fetched; a missing one fails as it would on chain.
pub fn collateral_price(clearinghouse: &Clearinghouse, feeds: &[FeedAccount], clock: &Clock) -> Result<i64> {
    collateral_quote(clearinghouse, feeds, clock, CollateralUse::RiskReducing).map(|q| q.price)
}

/// The collateral price an action of kind `usage` would see after a refresh in the same slot,
/// band included, as the program computes it (`pricing::collateral_quote` on the state the
/// refresh would record). A risk-raising action on a fallback fails with
/// `CollateralPriceFallback`, as on chain.
pub fn collateral_quote(
    clearinghouse: &Clearinghouse,
    feeds: &[FeedAccount],
    clock: &Clock,
    usage: CollateralUse,
) -> Result<CollateralQuote> {
    let config = clearinghouse.collateral_oracle;
    if config.mode == COLLATERAL_MODE_MARKET && config.market.source == ORACLE_SOURCE_FIXED {
        return pricing::collateral_quote(clearinghouse, clock, usage);
    }
    let wanted = [config.market.feed, config.redemption_rate_feed, config.redemption_health_feed];
    let mut store: Vec<(Pubkey, Pubkey, Vec<u8>, u64, bool)> = wanted
        .iter()
        .map(|k| match feeds.iter().find(|f| f.key == *k && *k != Pubkey::default()) {
            Some(f) => (f.key, f.owner, f.data.clone(), 0, true),
            None => (*k, Pubkey::default(), Vec::new(), 0, false),
        })
        .collect();
    let infos: Vec<Option<AccountInfo>> = store
        .iter_mut()
        .map(|(k, owner, data, lamports, present)| {
            present.then(|| AccountInfo::new(k, false, false, lamports, data, owner, false))
        })
        .collect();
    let feeds = CollateralFeeds {
        market: infos[0].as_ref(),
        redemption_rate: infos[1].as_ref(),
        redemption_health: infos[2].as_ref(),
    };
    let (_, state) = read_collateral_price(clearinghouse, feeds, clock, OracleTolerance::STRICT)?;
    let mut refreshed = *clearinghouse;
    refreshed.collateral_oracle_state = state;
    pricing::collateral_quote(&refreshed, clock, usage)
}

/// A market's oracle price in collateral, validated with `tolerance`, as the program computes it.
pub fn market_price(
    market: &Market,
    feed: &FeedAccount,
    collateral_usd: i64,
    clock: &Clock,
    tolerance: OracleTolerance,
) -> Result<MarketPrice> {
    let price = with_info(feed, |info| pricing::market_price(market, info, collateral_usd, clock, tolerance))?;
    Ok(MarketPrice::new(market, price))
}

/// A market's price under `rule` (the relaxed rule liquidations and ADL use for the markets
/// they do not act on) with its band, as the program computes it; read it with
/// `health::health_for_liquidation` for the account judged and `health::health` for the others.
pub fn market_price_under(
    market: &Market,
    feed: &FeedAccount,
    collateral: CollateralQuote,
    clock: &Clock,
    rule: PriceRule,
) -> Result<MarketPrice> {
    let band = with_info(feed, |info| pricing::market_price_under(market, info, collateral, clock, rule))?;
    Ok(MarketPrice::banded(market, band))
}
