//! Errors as one sentence each for the person at the terminal: what went wrong and what to do.
//! Program errors are named whichever program raised them (Bulwark, the Anchor framework, SPL
//! Token, the associated-token and system programs); node and faucet answers are translated.

use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::error::InstructionError;
use bulwark_sdk::chain::ChainError;
use bulwark_sdk::keypair::KeypairFileError;
use solana_transaction_error::TransactionError;

pub const TOKEN_PROGRAM: Pubkey = anchor_spl::token::ID;
pub const ASSOCIATED_TOKEN_PROGRAM: Pubkey = anchor_spl::associated_token::ID;
pub const SYSTEM_PROGRAM: Pubkey = anchor_lang::solana_program::system_program::ID;

/// How to fund a signer, said the same way everywhere.
pub const AIRDROP_HINT: &str = "`bulwark airdrop 1` on localnet/devnet";

/// What the messages may mention: the cluster and who signs.
#[derive(Clone, Copy, Debug)]
pub struct Situation<'a> {
    pub url: &'a str,
    pub signer: Option<&'a Pubkey>,
}

/// A custom error code raised by a program, named where the program is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramFailure {
    pub program: Pubkey,
    pub code: u32,
    pub name: Option<String>,
    pub message: Option<String>,
    /// The account Anchor blamed (`AnchorError caused by account: …`).
    pub account: Option<String>,
}

impl ProgramFailure {
    pub fn is(&self, program: &Pubkey, name: &str) -> bool {
        self.program == *program && self.name.as_deref() == Some(name)
    }

    /// `SPL Token error InsufficientFunds (1: insufficient funds)`.
    pub fn describe(&self) -> String {
        let program = if self.program == bulwark::ID && self.code < 6000 {
            "Anchor".to_string()
        } else {
            program_name(&self.program)
        };
        let mut text = match (&self.name, &self.message) {
            (Some(name), Some(message)) => format!("{program} error {name} ({}: {})", self.code, lower_first(message)),
            (Some(name), None) => format!("{program} error {name} ({})", self.code),
            _ => format!("{program} error {} (0x{:x})", self.code, self.code),
        };
        if let Some(account) = &self.account {
            text.push_str(&format!(" on account `{account}`"));
        }
        text
    }

    /// What to do about the common ones.
    pub fn hint(&self) -> Option<&'static str> {
        let token = |name| self.is(&TOKEN_PROGRAM, name);
        let framework = |name| self.program == bulwark::ID && self.code < 6000 && self.name.as_deref() == Some(name);
        Some(if token("InsufficientFunds") {
            "the wallet holds less collateral than this moves — `bulwark balance` shows it, and `bulwark \
             mint-collateral` adds some on a test cluster"
        } else if token("OwnerMismatch") {
            "the signer is not the owner or authority the token program expects — minting needs the mint \
             authority (on bulwark-localnet, the keypair that ran bulwark-migrate)"
        } else if token("UninitializedState") || framework("AccountNotInitialized") {
            "an account this needs does not exist yet — a wallet that never held collateral has no token account \
             (`bulwark mint-collateral` on a test cluster), a new trader has no margin account (`bulwark deposit` \
             creates it)"
        } else if framework("ConstraintSeeds") {
            "an account is not at the address the program derives — check --clearinghouse and --sub-account, and \
             that this CLI matches the deployed program"
        } else if framework("AccountOwnedByWrongProgram")
            || framework("AccountDiscriminatorMismatch")
            || framework("AccountDidNotDeserialize")
        {
            "an address passed is not the kind of account expected — check --clearinghouse and any address you \
             gave, or rerun the migrations if the node restarted"
        } else if framework("ConstraintHasOne") {
            "an account does not belong with the others passed (for a feed: the signer is not its authority)"
        } else if self.is(&SYSTEM_PROGRAM, "ResultWithNegativeLamports") {
            "the signer has too little SOL for the new account's rent — `bulwark airdrop 1` on localnet/devnet"
        } else {
            return None;
        })
    }
}

fn lower_first(text: &str) -> String {
    let text = text.trim().trim_end_matches('.');
    let mut chars = text.chars();
    match (chars.next(), chars.clone().next()) {
        // Keep acronyms ("ADL ...") as they are.
        (Some(first), Some(second)) if first.is_uppercase() && !second.is_uppercase() => {
            first.to_lowercase().chain(chars).collect()
        }
        _ => text.to_string(),
    }
}

