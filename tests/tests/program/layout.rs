use bulwark::constants::MAX_POSITIONS;
use bulwark::state::*;

#[test]
fn account_sizes() {
    let sizes = [
        ("Clearinghouse", account_space::<Clearinghouse>()),
        ("MarginAccount", account_space::<MarginAccount>()),
        ("PriceFeed", account_space::<PriceFeed>()),
        ("Market", account_space::<Market>()),
        ("OrderBook", account_space::<OrderBook>()),
        ("InsuranceStake", account_space::<InsuranceStake>()),
        ("AdlRound", account_space::<AdlRound>()),
    ];
    for (name, size) in sizes {
        println!("{name}: {size} bytes (with discriminator)");
    }
    // Goal: a margin account with 8 positions under 1 KiB (Drift's User is 4,376 bytes).
    assert_eq!(MAX_POSITIONS, 8);
    assert_eq!(account_space::<MarginAccount>(), 712);
    assert!(account_space::<MarginAccount>() <= 1024);
    assert_eq!(account_space::<Clearinghouse>(), 1088);
    assert_eq!(account_space::<PriceFeed>(), 176);
    assert_eq!(account_space::<Market>(), 488);
    // Under 10 KiB, so the program can allocate it by CPI at listing.
    assert_eq!(account_space::<OrderBook>(), 5_176);
    assert!(account_space::<OrderBook>() <= 10_240);
    assert_eq!(account_space::<InsuranceStake>(), 176);
    // A queue of 16 nominees; the round's rent goes back to its opener at its close.
    assert_eq!(account_space::<AdlRound>(), 1_304);
    // Keeper memcmp filters depend on these offsets.
    assert_eq!(MARGIN_ACCOUNT_CLEARINGHOUSE_OFFSET, 8);
    assert_eq!(MARGIN_ACCOUNT_OWNER_OFFSET, 40);
    assert_eq!(MARGIN_ACCOUNT_STATUS_FLAGS_OFFSET, 122);
}

#[test]
fn pod_i128_round_trips() {
    for v in [0i128, 1, -1, i128::MAX, i128::MIN, 1 << 64, -(1 << 70) + 5] {
        assert_eq!(PodI128::new(v).get(), v);
    }
}
