//! Names for markets and feeds. The chain stores neither a market's symbol nor a feed's name
//! (a market has an index, a feed an id), so names come from the deployment file
//! `bulwark-migrate --out` writes: `--deployment PATH`, `BULWARK_DEPLOYMENT`, or the config
//! file's `deployment` key. Without one, markets are named by index and feeds by address.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anchor_lang::prelude::Pubkey;
use anyhow::{anyhow, bail, Result};
use serde::Deserialize;

/// Where to point a user who needs names and has none.
pub const HOW_TO_NAME: &str = "pass --deployment <FILE> (the JSON `bulwark-migrate --out` wrote), set \
     BULWARK_DEPLOYMENT, or run `bulwark config set --set-deployment <FILE>`";

/// The parts of `bulwark-migrate --out`'s JSON the CLI reads (the rest is ignored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deployment {
    pub path: PathBuf,
    pub clearinghouse: Pubkey,
    /// Feed name → address.
    pub feeds: BTreeMap<String, Pubkey>,
    pub markets: Vec<NamedMarket>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedMarket {
    pub index: u16,
    pub name: String,
    pub market: Pubkey,
}

#[derive(Deserialize)]
struct RawDeployment {
    clearinghouse: String,
    #[serde(default)]
    feeds: BTreeMap<String, String>,
    #[serde(default)]
    markets: Vec<RawMarket>,
}

#[derive(Deserialize)]
struct RawMarket {
    index: u16,
    name: String,
    market: String,
}

fn address(path: &Path, what: &str, text: &str) -> Result<Pubkey> {
    text.parse().map_err(|_| anyhow!("the deployment file {}: {what} {text:?} is not an address", path.display()))
}

impl Deployment {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow!(
                "cannot read the deployment file {} ({e}): write it with `bulwark-migrate <TOML> --out {}`, or fix \
                 --deployment / BULWARK_DEPLOYMENT / the config's `deployment`",
                path.display(),
                path.display()
            )
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let raw: RawDeployment = serde_json::from_str(text)
            .map_err(|e| anyhow!("{} is not a deployment file from `bulwark-migrate --out` ({e})", path.display()))?;
        let feeds = raw
            .feeds
            .iter()
            .map(|(name, key)| Ok((name.clone(), address(path, "feed", key)?)))
            .collect::<Result<_>>()?;
        let markets = raw
            .markets
            .iter()
            .map(|m| {
                Ok(NamedMarket { index: m.index, name: m.name.clone(), market: address(path, "market", &m.market)? })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            path: path.to_path_buf(),
            clearinghouse: address(path, "clearinghouse", &raw.clearinghouse)?,
            feeds,
            markets,
        })
    }
}

/// The names in force for one clearinghouse: a deployment's, when it describes that
/// clearinghouse.
#[derive(Clone, Debug, Default)]
pub struct Names {
    deployment: Option<Deployment>,
    /// A deployment was given but describes another clearinghouse.
    mismatch: Option<(PathBuf, Pubkey)>,
    /// A deployment was named but could not be read: why.
    unreadable: Option<String>,
}

impl Names {
    pub fn new(deployment: Option<Deployment>, clearinghouse: Option<&Pubkey>) -> Self {
        match (deployment, clearinghouse) {
            (Some(d), Some(ch)) if d.clearinghouse != *ch => {
                Self { deployment: None, mismatch: Some((d.path.clone(), d.clearinghouse)), unreadable: None }
            }
            (deployment, _) => Self { deployment, mismatch: None, unreadable: None },
        }
    }

    /// No names, because the deployment file named could not be read (`why`): commands that
    /// need no names go on; naming a market or feed says why there are none.
    pub fn unreadable(why: String) -> Self {
        Self { deployment: None, mismatch: None, unreadable: Some(why) }
    }

    fn why_none(&self) -> String {
        match &self.mismatch {
            Some((path, other)) => format!(
                "the deployment file {} describes clearinghouse {other}, not the one in use: pass the matching \
                 --deployment, or drop --clearinghouse to use the file's",
                path.display()
            ),
            None => match &self.unreadable {
                Some(why) => why.clone(),
                None => format!("none is set: {HOW_TO_NAME}"),
            },
        }
    }

    /// A market's symbol, when known.
    pub fn symbol(&self, index: u16) -> Option<&str> {
        self.deployment.as_ref()?.markets.iter().find(|m| m.index == index).map(|m| m.name.as_str())
    }

    /// The symbol, or `#index` when there is none.
    pub fn market_label(&self, index: u16) -> String {
        self.symbol(index).map_or_else(|| format!("#{index}"), str::to_string)
    }