pub fn program_name(program: &Pubkey) -> String {
    if *program == bulwark::ID {
        "Bulwark".into()
    } else if *program == TOKEN_PROGRAM {
        "SPL Token".into()
    } else if *program == ASSOCIATED_TOKEN_PROGRAM {
        "Associated Token".into()
    } else if *program == SYSTEM_PROGRAM {
        "System program".into()
    } else {
        format!("program {program}")
    }
}

/// The Anchor framework's own errors (codes below 6000), as the framework names them.
pub fn anchor_framework_error(code: u32) -> Option<(String, String)> {
    use anchor_lang::error::ErrorCode as E;
    #[rustfmt::skip]
    const ALL: &[E] = &[
        E::InstructionMissing, E::InstructionFallbackNotFound, E::InstructionDidNotDeserialize,
        E::InstructionDidNotSerialize, E::IdlInstructionStub, E::IdlInstructionInvalidProgram,
        E::IdlAccountNotEmpty, E::EventInstructionStub, E::ConstraintMut, E::ConstraintHasOne,
        E::ConstraintSigner, E::ConstraintRaw, E::ConstraintOwner, E::ConstraintRentExempt, E::ConstraintSeeds,
        E::ConstraintExecutable, E::ConstraintState, E::ConstraintAssociated, E::ConstraintAssociatedInit,
        E::ConstraintClose, E::ConstraintAddress, E::ConstraintZero, E::ConstraintTokenMint,
        E::ConstraintTokenOwner, E::ConstraintMintMintAuthority, E::ConstraintMintFreezeAuthority,
        E::ConstraintMintDecimals, E::ConstraintSpace, E::ConstraintAccountIsNone,
        E::ConstraintTokenTokenProgram, E::ConstraintMintTokenProgram, E::ConstraintAssociatedTokenTokenProgram,
        E::ConstraintDuplicateMutableAccount, E::RequireViolated, E::RequireEqViolated,
        E::RequireKeysEqViolated, E::RequireNeqViolated, E::RequireKeysNeqViolated, E::RequireGtViolated,
        E::RequireGteViolated, E::AccountDiscriminatorAlreadySet, E::AccountDiscriminatorNotFound,
        E::AccountDiscriminatorMismatch, E::AccountDidNotDeserialize, E::AccountDidNotSerialize,
        E::AccountNotEnoughKeys, E::AccountNotMutable, E::AccountOwnedByWrongProgram, E::InvalidProgramId,
        E::InvalidProgramExecutable, E::AccountNotSigner, E::AccountNotSystemOwned, E::AccountNotInitialized,
        E::AccountNotProgramData, E::AccountNotAssociatedTokenAccount, E::AccountSysvarMismatch,
        E::AccountReallocExceedsLimit, E::AccountDuplicateReallocs, E::DeclaredProgramIdMismatch,
        E::TryingToInitPayerAsProgramAccount, E::InvalidNumericConversion, E::Deprecated,
    ];
    ALL.iter().find(|e| u32::from(**e) == code).map(|e| (e.name(), e.to_string()))
}

/// A custom code by the program that raised it.
pub fn name_error(program: &Pubkey, code: u32) -> Option<(String, String)> {
    if *program == bulwark::ID {
        return match bulwark_sdk::errors::program_error(code) {
            Some(e) => Some((e.name.clone(), e.message.clone())),
            None => anchor_framework_error(code),
        };
    }
    if *program == TOKEN_PROGRAM {
        use anchor_spl::token::spl_token::error::TokenError;
        return TokenError::try_from(code).ok().map(|e| (format!("{e:?}"), e.to_string()));
    }
    if *program == ASSOCIATED_TOKEN_PROGRAM && code == 0 {
        return Some((
            "InvalidOwner".into(),
            "Associated token account owner does not match address derivation".into(),
        ));
    }
    if *program == SYSTEM_PROGRAM {
        const SYSTEM: &[(&str, &str)] = &[
            ("AccountAlreadyInUse", "an account with the same address already exists"),
            ("ResultWithNegativeLamports", "account does not have enough SOL to perform the operation"),
            ("InvalidProgramId", "cannot assign account to this program id"),
            ("InvalidAccountDataLength", "cannot allocate account data of this length"),
            ("MaxSeedLengthExceeded", "length of requested seed is too long"),
            ("AddressWithSeedMismatch", "provided address does not match addressed derived from seed"),
            ("NonceNoRecentBlockhashes", "advancing stored nonce requires a populated RecentBlockhashes sysvar"),
            ("NonceBlockhashNotExpired", "stored nonce is still in recent_blockhashes"),
            ("NonceUnexpectedBlockhashValue", "specified nonce does not match stored nonce"),
        ];
        return SYSTEM.get(code as usize).map(|(n, m)| (n.to_string(), m.to_string()));
    }
    None
}

