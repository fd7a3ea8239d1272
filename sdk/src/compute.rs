//! Compute budgets: the compute units each Bulwark instruction may use, written down from its
//! worst case measured on the SBF bytecode (`tests/tests/program/compute_budgets.rs`, which
//! fails when an instruction outgrows its budget; the figures are in `docs/compute.md`), with
//! headroom. Clients size a transaction's compute-unit limit from them (`crank_limit`) instead
//! of asking for the 1.4M maximum, which would cost more in priority fees and pack worse.

/// The most compute units a transaction may ask for.
pub const MAX_TRANSACTION_CU: u32 = 1_400_000;

/// No instruction's worst case may need more than this: 40 % of the transaction maximum, so a
/// crank still fits in one transaction beside a collateral refresh and a second instruction.
pub const GOAL_CU: u32 = 560_000;

/// Room for the compute-budget instructions themselves (`SetComputeUnitLimit` and
/// `SetComputeUnitPrice`, 150 CU each on the bank).
pub const COMPUTE_BUDGET_ALLOWANCE: u32 = 300;

/// Every instruction's budget, by its Anchor name as the program logs it
/// (`Program log: Instruction: <Name>`): the worst case measured plus about 25 %, rounded up to
/// a multiple of 5,000, and never more than the goal. `PlaceOrder` and `LiquidateAgainstBook`
/// measure within 15 % of the goal in their worst cases (`docs/compute.md`), so their budgets
/// are the goal itself: less headroom, and the benchmark fails the day either outgrows it.
///
/// An instruction that creates an account at a program address searches for its bump: each
/// candidate the search passes over costs 1,500 CU, and how many it passes over depends on the
/// keys, so one measurement says little. Those budgets add 16 more candidates per address
/// created (24,000 CU; a search needs more about once in 65,536 addresses): otherwise a client
/// whose keys happen to need a long search would fail every time at the same address.
pub const BUDGETS: &[(&str, u32)] = &[
    // Set up and administration.
    ("InitializeClearinghouse", 120_000), // three addresses created
    ("CreateMarket", 80_000),             // two addresses
    ("ActivateMarket", 5_000),
    ("SetMarketStatus", 5_000),
    ("ProposeParamChange", 5_000),
    ("ExecuteParamChange", 5_000),
    ("CancelParamChange", 5_000),
    ("Pause", 5_000),
    ("Unpause", 5_000),
    // Oracles.
    ("CreatePriceFeed", 50_000), // one address
    ("UpdatePriceFeed", 5_000),
    ("RefreshCollateralPrice", 10_000),
    // Accounts and collateral.
    ("CreateMarginAccount", 45_000), // one address
    ("SetDelegate", 5_000),
    ("Deposit", 15_000),
    ("Withdraw", 65_000),
    ("CloseMarginAccount", 5_000),
    // Trading.
    ("PlaceOrder", 560_000), // the goal: 482,398 measured
    ("CancelOrder", 10_000),
    ("CancelAllOrders", 20_000),
    ("PruneExpiredOrders", 15_000),
    ("UpdateFunding", 10_000),
    // The waterfall.
    ("UpdateLiquidationStatus", 70_000),
    ("LiquidateTakeover", 230_000),
    ("LiquidateAgainstBook", 560_000), // the goal: 539,778 measured
    ("AutoDeleverage", 395_000),
    ("BeginAdl", 120_000), // one address
    ("NominateAdl", 225_000),
    ("ExecuteAdl", 340_000),
    // Insurance.
    ("CreateInsuranceStake", 35_000), // one address
    ("StakeInsurance", 15_000),
    ("RequestUnstake", 5_000),
    ("UnstakeInsurance", 15_000),
    ("SweepFees", 15_000),
];

/// The budget of the instruction Anchor logs as `name`, if it is a Bulwark instruction.
pub fn budget(name: &str) -> Option<u32> {
    BUDGETS.iter().find(|(n, _)| *n == name).map(|&(_, units)| units)
}

