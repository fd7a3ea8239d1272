//! Checked arithmetic that reports where it failed. Every helper is `#[track_caller]`, so an
//! overflow deep inside the math names the caller's file and line in the program log.

use core::panic::Location;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MathErrorKind {
    Overflow,
    DivisionByZero,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MathError {
    pub kind: MathErrorKind,
    pub file: &'static str,
    pub line: u32,
}

pub type MathResult<T> = Result<T, MathError>;

impl MathError {
    #[track_caller]
    pub fn overflow() -> Self {
        Self::at(MathErrorKind::Overflow, Location::caller())
    }

    #[track_caller]
    pub fn division_by_zero() -> Self {
        Self::at(MathErrorKind::DivisionByZero, Location::caller())
    }

    fn at(kind: MathErrorKind, location: &'static Location<'static>) -> Self {
        Self { kind, file: location.file(), line: location.line() }
    }
}

/// Checked operations on the integer types the math uses.
pub trait SafeMath: Sized + Copy {
    fn safe_add(self, rhs: Self) -> MathResult<Self>;
    fn safe_sub(self, rhs: Self) -> MathResult<Self>;
    fn safe_mul(self, rhs: Self) -> MathResult<Self>;
    /// Division rounding toward zero.
    fn safe_div(self, rhs: Self) -> MathResult<Self>;
    /// Division rounding toward positive infinity.
    fn safe_div_ceil(self, rhs: Self) -> MathResult<Self>;
    /// Division rounding toward negative infinity.
    fn safe_div_floor(self, rhs: Self) -> MathResult<Self>;
}

macro_rules! impl_safe_math {
    ($($t:ty => $div_rem:path),*) => {$(
        impl SafeMath for $t {
            #[track_caller]
            #[inline]
            fn safe_add(self, rhs: Self) -> MathResult<Self> {
                match self.checked_add(rhs) {
                    Some(v) => Ok(v),
                    None => Err(MathError::overflow()),
                }
            }
            #[track_caller]
            #[inline]
            fn safe_sub(self, rhs: Self) -> MathResult<Self> {
                match self.checked_sub(rhs) {
                    Some(v) => Ok(v),
                    None => Err(MathError::overflow()),
                }
            }
            #[track_caller]
            #[inline]
            fn safe_mul(self, rhs: Self) -> MathResult<Self> {
                match self.checked_mul(rhs) {
                    Some(v) => Ok(v),
                    None => Err(MathError::overflow()),
                }
            }
            #[track_caller]
            #[inline]
            fn safe_div(self, rhs: Self) -> MathResult<Self> {
                if rhs == 0 {
                    return Err(MathError::division_by_zero());
                }
                match $div_rem(self, rhs) {
                    Some((v, _)) => Ok(v),
                    None => Err(MathError::overflow()),
                }
            }
            #[track_caller]
            #[inline]
            #[allow(unused_comparisons)]
            fn safe_div_ceil(self, rhs: Self) -> MathResult<Self> {
                if rhs == 0 {
                    return Err(MathError::division_by_zero());
                }
                let (quotient, remainder) = match $div_rem(self, rhs) {
                    Some(qr) => qr,
                    None => return Err(MathError::overflow()),
                };
                // Truncation moved the result toward zero; step up when the exact quotient is positive.
                if remainder != 0 && ((remainder > 0) == (rhs > 0)) {
                    quotient.safe_add(1)
                } else {
                    Ok(quotient)
                }
            }
            #[track_caller]
            #[inline]
            #[allow(unused_comparisons)]
            fn safe_div_floor(self, rhs: Self) -> MathResult<Self> {
                if rhs == 0 {
                    return Err(MathError::division_by_zero());
                }
                let (quotient, remainder) = match $div_rem(self, rhs) {
                    Some(qr) => qr,
                    None => return Err(MathError::overflow()),
                };
                // Truncation moved the result toward zero; step down when the exact quotient is negative.
                if remainder != 0 && ((remainder > 0) != (rhs > 0)) {
                    quotient.safe_sub(1)
                } else {
                    Ok(quotient)
                }
            }
        }
    )*};
}

/// Truncating quotient and remainder of unsigned values; `None` on a zero divisor.
#[inline]
fn unsigned_div_rem<T: UnsignedDivide>(lhs: T, rhs: T) -> Option<(T, T)> {
    if rhs == T::ZERO {
        return None;
    }
    Some(lhs.div_rem(rhs))
}

/// Unsigned division as SBF does it cheapest: 64-bit division and remainder are single
/// instructions, 128-bit ones long software routines, so 128-bit operands that fit 64 bits
/// (nearly all of the program's) take the 64-bit path.
trait UnsignedDivide: Copy + PartialEq {
    const ZERO: Self;
    /// Quotient and remainder; `rhs` is not zero.
    fn div_rem(self, rhs: Self) -> (Self, Self);
}

macro_rules! unsigned_divide_native {
    ($($t:ty),*) => {$(
        impl UnsignedDivide for $t {
            const ZERO: Self = 0;
            #[inline]
            fn div_rem(self, rhs: Self) -> (Self, Self) {
                (self / rhs, self % rhs)
            }
        }
    )*};
}
unsigned_divide_native!(u8, u16, u32, u64);

impl UnsignedDivide for u128 {
    const ZERO: Self = 0;
    #[inline]
    fn div_rem(self, rhs: Self) -> (Self, Self) {
        match (u64::try_from(self), u64::try_from(rhs)) {
            (Ok(lhs), Ok(rhs)) => (u128::from(lhs / rhs), u128::from(lhs % rhs)),
            // A divisor wider than the dividend: nothing divides.
            (Ok(_), Err(_)) => (0, self),
            _ => (self / rhs, self % rhs),
        }
    }
}

/// Truncating signed division and remainder computed through unsigned division: SBPF before
/// v2 has no signed division instruction, and LLVM refuses to emit one for those targets.
/// Same results as `checked_div`/`checked_rem`: `None` on a zero divisor or `MIN / -1`.
macro_rules! signed_div_rem {
    ($name:ident, $t:ty) => {
        #[inline]
        fn $name(lhs: $t, rhs: $t) -> Option<($t, $t)> {
            if rhs == 0 || (lhs == <$t>::MIN && rhs == -1) {
                return None;
            }
            let (lhs_abs, rhs_abs) = (lhs.unsigned_abs(), rhs.unsigned_abs());
            let (quotient_abs, remainder_abs) = unsigned_div_rem(lhs_abs, rhs_abs)?;
            // Each magnitude fits: the quotient is at most |MIN| only for MIN / 1, whose
            // wrapping negation is MIN itself; the remainder is below |rhs| ≤ |MIN|.
            let quotient = quotient_abs as $t;
            let remainder = remainder_abs as $t;
            let quotient = if (lhs < 0) != (rhs < 0) { quotient.wrapping_neg() } else { quotient };
            let remainder = if lhs < 0 { remainder.wrapping_neg() } else { remainder };
            Some((quotient, remainder))
        }
    };
}
signed_div_rem!(i32_div_rem, i32);
signed_div_rem!(i64_div_rem, i64);
signed_div_rem!(i128_div_rem, i128);

impl_safe_math!(
    u8 => unsigned_div_rem, u16 => unsigned_div_rem, u32 => unsigned_div_rem,
    u64 => unsigned_div_rem, u128 => unsigned_div_rem,
    i32 => i32_div_rem, i64 => i64_div_rem, i128 => i128_div_rem
);

/// Narrowing conversions that fail instead of truncating.
#[track_caller]
pub fn to_i64<T: TryInto<i64>>(value: T) -> MathResult<i64> {
    match value.try_into() {
        Ok(v) => Ok(v),
        Err(_) => Err(MathError::overflow()),
    }
}

#[track_caller]
pub fn to_u64<T: TryInto<u64>>(value: T) -> MathResult<u64> {
    match value.try_into() {
        Ok(v) => Ok(v),
        Err(_) => Err(MathError::overflow()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_division_through_unsigned_matches_the_native_operators() {
        let values =
            [i64::MIN, i64::MIN + 1, -1_000_000_007, -7, -2, -1, 0, 1, 2, 7, 1_000_000_007, i64::MAX - 1, i64::MAX];
        for &a in &values {
            for &b in &values {
                let expected = a.checked_div(b).zip(a.checked_rem(b));
                assert_eq!(i64_div_rem(a, b), expected, "{a} / {b}");
                let (a32, b32) = (a as i32, b as i32);
                assert_eq!(i32_div_rem(a32, b32), a32.checked_div(b32).zip(a32.checked_rem(b32)), "{a32} / {b32}");
                let (a128, b128) = (i128::from(a) << 40, i128::from(b));
                assert_eq!(i128_div_rem(a128, b128), a128.checked_div(b128).zip(a128.checked_rem(b128)));
            }
        }
        let wide = [
            0u128,
            1,
            7,
            u64::MAX as u128 - 1,
            u64::MAX as u128,
            u64::MAX as u128 + 1,
            1 << 100,
            u128::MAX - 3,
            u128::MAX,
        ];
        for &a in &wide {
            for &b in &wide {
                let expected = a.checked_div(b).zip(a.checked_rem(b));
                assert_eq!(unsigned_div_rem(a, b), expected, "{a} / {b}");
            }
        }
        assert_eq!(i128_div_rem(i128::MIN, -1), None);
        assert_eq!(i128_div_rem(i128::MIN, 1), Some((i128::MIN, 0)));
    }

    #[test]
    fn rounding_directions() {
        assert_eq!(7i64.safe_div(2).unwrap(), 3);
        assert_eq!(7i64.safe_div_ceil(2).unwrap(), 4);
        assert_eq!(7i64.safe_div_floor(2).unwrap(), 3);
        assert_eq!((-7i64).safe_div(2).unwrap(), -3);
        assert_eq!((-7i64).safe_div_ceil(2).unwrap(), -3);
        assert_eq!((-7i64).safe_div_floor(2).unwrap(), -4);
        assert_eq!(7i64.safe_div_ceil(-2).unwrap(), -3);
        assert_eq!(7i64.safe_div_floor(-2).unwrap(), -4);
        assert_eq!(6i64.safe_div_ceil(2).unwrap(), 3);
        assert_eq!(6i64.safe_div_floor(-2).unwrap(), -3);
        assert_eq!(7u64.safe_div_ceil(2).unwrap(), 4);
        assert_eq!(0u64.safe_div_ceil(5).unwrap(), 0);
    }

    #[test]
    fn overflow_and_zero_division_are_errors_with_location() {
        let (err, line) = (u64::MAX.safe_add(1).unwrap_err(), line!());
        assert_eq!(err.kind, MathErrorKind::Overflow);
        // The location is the caller's, not a line inside the helper.
        assert!(err.file.ends_with("safe.rs"), "{}", err.file);
        assert_eq!(err.line, line);
        let (err, line) = (7i64.safe_div_ceil(0).unwrap_err(), line!());
        assert_eq!((err.kind, err.line), (MathErrorKind::DivisionByZero, line));
        assert_eq!(i64::MIN.safe_div(-1).unwrap_err().kind, MathErrorKind::Overflow);
        assert_eq!(5i128.safe_div(0).unwrap_err().kind, MathErrorKind::DivisionByZero);
        assert_eq!(5i128.safe_div_ceil(0).unwrap_err().kind, MathErrorKind::DivisionByZero);
        assert_eq!(0u64.safe_sub(1).unwrap_err().kind, MathErrorKind::Overflow);
        assert!(to_i64(u64::MAX).is_err());
        assert!(to_u64(-1i64).is_err());
        assert_eq!(to_u64(5i128).unwrap(), 5);
    }
}