    /// `0` or `BTC-PERP` (case-insensitive) as a market index.
    pub fn market_index(&self, text: &str) -> Result<u16> {
        let text = text.trim();
        if let Ok(index) = text.parse::<u16>() {
            return Ok(index);
        }
        if text.is_empty() {
            bail!("--market is empty: name a market by symbol (BTC-PERP) or index (0); `bulwark markets` lists them");
        }
        let Some(d) = &self.deployment else {
            bail!("unknown market {text:?}: market symbols come from a deployment file, and {}", self.why_none());
        };
        match d.markets.iter().find(|m| m.name.eq_ignore_ascii_case(text)) {
            Some(m) => Ok(m.index),
            None => {
                let known: Vec<&str> = d.markets.iter().map(|m| m.name.as_str()).collect();
                bail!(
                    "unknown market {text:?}: {} lists {}; or use the market's index (`bulwark markets`)",
                    d.path.display(),
                    if known.is_empty() { "no markets".to_string() } else { known.join(", ") }
                )
            }
        }
    }

    /// A feed by address or by name (`btc-usd`, case-insensitive).
    pub fn feed(&self, text: &str) -> Result<Pubkey> {
        let text = text.trim();
        if let Ok(key) = text.parse::<Pubkey>() {
            return Ok(key);
        }
        let Some(d) = &self.deployment else {
            bail!("{text:?} is not a feed address; feed names come from a deployment file, and {}", self.why_none());
        };
        match d.feeds.iter().find(|(name, _)| name.eq_ignore_ascii_case(text)) {
            Some((_, key)) => Ok(*key),
            None => {
                let known: Vec<&str> = d.feeds.keys().map(String::as_str).collect();
                bail!(
                    "unknown feed {text:?}: {} names {}; or pass the feed's address",
                    d.path.display(),
                    if known.is_empty() { "no feeds".to_string() } else { known.join(", ") }
                )
            }
        }
    }

    /// A feed's name, when known.
    pub fn feed_name(&self, key: &Pubkey) -> Option<&str> {
        self.deployment.as_ref()?.feeds.iter().find(|(_, k)| *k == key).map(|(n, _)| n.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment() -> Deployment {
        let ch = Pubkey::new_from_array([1; 32]);
        let text = serde_json::json!({
            "program": "x",
            "clearinghouse": ch.to_string(),
            "feeds": { "btc-usd": Pubkey::new_from_array([2; 32]).to_string() },
            "markets": [{ "index": 0, "name": "BTC-PERP", "market": Pubkey::new_from_array([3; 32]).to_string(),
                          "order_book": "y", "oracle": "z", "active": true }],
            "actions": [],
        })
        .to_string();
        Deployment::parse(Path::new("deployment.json"), &text).unwrap()
    }

    #[test]
    fn markets_and_feeds_resolve_by_name_or_number() {
        let d = deployment();
        let ch = d.clearinghouse;
        let names = Names::new(Some(d), Some(&ch));
        assert_eq!(names.market_index("0").unwrap(), 0);
        assert_eq!(names.market_index("btc-perp").unwrap(), 0);
        assert_eq!(names.market_label(0), "BTC-PERP");
        assert_eq!(names.market_label(4), "#4");
        let err = names.market_index("ETH-PERP").unwrap_err().to_string();
        assert!(err.contains("unknown market \"ETH-PERP\"") && err.contains("lists BTC-PERP"), "{err}");
        let feed = Pubkey::new_from_array([2; 32]);
        assert_eq!(names.feed("BTC-USD").unwrap(), feed);
        assert_eq!(names.feed(&feed.to_string()).unwrap(), feed);
        assert_eq!(names.feed_name(&feed), Some("btc-usd"));
        assert!(names.feed("eth-usd").unwrap_err().to_string().contains("names btc-usd"));
    }

    #[test]
    fn without_a_matching_deployment_names_say_what_to_do() {
        let none = Names::new(None, None);
        assert_eq!(none.market_index("3").unwrap(), 3);
        let err = none.market_index("BTC-PERP").unwrap_err().to_string();
        assert!(err.contains("--deployment") && err.contains("bulwark-migrate --out"), "{err}");
        let other = Names::new(Some(deployment()), Some(&Pubkey::new_from_array([9; 32])));
        assert_eq!(other.symbol(0), None);
        assert!(other.feed("btc-usd").unwrap_err().to_string().contains("describes clearinghouse"));
        let bad = Deployment::parse(Path::new("d.json"), "{}").unwrap_err().to_string();
        assert!(bad.contains("is not a deployment file"), "{bad}");
    }
}
