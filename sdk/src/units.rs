//! Exact conversions between decimal text and integer amounts (collateral atoms, feed prices,
//! `PRICE_PRECISION` prices, ticks). No floating point anywhere.

use bulwark::constants::PRICE_PRECISION;
use bulwark::state::MarketParams;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitsError {
    #[error("{0:?} is not a decimal number")]
    NotDecimal(String),
    #[error("{text:?} has more than {decimals} decimal places")]
    TooPrecise { text: String, decimals: u32 },
    #[error("{0:?} is too large")]
    TooLarge(String),
    #[error("price {price} is not a multiple of the tick size {tick}")]
    OffTick { price: String, tick: String },
    #[error("the market has a zero tick size")]
    ZeroTick,
}

/// `text` (`-12.5`, `3`, `0.000001`) as an integer in units of 10^-`decimals`.
pub fn parse_decimal(text: &str, decimals: u32) -> Result<i128, UnitsError> {
    let trimmed = text.trim().replace('_', "");
    let (negative, digits) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.as_str()),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && frac.is_empty() || !all_digits(whole) || !all_digits(frac) {
        return Err(UnitsError::NotDecimal(text.to_string()));
    }
    if frac.len() > decimals as usize {
        return Err(UnitsError::TooPrecise { text: text.to_string(), decimals });
    }
    let scale = 10i128.checked_pow(decimals).ok_or_else(|| UnitsError::TooLarge(text.to_string()))?;
    let parse = |s: &str| -> Result<i128, UnitsError> {
        if s.is_empty() {
            Ok(0)
        } else {
            s.parse::<i128>().map_err(|_| UnitsError::TooLarge(text.to_string()))
        }
    };
    let frac_scaled = parse(&format!("{frac:0<width$}", width = decimals as usize))?;
    let value = parse(whole)?
        .checked_mul(scale)
        .and_then(|w| w.checked_add(frac_scaled))
        .ok_or_else(|| UnitsError::TooLarge(text.to_string()))?;
    Ok(if negative { -value } else { value })
}

/// `parse_decimal` into a `u64` amount (collateral atoms).
pub fn parse_amount(text: &str, decimals: u32) -> Result<u64, UnitsError> {
    let value = parse_decimal(text, decimals)?;
    u64::try_from(value).map_err(|_| UnitsError::TooLarge(text.to_string()))
}

/// `value` × 10^-`decimals` as decimal text, trailing zeros trimmed (`1500000, 6` → `1.5`).
pub fn format_decimal(value: i128, decimals: u32) -> String {
    let scale = 10i128.pow(decimals);
    let sign = if value < 0 { "-" } else { "" };
    let (whole, frac) = (value.unsigned_abs() / scale as u128, value.unsigned_abs() % scale as u128);
    if frac == 0 {
        return format!("{sign}{whole}");
    }
    let frac = format!("{frac:0width$}", width = decimals as usize);
    format!("{sign}{whole}.{}", frac.trim_end_matches('0'))
}

/// Decimal places of `PRICE_PRECISION`.
pub const PRICE_DECIMALS: u32 = PRICE_PRECISION.ilog10();

/// A price in collateral per whole base unit (`"97250.5"`) as order-book ticks of `params`.
pub fn price_to_ticks(text: &str, params: &MarketParams) -> Result<u64, UnitsError> {
    if params.tick_size == 0 {
        return Err(UnitsError::ZeroTick);
    }
    let price = parse_decimal(text, PRICE_DECIMALS)?;
    let tick = params.tick_size as i128;
    if price <= 0 || price % tick != 0 {
        return Err(UnitsError::OffTick { price: text.to_string(), tick: format_decimal(tick, PRICE_DECIMALS) });
    }
    u64::try_from(price / tick).map_err(|_| UnitsError::TooLarge(text.to_string()))
}

/// Ticks of `params` as a price in collateral per whole base unit.
pub fn ticks_to_price(ticks: u64, params: &MarketParams) -> String {
    format_decimal(ticks as i128 * params.tick_size as i128, PRICE_DECIMALS)
}

/// A `PRICE_PRECISION` price as text.
pub fn format_price(price: i64) -> String {
    format_decimal(price as i128, PRICE_DECIMALS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_exactly_and_refuse_what_does_not_fit() {
        assert_eq!(parse_decimal("1.5", 6), Ok(1_500_000));
        assert_eq!(parse_decimal("-0.000001", 6), Ok(-1));
        assert_eq!(parse_decimal("1_000", 2), Ok(100_000));
        assert_eq!(parse_decimal(".5", 1), Ok(5));
        assert_eq!(
            parse_decimal("1.0000001", 6),
            Err(UnitsError::TooPrecise { text: "1.0000001".into(), decimals: 6 })
        );
        assert!(matches!(parse_decimal("1e5", 6), Err(UnitsError::NotDecimal(_))));
        assert!(matches!(parse_decimal("-", 6), Err(UnitsError::NotDecimal(_))));
        assert!(matches!(parse_amount("-1", 6), Err(UnitsError::TooLarge(_))));
        assert!(matches!(parse_amount("18446744073709.551616", 6), Err(UnitsError::TooLarge(_))));
        assert_eq!(parse_amount("18446744073709.551615", 6), Ok(u64::MAX));
        assert_eq!(format_decimal(1_500_000, 6), "1.5");
        assert_eq!(format_decimal(-2_000_000, 6), "-2");
        assert_eq!(format_decimal(1, 6), "0.000001");
    }

    #[test]
    fn prices_convert_to_ticks_only_on_the_tick() {
        let params = MarketParams { tick_size: 500_000, ..bytemuck::Zeroable::zeroed() };
        assert_eq!(price_to_ticks("100.5", &params), Ok(201));
        assert_eq!(ticks_to_price(201, &params), "100.5");
        assert!(matches!(price_to_ticks("100.25", &params), Err(UnitsError::OffTick { .. })));
        assert!(matches!(price_to_ticks("0", &params), Err(UnitsError::OffTick { .. })));
        let zero = MarketParams { tick_size: 0, ..bytemuck::Zeroable::zeroed() };
        assert_eq!(price_to_ticks("1", &zero), Err(UnitsError::ZeroTick));
    }
}
