//! What a newcomer sees: every mistake the CLI can be asked to make, each on a fresh HOME
//! against `bulwark-localnet`, must fail with one sentence (cause and what to do) and a
//! non-zero exit; and trading reports what happened, with markets and feeds by name.
//! One node and one migration serve every case; all failures are reported together.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

mod support;

use support::{binary, url_in, Finish as _, Process};

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// The CLI as a newcomer runs it: a fresh HOME, no BULWARK_* variables; `extra` follows the
/// arguments of every run.
#[derive(Clone)]
struct Newcomer {
    home: PathBuf,
    url: String,
    extra: Vec<String>,
}

impl Newcomer {
    fn with(&self, extra: &[&str]) -> Self {
        Self { extra: self.extra.iter().cloned().chain(extra.iter().map(|s| s.to_string())).collect(), ..self.clone() }
    }

    fn run(&self, args: &[&str]) -> Run {
        let mut command = Command::new(binary("bulwark"));
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("BULWARK_") {
                command.env_remove(key);
            }
        }
        let out =
            command.args(args).args(&self.extra).env("HOME", &self.home).env("BULWARK_RPC_URL", &self.url).finish();
        Run {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert!(run.ok, "bulwark {args:?} failed:\n{}{}", run.stdout, run.stderr);
        run.stdout
    }
}

/// Collects what went wrong so one run reports every case.
#[derive(Default)]
struct Failures(Vec<String>);

impl Failures {
    /// `args` must fail with exactly one `error: …` line on stderr that says each of `phrases`
    /// once, with no raw `transport:` or `custom program error` text and nothing on stdout.
    /// Returns the sentence.
    fn error(&mut self, who: &Newcomer, case: &str, args: &[&str], phrases: &[&str]) -> String {
        let run = who.run(args);
        let mut wrong = Vec::new();
        if run.ok {
            wrong.push("exited with success".to_string());
        }
        let lines: Vec<&str> = run.stderr.lines().collect();
        if lines.len() != 1 || !lines[0].starts_with("error: ") {
            wrong.push("stderr is not one `error: ` line".into());
        }
        for phrase in phrases {
            let n = run.stderr.matches(phrase).count();
            if n != 1 {
                wrong.push(format!("says {phrase:?} {n} times"));
            }
        }
        if run.stderr.contains("transport:") || run.stderr.contains("custom program error") {
            wrong.push("raw error text".into());
        }
        if !run.stdout.is_empty() {
            wrong.push("printed to stdout".into());
        }
        if !wrong.is_empty() {
            self.0.push(format!(
                "{case} ({args:?}): {}\n  stderr: {}  stdout: {}",
                wrong.join("; "),
                run.stderr,
                run.stdout
            ));
        }
        run.stderr.trim().strip_prefix("error: ").unwrap_or_default().to_string()
    }

    /// `args` must fail with exactly `sentence`.
    fn exact(&mut self, who: &Newcomer, case: &str, args: &[&str], sentence: &str) {
        let said = self.error(who, case, args, &[]);
        self.check(case, said == sentence, &format!("said {said:?}\n  wanted {sentence:?}"));
    }

    fn check(&mut self, case: &str, ok: bool, detail: &str) {
        if !ok {
            self.0.push(format!("{case}: {detail}"));
        }
    }
}