/// The innermost program that failed, from `Program <id> failed: …` log lines (the first one
/// logged is the deepest).
pub fn failed_program(logs: &[String]) -> Option<Pubkey> {
    logs.iter().find_map(|line| {
        let rest = line.strip_prefix("Program ")?;
        let (id, tail) = rest.split_once(' ')?;
        tail.starts_with("failed").then(|| id.parse().ok()).flatten()
    })
}

/// Anchor's error log line: (account, name, number, message).
pub fn anchor_error_log(logs: &[String]) -> Option<(Option<String>, String, u32, String)> {
    logs.iter().find_map(|line| {
        let line = line.strip_prefix("Program log: ")?;
        if !line.starts_with("AnchorError") {
            return None;
        }
        let field = |label: &str| -> Option<String> {
            let start = line.find(label)? + label.len();
            let rest = &line[start..];
            let end = rest.find(". Error ").unwrap_or(rest.len());
            Some(rest[..end].trim_end_matches('.').to_string())
        };
        let account = field("caused by account: ").map(|a| a.split('.').next().unwrap_or_default().to_string());
        Some((account, field("Error Code: ")?, field("Error Number: ")?.parse().ok()?, field("Error Message: ")?))
    })
}

/// The failed instruction's custom error, named. `programs`: the transaction's instructions'
/// program ids, for when the logs do not say which program failed.
pub fn program_failure(err: &TransactionError, logs: &[String], programs: &[Pubkey]) -> Option<ProgramFailure> {
    let TransactionError::InstructionError(index, InstructionError::Custom(code)) = err else { return None };
    let program = failed_program(logs).or_else(|| programs.get(*index as usize).copied())?;
    let (mut name, mut message) = name_error(&program, *code).unzip();
    let mut account = None;
    if let Some((blamed, logged_name, number, logged_message)) = anchor_error_log(logs) {
        if number == *code {
            account = blamed;
            name = name.or(Some(logged_name));
            message = message.or(Some(logged_message));
        }
    }
    Some(ProgramFailure { program, code: *code, name, message, account })
}

/// The signer cannot pay.
pub fn no_sol(signer: Option<&Pubkey>) -> String {
    match signer {
        Some(s) => format!("the signer {s} has no SOL to pay fees: {AIRDROP_HINT}"),
        None => format!("the signer has no SOL to pay fees: {AIRDROP_HINT}"),
    }
}

/// The node could not be reached or answered nonsense.
pub fn transport(url: &str, detail: &str) -> String {
    const UNREACHABLE: [&str; 7] = [
        "Connection refused",
        "tcp connect error",
        "error sending request",
        "dns error",
        "No route to host",
        "Connection reset",
        "connection closed",
    ];
    // The HTTP client refuses to build a request for a URL it cannot use (no scheme, bad host).
    if detail.contains("builder error") || detail.contains("relative URL without a base") {
        format!(
            "{url:?} is not a usable RPC URL: give one like http://127.0.0.1:8899 (--url, BULWARK_RPC_URL or \
             `bulwark config set --set-url`)"
        )
    } else if UNREACHABLE.iter().any(|marker| detail.contains(marker)) {
        format!(
            "cannot reach {url}: is bulwark-localnet (or a validator) running? set the URL with --url or `bulwark \
             config set --set-url`"
        )
    } else {
        format!(
            "the node at {url} gave an answer the CLI cannot use ({detail}): check that --url is a Solana JSON-RPC \
             node"
        )
    }
}

/// One sentence for a failed read or transaction.
pub fn chain_error(error: &ChainError, programs: &[Pubkey], situation: &Situation) -> String {
    let url = situation.url;
    match error {
        ChainError::Transport(detail) => transport(url, detail),
        ChainError::Timeout(detail) => format!(
            "no answer from {url} in time ({detail}): a transaction may still land — check (`bulwark positions`, \
             `bulwark balance`) before running it again"
        ),
        ChainError::Rejected(detail) => format!("the node at {url} refused the request: {detail}"),
        ChainError::BlockhashExpired => {
            "the transaction expired before the cluster took it: nothing changed, run the command again".into()
        }
        ChainError::Transaction { err, logs } => transaction_error(err, logs, programs, situation),
    }
}

