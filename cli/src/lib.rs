//! The `bulwark` command line's configuration (where the cluster is, which keypair signs,
//! which clearinghouse to use, which deployment file names markets and feeds), and its pure
//! parts: error sentences, names, number input and order outcomes. Flags and environment
//! variables override the config file.

pub mod explain;
pub mod input;
pub mod names;
pub mod outcome;

use std::path::{Path, PathBuf};

use anchor_lang::prelude::Pubkey;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

pub const DEFAULT_URL: &str = "http://127.0.0.1:8899";

/// The config file (`~/.config/bulwark/cli.toml` unless `--config` says otherwise).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CliConfig {
    pub url: Option<String>,
    pub keypair: Option<PathBuf>,
    pub clearinghouse: Option<String>,
    /// `bulwark-migrate --out`'s JSON: market symbols and feed names, and the clearinghouse
    /// when none is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<PathBuf>,
}

impl CliConfig {
    pub fn default_path() -> PathBuf {
        home().join(".config/bulwark/cli.toml")
    }

    /// The file's settings, or none when it does not exist yet.
    pub fn load(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| {
                let line =
                    e.span().and_then(|span| text.get(..span.start)).map(|before| before.matches('\n').count() + 1);
                anyhow::anyhow!(
                    "the config file {} is not valid{}: {} — fix it, or rewrite it with `bulwark config set`",
                    path.display(),
                    line.map(|l| format!(" (line {l})")).unwrap_or_default(),
                    e.message().trim()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(path, toml::to_string(self)?).with_context(|| format!("writing {}", path.display()))
    }

    /// Overlay `overrides` (flags and environment) on the file.
    pub fn merged(&self, overrides: &CliConfig) -> CliConfig {
        CliConfig {
            url: overrides.url.clone().or_else(|| self.url.clone()),
            keypair: overrides.keypair.clone().or_else(|| self.keypair.clone()),
            clearinghouse: overrides.clearinghouse.clone().or_else(|| self.clearinghouse.clone()),
            deployment: overrides.deployment.clone().or_else(|| self.deployment.clone()),
        }
    }

    pub fn url(&self) -> String {
        self.url.clone().unwrap_or_else(|| DEFAULT_URL.to_string())
    }

    pub fn keypair_path(&self) -> PathBuf {
        self.keypair.clone().unwrap_or_else(bulwark_sdk::keypair::default_keypair_path)
    }

    /// The deployment file named, read.
    pub fn deployment(&self) -> Result<Option<names::Deployment>> {
        self.deployment.as_deref().map(names::Deployment::load).transpose()
    }

    /// The clearinghouse set, else the deployment file's.
    pub fn clearinghouse(&self) -> Result<Pubkey> {
        if let Some(text) = self.clearinghouse.as_deref() {
            return text.parse().map_err(|_| {
                anyhow::anyhow!(
                    "clearinghouse {text:?} is not an address: fix --clearinghouse, BULWARK_CLEARINGHOUSE or the \
                     config's `clearinghouse`"
                )
            });
        }
        match self.deployment()? {
            Some(d) => Ok(d.clearinghouse),
            None => anyhow::bail!(
                "no clearinghouse: pass --clearinghouse, set BULWARK_CLEARINGHOUSE, run `bulwark config set \
                 --set-clearinghouse <ADDRESS>`, or name the deployment file `bulwark-migrate --out` wrote \
                 (--deployment, `bulwark config set --set-deployment <FILE>`)"
            ),
        }
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_and_defaults_fill_the_rest() {
        let file = CliConfig {
            url: Some("http://file".into()),
            keypair: Some("file.json".into()),
            clearinghouse: None,
            deployment: None,
        };
        let flags = CliConfig { url: Some("http://flag".into()), ..Default::default() };
        let merged = file.merged(&flags);
        assert_eq!(merged.url(), "http://flag");
        assert_eq!(merged.keypair_path(), PathBuf::from("file.json"));
        assert!(merged.clearinghouse().unwrap_err().to_string().contains("no clearinghouse"));
        assert_eq!(CliConfig::default().url(), DEFAULT_URL);
        let dir = std::env::temp_dir().join(format!("bulwark-cli-config-{}", std::process::id()));
        let path = dir.join("cli.toml");
        assert_eq!(CliConfig::load(&path).unwrap(), CliConfig::default());
        merged.save(&path).unwrap();
        assert_eq!(CliConfig::load(&path).unwrap(), merged);
        // A deployment file supplies the clearinghouse when none is set.
        let deployment = dir.join("deployment.json");
        let ch = Pubkey::new_unique();
        std::fs::write(&deployment, serde_json::json!({ "clearinghouse": ch.to_string() }).to_string()).unwrap();
        let with_file = CliConfig { deployment: Some(deployment.clone()), ..Default::default() };
        assert_eq!(with_file.clearinghouse().unwrap(), ch);
        with_file.save(&path).unwrap();
        assert_eq!(CliConfig::load(&path).unwrap().deployment, Some(deployment));
        std::fs::write(&path, "url = \"x\"\nurll = \"x\"").unwrap();
        let error = CliConfig::load(&path).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!(
                "the config file {} is not valid (line 2): unknown field `urll`",
                path.display()
            )),
            "{error}"
        );
        assert_eq!(error.lines().count(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