#[test]
fn a_newcomer_gets_one_sentence_per_mistake_and_reports_of_what_happened() {
    let started = Instant::now();
    let dir = std::env::temp_dir().join(format!("bulwark-cli-errors-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (node, banner) = Process::localnet(&dir, &["--slot-ms", "100"]);
    let url = url_in(&banner, "http://");
    let mut failures = Failures::default();
    let alice = Newcomer { home: dir.join("alice"), url: url.clone(), extra: vec![] };
    std::fs::create_dir_all(&alice.home).unwrap();

    // ---- before anything exists: no keypair, no node
    let keypair = alice.home.join(".config/solana/id.json");
    failures.error(
        &alice,
        "missing keypair",
        &["balance"],
        &[&format!("no keypair file at {}", keypair.display()), "create one with `bulwark keygen`", "--keypair <FILE>"],
    );
    let keygen = alice.ok(&["keygen"]);
    let address = alice.ok(&["address"]).trim().to_string();
    failures.check(
        "keygen says where and what",
        keygen.contains(&format!("wrote a new keypair to {}", keypair.display()))
            && keygen.contains(&format!("address {address}")),
        &keygen,
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let closed = format!("http://127.0.0.1:{port}");
    failures.exact(
        &alice,
        "connection refused",
        &["balance", "--url", &closed],
        &format!(
            "cannot reach {closed}: is bulwark-localnet (or a validator) running? set the URL with --url or `bulwark \
             config set --set-url`"
        ),
    );

    // ---- deploy
    let admin_key = dir.join("admin.json");
    alice.ok(&["keygen", "--outfile", admin_key.to_str().unwrap()]);
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/localnet.toml"), dir.join("localnet.toml"))
        .unwrap();
    let deployment_path = dir.join("deployment.json");
    let migrate = Command::new(binary("bulwark-migrate"))
        .arg(dir.join("localnet.toml"))
        .args(["--url", &url, "--airdrop", "100", "--out"])
        .arg(&deployment_path)
        .arg("--keypair")
        .arg(&admin_key)
        .finish();
    assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));
    let deployment: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&deployment_path).unwrap()).unwrap();
    let clearinghouse = deployment["clearinghouse"].as_str().unwrap();
    // By address, and by the deployment file (which gives the clearinghouse and the names).
    let by_address = alice.with(&["--clearinghouse", clearinghouse]);
    let named = alice.with(&["--deployment", deployment_path.to_str().unwrap()]);
    let admin = named.with(&["--keypair", admin_key.to_str().unwrap()]);

    // A clearinghouse that is not there (the node restarted: its state was in memory).
    let gone = solana_signer::Signer::pubkey(&solana_keypair::Keypair::new()).to_string();
    failures.error(
        &alice,
        "clearinghouse not found",
        &["positions", "--clearinghouse", &gone],
        &[
            &format!("no clearinghouse at {gone} on {url}"),
            "bulwark-localnet keeps state in memory",
            "rerun `bulwark-migrate migrations/localnet.toml",
            "`bulwark config set --set-clearinghouse",
        ],
    );

    // The keeper on a clearinghouse that is not there: a sentence, not the program error of
    // creating its margin account.
    let keeper = Command::new(binary("bulwark-keeper"))
        .args(["--rpc-url", &url, "--clearinghouse", &gone, "--keypair"])
        .arg(&admin_key)
        .env("RUST_BACKTRACE", "0")
        .finish();
    let said = String::from_utf8_lossy(&keeper.stderr).to_string() + &String::from_utf8_lossy(&keeper.stdout);
    failures.check(
        "keeper on an unknown clearinghouse",
        !keeper.status.success()
            && said.contains(&format!("no clearinghouse at {gone} on {url}: check --clearinghouse"))
            && !said.contains("0xbbf"),
        &said,
    );

    // The SOL balance shows even when the clearinghouse is gone.
    let run = alice.run(&["balance", "--clearinghouse", &gone]);
    failures.check(
        "balance without the clearinghouse",
        run.ok
            && run.stdout.starts_with("SOL            0\n")
            && run.stdout.contains("collateral     unknown: no clearinghouse at"),
        &format!("{}{}", run.stdout, run.stderr),
    );
    // A URL the HTTP client cannot use is named as such, not as a node that is down.
    failures.error(
        &alice,
        "URL without a scheme",
        &["balance", "--url", "127.0.0.1:8899"],
        &["\"127.0.0.1:8899\" is not a usable RPC URL: give one like http://127.0.0.1:8899"],
    );
    // A deployment file that went away does not stop commands that need no names.
    let run = by_address.run(&["markets", "--deployment", dir.join("gone.json").to_str().unwrap()]);
    failures.check(
        "an unreadable deployment file only warns",
        run.ok
            && run.stderr.starts_with("warning: ")
            && run.stderr.contains("markets and feeds are shown by index and address"),
        &format!("{}{}", run.stdout, run.stderr),
    );

    // ---- money: no SOL, the faucet's cap, no token account, not the mint authority, too little
    failures.exact(
        &by_address,
        "no SOL",
        &["deposit", "5"],
        &format!("the signer {address} has no SOL to pay fees: `bulwark airdrop 1` on localnet/devnet"),
    );
    failures.exact(
        &alice,
        "airdrop over the cap",
        &["airdrop", "5000"],
        "at most 1000 SOL per airdrop on bulwark-localnet: ask for 1000 or less (repeat the airdrop for more)",
    );
    failures.exact(&alice, "negative airdrop", &["airdrop", "-1"], "the airdrop (SOL) must be positive: got -1");
    alice.ok(&["airdrop", "5"]);
    failures.error(
        &by_address,
        "deposit without a token account",
        &["deposit", "5"],
        &[
            "your wallet has no token account for the collateral mint",
            "`bulwark mint-collateral <AMOUNT>` on a test cluster",
        ],
    );
    failures.error(
        &by_address,
        "mint as a non-authority",
        &["mint-collateral", "5"],
        &[
            &format!("the signer {address} is not the mint authority of the collateral mint"),
            "only that keypair can mint",
        ],
    );
    admin.ok(&["mint-collateral", "5", "--to", &address]);
    failures.exact(
        &by_address,
        "deposit more than the wallet holds",
        &["deposit", "6"],
        "your wallet holds 5 collateral; deposit at most 5, or `bulwark mint-collateral` on a test cluster",
    );
    // --json: the same sentence as {"error": …} on stderr, nothing on stdout.
    let run = by_address.run(&["deposit", "6", "--json"]);
    let error = serde_json::from_str::<serde_json::Value>(run.stderr.trim())
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string));
    failures.check(
        "--json error",
        !run.ok && run.stdout.is_empty() && error.is_some_and(|e| e.starts_with("your wallet holds 5 collateral")),
        &run.stderr,
    );
    failures.exact(&by_address, "negative deposit", &["deposit", "-5"], "amount must be positive: got -5");
    admin.ok(&["mint-collateral", "995", "--to", &address]);
    by_address.ok(&["deposit", "1000"]);

    // ---- orders: prices that cannot be, names, and what an order did
    let buy = ["order", "place", "--market", "BTC-PERP", "--side", "buy", "--lots", "1"];
    let with_price = |price: &'static str, more: &[&'static str]| -> Vec<&'static str> {
        buy.iter().copied().chain(["--price", price]).chain(more.iter().copied()).collect()
    };
    failures.exact(&named, "price 0", &with_price("0", &[]), "price must be positive: got 0");
    failures.exact(&named, "price -5", &with_price("-5", &[]), "price must be positive: got -5");
    failures.error(
        &by_address,
        "a symbol without a deployment file",
        &with_price("100000", &[]),
        &["unknown market \"BTC-PERP\"", "--deployment <FILE>", "bulwark-migrate --out"],
    );
    // An immediate-or-cancel order into an empty book fills nothing, and says so.
    let ioc = named.ok(&with_price("100000", &["--type", "ioc"]));
    failures.check(
        "IOC that fills nothing",
        ioc.starts_with("nothing filled: no ask in BTC-PERP at or below 100000") && !ioc.contains("placed"),
        &ioc,
    );
    let rests = named.ok(&with_price("99000", &["--client-id", "42"]));
    let id = rests
        .strip_prefix("nothing filled yet: order ")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|id| id.parse::<u64>().ok());
    failures.check("a resting order names its id", id.is_some() && rests.contains("buy 1 lots at 99000"), &rests);
    let id = id.unwrap_or(u64::MAX);
    let positions = named.ok(&["positions"]);
    failures.check(
        "positions list open orders with their ids",
        positions.lines().any(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            cells.len() == 6
                && cells[0] == id.to_string()
                && cells[1] == "BTC-PERP"
                && cells[2] == "buy"
                && cells[5] == "42"
        }),
        &positions,
    );
    let book: serde_json::Value = serde_json::from_str(&named.ok(&["book", "--market", "BTC-PERP", "--json"])).unwrap();
    failures.check(
        "the book shows order ids",
        book["bids"][0]["order_ids"] == serde_json::json!([id]),
        &book.to_string(),
    );
    let markets = named.ok(&["markets"]);
    let row: Vec<&str> =
        markets.lines().find(|l| l.trim_start().starts_with("0 ")).unwrap_or_default().split_whitespace().collect();
    failures.check(
        "markets print the symbol, and - for an empty side",
        row.get(1) == Some(&"BTC-PERP") && row.get(5) == Some(&"-") && !markets.contains("null"),
        &markets,
    );
    failures.error(
        &named,
        "cancel an unknown id",
        &["order", "cancel", "--market", "BTC-PERP", "--id", "999"],
        &["no open order 999 in BTC-PERP", "`bulwark positions` lists your orders"],
    );
    let cancelled = named.ok(&["order", "cancel", "--market", "0", "--id", &id.to_string()]);
    failures.check("cancel by id", cancelled.starts_with(&format!("cancelled order {id} in BTC-PERP")), &cancelled);

    // ---- feeds by name
    let published = admin.ok(&["feed", "publish", "btc-usd", "--price", "100000"]);
    let btc = deployment["feeds"]["btc-usd"].as_str().unwrap();
    failures.check(
        "publish by feed name",
        published.starts_with(&format!("published 100000 to btc-usd ({btc})")),
        &published,
    );
    failures.error(&named, "an unknown feed name", &["feed", "show", "eth-usd"], &["unknown feed \"eth-usd\""]);

    assert!(failures.0.is_empty(), "{} case(s) wrong:\n{}", failures.0.len(), failures.0.join("\n"));
    eprintln!("every case in {:?}", started.elapsed());
    drop(node);
    std::fs::remove_dir_all(&dir).unwrap();
}