fn transaction_error(err: &TransactionError, logs: &[String], programs: &[Pubkey], situation: &Situation) -> String {
    let signer = situation.signer;
    let who = signer.map_or("the signer".to_string(), |s| format!("the signer {s}"));
    match err {
        TransactionError::AccountNotFound => no_sol(signer),
        TransactionError::InsufficientFundsForFee => format!("{who} has too little SOL to pay fees: {AIRDROP_HINT}"),
        TransactionError::InsufficientFundsForRent { .. } => {
            format!("{who} has too little SOL for the rent of the accounts this creates: {AIRDROP_HINT}")
        }
        TransactionError::InstructionError(index, inner) => match program_failure(err, logs, programs) {
            Some(failure) => match failure.hint() {
                Some(hint) => format!("the transaction failed with {}: {hint}", failure.describe()),
                None => format!("the transaction failed with {}", failure.describe()),
            },
            None => {
                let program = failed_program(logs).or_else(|| programs.get(*index as usize).copied());
                let by = program.map(|p| format!(" ({})", program_name(&p))).unwrap_or_default();
                if matches!(inner, InstructionError::InsufficientFunds) {
                    format!(
                        "the transaction failed in instruction {index}{by}: {who} has too little SOL: {AIRDROP_HINT}"
                    )
                } else {
                    format!("the transaction failed in instruction {index}{by}: {}", lower_first(&inner.to_string()))
                }
            }
        },
        other => format!("the transaction failed: {}", lower_first(&other.to_string())),
    }
}

/// The faucet's refusal (`requestAirdrop`'s JSON-RPC error).
pub fn airdrop_refused(url: &str, code: Option<i64>, message: &str) -> String {
    if let Some(end) = message.find("-lamport limit") {
        let digits: String = message[..end]
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if let Ok(limit) = digits.parse::<u64>() {
            let sol = bulwark_sdk::units::format_decimal(limit as i128, 9);
            return format!(
                "at most {sol} SOL per airdrop on bulwark-localnet: ask for {sol} or less (repeat the airdrop for more)"
            );
        }
    }
    let lower = message.to_lowercase();
    if code == Some(429)
        || ["rate limit", "airdrop limit", "too many requests", "run dry"].iter().any(|m| lower.contains(m))
    {
        return format!(
            "the faucet at {url} refused for now ({}): wait and try again, ask for less (devnet gives a few SOL at a \
             time), or use https://faucet.solana.com",
            message.trim_end_matches('.')
        );
    }
    if code == Some(-32601) {
        return format!(
            "{url} has no faucet (requestAirdrop is not offered, as on mainnet): fund the signer by a transfer"
        );
    }
    format!("the faucet at {url} refused the airdrop: {}", message.trim_end_matches('.'))
}

/// A keypair file that cannot be used.
pub fn keypair_error(path: &std::path::Path, error: &KeypairFileError) -> String {
    let path = path.display();
    match error {
        KeypairFileError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => format!(
            "no keypair file at {path}: create one with `bulwark keygen`, or pass --keypair <FILE> (or `bulwark config \
             set --set-keypair <FILE>`)"
        ),
        KeypairFileError::Io { source, .. } => format!("cannot read the keypair file {path}: {source}"),
        KeypairFileError::Malformed { .. } => format!(
            "{path} is not a keypair file (a JSON array of 64 bytes, as `bulwark keygen` or `solana-keygen new` write)"
        ),
    }
}

