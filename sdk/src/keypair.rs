//! Solana CLI keypair files: a JSON array of the 64 secret-and-public bytes.

use std::path::Path;

use solana_keypair::Keypair;

#[derive(Debug, thiserror::Error)]
pub enum KeypairFileError {
    #[error("reading keypair {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("keypair {path}: not a JSON array of 64 bytes")]
    Malformed { path: String },
}

/// The Solana CLI's default keypair, `~/.config/solana/id.json`.
pub fn default_keypair_path() -> std::path::PathBuf {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from).unwrap_or_default();
    home.join(".config/solana/id.json")
}

pub fn read_keypair_file(path: &Path) -> Result<Keypair, KeypairFileError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| KeypairFileError::Io { path: path.display().to_string(), source })?;
    let malformed = || KeypairFileError::Malformed { path: path.display().to_string() };
    let bytes: Vec<u8> = text
        .trim()
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .ok_or_else(malformed)?
        .split(',')
        .map(|b| b.trim().parse::<u8>())
        .collect::<Result<_, _>>()
        .map_err(|_| malformed())?;
    Keypair::try_from(&bytes[..]).map_err(|_| malformed())
}

/// Write `keypair` to a new file at `path` (creating its directory; an existing file is
/// replaced), created readable by the owner only on Unix.
pub fn write_keypair_file(keypair: &Keypair, path: &Path) -> Result<(), KeypairFileError> {
    let io = |source| KeypairFileError::Io { path: path.display().to_string(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let bytes = keypair.to_bytes();
    let text = format!("[{}]", bytes.iter().map(u8::to_string).collect::<Vec<_>>().join(","));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        // An existing file keeps its mode when opened: tighten it before writing the secret.
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        }
    }
    use std::io::Write as _;
    options.open(path).and_then(|mut f| f.write_all(text.as_bytes())).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use solana_signer::Signer as _;

    #[test]
    fn keypair_files_round_trip_and_refuse_garbage() {
        let dir = std::env::temp_dir().join(format!("bulwark-keypair-{}", std::process::id()));
        let path = dir.join("id.json");
        let keypair = Keypair::new();
        write_keypair_file(&keypair, &path).unwrap();
        assert_eq!(read_keypair_file(&path).unwrap().pubkey(), keypair.pubkey());
        std::fs::write(&path, "[1,2,3]").unwrap();
        assert!(matches!(read_keypair_file(&path), Err(KeypairFileError::Malformed { .. })));
        assert!(matches!(read_keypair_file(&dir.join("missing.json")), Err(KeypairFileError::Io { .. })));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