/// The compute-unit limit for a transaction made of the instructions named: their budgets plus
/// the compute-budget instructions' allowance, at most the transaction maximum. A name without
/// a budget (not a Bulwark instruction) gets the transaction maximum: a crank must never fail
/// for want of compute.
pub fn crank_limit(names: &[&str]) -> u32 {
    let mut total = COMPUTE_BUDGET_ALLOWANCE;
    for name in names {
        let Some(units) = budget(name) else { return MAX_TRANSACTION_CU };
        total = total.saturating_add(units);
    }
    total.min(MAX_TRANSACTION_CU)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `place_order` → `PlaceOrder`: the name Anchor logs for an instruction.
    fn anchor_name(snake: &str) -> String {
        snake
            .split('_')
            .map(|word| {
                let mut chars = word.chars();
                chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
            })
            .collect()
    }

    /// The program's instructions, from the committed IDL (which CI checks is current).
    fn program_instructions() -> Vec<String> {
        let idl: serde_json::Value = serde_json::from_str(include_str!("../../idl/bulwark.json")).expect("IDL JSON");
        let instructions = idl["instructions"].as_array().expect("IDL instructions");
        instructions.iter().map(|ix| anchor_name(ix["name"].as_str().expect("instruction name"))).collect()
    }

    #[test]
    fn every_budget_is_within_the_goal() {
        for &(name, units) in BUDGETS {
            assert!(units > 0 && units % 5_000 == 0, "{name}: {units} CU is no multiple of 5,000");
            assert!(units <= MAX_TRANSACTION_CU, "{name}: {units} CU is more than a transaction may use");
        }
        let over: Vec<String> = BUDGETS
            .iter()
            .filter(|&&(_, units)| units > GOAL_CU)
            .map(|&(name, units)| format!("{name}: {units} CU, {} CU over the {GOAL_CU} CU goal", units - GOAL_CU))
            .collect();
        assert!(over.is_empty(), "budgets over the goal:\n{}", over.join("\n"));
    }

    #[test]
    fn every_instruction_has_exactly_one_budget() {
        let instructions = program_instructions();
        for name in &instructions {
            let entries = BUDGETS.iter().filter(|(n, _)| n == name).count();
            assert_eq!(entries, 1, "{name}: {entries} budgets");
        }
        for (name, _) in BUDGETS {
            assert!(instructions.iter().any(|n| n == name), "{name} is budgeted but is no Bulwark instruction");
        }
        assert_eq!(BUDGETS.len(), instructions.len());
    }

    #[test]
    fn a_crank_limit_adds_the_budgets_and_stays_under_the_transaction_maximum() {
        let refresh = budget("RefreshCollateralPrice").unwrap();
        let takeover = budget("LiquidateTakeover").unwrap();
        assert_eq!(crank_limit(&["LiquidateTakeover"]), takeover + COMPUTE_BUDGET_ALLOWANCE);
        assert_eq!(
            crank_limit(&["RefreshCollateralPrice", "LiquidateTakeover"]),
            refresh + takeover + COMPUTE_BUDGET_ALLOWANCE
        );
        assert_eq!(crank_limit(&[]), COMPUTE_BUDGET_ALLOWANCE);
        let names: Vec<&str> = BUDGETS.iter().map(|&(name, _)| name).collect();
        assert_eq!(crank_limit(&names), MAX_TRANSACTION_CU);
        let adl = budget("AutoDeleverage").unwrap();
        let two_adls = ["RefreshCollateralPrice", "AutoDeleverage", "AutoDeleverage"];
        assert_eq!(crank_limit(&two_adls), refresh + 2 * adl + COMPUTE_BUDGET_ALLOWANCE);
        assert_eq!(crank_limit(&["AutoDeleverage"; 4]), MAX_TRANSACTION_CU, "capped at the maximum");
        assert_eq!(crank_limit(&["Transfer"]), MAX_TRANSACTION_CU, "an unknown instruction gets the maximum");
        assert_eq!(budget("NoSuchInstruction"), None);
    }
}