/// An error's chain as one line, leaving out any cause whose text is already said (anyhow's
/// `{:#}` repeats a source that the message above it already includes).
pub fn render(error: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        let text = text.trim();
        if text.is_empty() || out.contains(text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn custom(index: u8, code: u32) -> TransactionError {
        TransactionError::InstructionError(index, InstructionError::Custom(code))
    }

    fn situation(signer: &Pubkey) -> Situation<'_> {
        Situation { url: "http://127.0.0.1:8899", signer: Some(signer) }
    }

    #[test]
    fn token_errors_are_named_by_the_program_that_failed() {
        let signer = Pubkey::new_unique();
        let logs = vec![
            format!("Program {} invoke [1]", bulwark::ID),
            format!("Program {TOKEN_PROGRAM} invoke [2]"),
            "Program log: Error: insufficient funds".to_string(),
            format!("Program {TOKEN_PROGRAM} failed: custom program error: 0x1"),
            format!("Program {} failed: custom program error: 0x1", bulwark::ID),
        ];
        let error = ChainError::Transaction { err: custom(1, 1), logs };
        let text = chain_error(&error, &[SYSTEM_PROGRAM, bulwark::ID], &situation(&signer));
        assert_eq!(
            text,
            "the transaction failed with SPL Token error InsufficientFunds (1: insufficient funds): the wallet holds \
             less collateral than this moves — `bulwark balance` shows it, and `bulwark mint-collateral` adds some \
             on a test cluster"
        );
        // Without logs, the failing instruction's program decides.
        let mint = ChainError::Transaction { err: custom(1, 4), logs: vec![] };
        let text = chain_error(&mint, &[ASSOCIATED_TOKEN_PROGRAM, TOKEN_PROGRAM], &situation(&signer));
        let wanted = "the transaction failed with SPL Token error OwnerMismatch (4: owner does not match)";
        assert!(text.starts_with(wanted), "{text}");
        assert!(text.contains("minting needs the mint authority"), "{text}");
        assert!(!text.contains("0x4"));
    }

    #[test]
    fn anchor_framework_errors_are_named() {
        assert_eq!(
            anchor_framework_error(3012),
            Some((
                "AccountNotInitialized".into(),
                "The program expected this account to be already initialized".into()
            ))
        );
        assert_eq!(anchor_framework_error(2006).unwrap().0, "ConstraintSeeds");
        assert_eq!(anchor_framework_error(3007).unwrap().0, "AccountOwnedByWrongProgram");
        assert_eq!(anchor_framework_error(1), None);
        let signer = Pubkey::new_unique();
        let logs = vec![format!(
            "Program log: AnchorError caused by account: source. Error Code: AccountNotInitialized. Error Number: \
             3012. Error Message: The program expected this account to be already initialized."
        )];
        let error = ChainError::Transaction { err: custom(1, 0xbc4), logs };
        let text = chain_error(&error, &[bulwark::ID, bulwark::ID], &situation(&signer));
        assert!(
            text.starts_with(
                "the transaction failed with Anchor error AccountNotInitialized (3012: the program expected this \
                 account to be already initialized) on account `source`: an account this needs does not exist yet"
            ),
            "{text}"
        );
        // Bulwark's own errors keep their names (the e2e test looks for them).
        let code = u32::from(bulwark::error::BulwarkError::InsufficientCollateral);
        let text = chain_error(
            &ChainError::Transaction { err: custom(0, code), logs: vec![] },
            &[bulwark::ID],
            &situation(&signer),
        );
        assert!(text.contains("Bulwark error InsufficientCollateral ("), "{text}");
    }

    #[test]
    fn fees_connections_airdrops_and_keypairs_read_as_one_sentence() {
        let signer = Pubkey::new_unique();
        let s = situation(&signer);
        let broke = ChainError::Transaction { err: TransactionError::AccountNotFound, logs: vec![] };
        assert_eq!(
            chain_error(&broke, &[], &s),
            format!("the signer {signer} has no SOL to pay fees: `bulwark airdrop 1` on localnet/devnet")
        );
        let refused = ChainError::Transport(
            "error sending request for url (http://127.0.0.1:1/): client error (Connect): tcp connect error: \
             Connection refused (os error 111)"
                .into(),
        );
        assert_eq!(
            chain_error(&refused, &[], &Situation { url: "http://127.0.0.1:1", signer: None }),
            "cannot reach http://127.0.0.1:1: is bulwark-localnet (or a validator) running? set the URL with --url or \
             `bulwark config set --set-url`"
        );
        assert_eq!(
            airdrop_refused(
                "u",
                Some(-32602),
                "airdrop of 5000000000000 lamports exceeds the 1000000000000-lamport limit"
            ),
            "at most 1000 SOL per airdrop on bulwark-localnet: ask for 1000 or less (repeat the airdrop for more)"
        );
        let devnet = airdrop_refused(
            "https://api.devnet.solana.com",
            Some(429),
            "You've either reached your airdrop limit today or the airdrop faucet has run dry.",
        );
        assert!(devnet.starts_with("the faucet at https://api.devnet.solana.com refused for now (You've"), "{devnet}");
        assert_eq!(devnet.matches("airdrop limit").count(), 1);
        let missing = KeypairFileError::Io {
            path: "/x/id.json".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory (os error 2)"),
        };
        let text = keypair_error(std::path::Path::new("/x/id.json"), &missing);
        assert_eq!(
            text,
            "no keypair file at /x/id.json: create one with `bulwark keygen`, or pass --keypair <FILE> (or `bulwark \
             config set --set-keypair <FILE>`)"
        );
    }

    #[test]
    fn a_chain_of_causes_never_repeats_itself() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory (os error 2)");
        let error = anyhow::Error::new(KeypairFileError::Io { path: "/x".into(), source: io }).context("loading");
        assert_eq!(render(&error), "loading: reading keypair /x: No such file or directory (os error 2)");
    }
}
