//! Numbers typed on the command line, refused with a sentence that says what is wanted.

use anyhow::{bail, Result};
use bulwark::state::MarketParams;
use bulwark_sdk::units::{format_decimal, parse_decimal, UnitsError, PRICE_DECIMALS};

fn unreadable(what: &str, text: &str, error: UnitsError, decimals: u32) -> anyhow::Error {
    match error {
        UnitsError::NotDecimal(_) => anyhow::anyhow!("{what} {text:?} is not a number (write e.g. 100 or 0.5)"),
        UnitsError::TooPrecise { .. } => {
            anyhow::anyhow!("{what} {text} has more than {decimals} decimal places, the most it can carry")
        }
        UnitsError::TooLarge(_) => anyhow::anyhow!("{what} {text} is too large"),
        other => anyhow::anyhow!("{what} {text}: {other}"),
    }
}

/// Any decimal with at most `decimals` places as an integer, refused in a sentence.
pub fn decimal(what: &str, text: &str, decimals: u32) -> Result<i128> {
    parse_decimal(text, decimals).map_err(|e| unreadable(what, text, e, decimals))
}

/// A positive amount with `decimals` places as an integer (`"1.5", 6` → 1_500_000).
pub fn positive_amount(what: &str, text: &str, decimals: u32) -> Result<u64> {
    let value = parse_decimal(text, decimals).map_err(|e| unreadable(what, text, e, decimals))?;
    if value <= 0 {
        bail!("{what} must be positive: got {}", text.trim());
    }
    u64::try_from(value).map_err(|_| anyhow::anyhow!("{what} {text} is too large"))
}

/// A limit price (collateral per whole base unit) as ticks of `params`.
pub fn price_ticks(text: &str, params: &MarketParams) -> Result<u64> {
    let price = parse_decimal(text, PRICE_DECIMALS).map_err(|e| unreadable("--price", text, e, PRICE_DECIMALS))?;
    if price <= 0 {
        bail!("price must be positive: got {}", text.trim());
    }
    let tick = params.tick_size as i128;
    if tick == 0 {
        bail!("the market has a zero tick size: it cannot take orders");
    }
    if price % tick != 0 {
        let below = price / tick * tick;
        bail!(
            "price {} is not a multiple of the market's tick size {}: use e.g. {} or {}",
            text.trim(),
            format_decimal(tick, PRICE_DECIMALS),
            format_decimal(below.max(tick), PRICE_DECIMALS),
            format_decimal(below + tick, PRICE_DECIMALS)
        );
    }
    u64::try_from(price / tick).map_err(|_| anyhow::anyhow!("price {text} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use anchor_lang::__private::bytemuck::Zeroable as _;

    #[test]
    fn prices_must_be_positive_and_on_a_tick() {
        let mut params = MarketParams::zeroed();
        params.tick_size = 1_000_000; // $1
        assert_eq!(price_ticks("100000", &params).unwrap(), 100_000);
        assert_eq!(price_ticks("0", &params).unwrap_err().to_string(), "price must be positive: got 0");
        assert_eq!(price_ticks("-5", &params).unwrap_err().to_string(), "price must be positive: got -5");
        assert_eq!(
            price_ticks("100.5", &params).unwrap_err().to_string(),
            "price 100.5 is not a multiple of the market's tick size 1: use e.g. 100 or 101"
        );
        assert!(price_ticks("abc", &params).unwrap_err().to_string().contains("is not a number"));
    }

    #[test]
    fn amounts_must_be_positive_and_not_too_precise() {
        assert_eq!(positive_amount("amount", "1.5", 6).unwrap(), 1_500_000);
        assert_eq!(positive_amount("amount", "-5", 6).unwrap_err().to_string(), "amount must be positive: got -5");
        assert_eq!(positive_amount("amount", "0", 6).unwrap_err().to_string(), "amount must be positive: got 0");
        assert_eq!(
            positive_amount("amount", "0.0000001", 6).unwrap_err().to_string(),
            "amount 0.0000001 has more than 6 decimal places, the most it can carry"
        );
    }
}
