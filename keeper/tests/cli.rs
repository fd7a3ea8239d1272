//! The binary's configuration errors: a missing clearinghouse or keypair is a message and a
//! non-zero exit, never a panic.

use std::process::Command;

#[test]
fn the_binary_explains_missing_configuration() {
    let keeper = env!("CARGO_BIN_EXE_bulwark-keeper");
    let help = Command::new(keeper).arg("--help").output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--rpc-url",
        "--clearinghouse",
        "--takeover",
        "--priority-fee-cap-micro-lamports",
        "--metrics-addr",
        "--min-sol",
        "--log-format",
        "--market-symbols",
        "bulwark_keeper_sol_balance_lamports",
        "[default: 0.05]",
    ] {
        assert!(text.contains(flag), "missing {flag} in --help");
    }

    let out = Command::new(keeper).env_remove("BULWARK_CLEARINGHOUSE").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--clearinghouse"));

    let missing = std::env::temp_dir().join("bulwark-keeper-no-such-keypair.json");
    let out = Command::new(keeper)
        .args(["--clearinghouse", "11111111111111111111111111111111", "--keypair", missing.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("reading keypair"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
