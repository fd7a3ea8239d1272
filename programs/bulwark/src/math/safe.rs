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
    ($($t:ty),*) => {$(
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
                match self.checked_div(rhs) {
                    Some(v) => Ok(v),
                    None => Err(MathError::overflow()),
                }
            }
            #[track_caller]
            #[inline]
            #[allow(unused_comparisons)]
            fn safe_div_ceil(self, rhs: Self) -> MathResult<Self> {
                let quotient = self.safe_div(rhs)?;
                let remainder = match self.checked_rem(rhs) {
                    Some(r) => r,
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
                let quotient = self.safe_div(rhs)?;
                let remainder = match self.checked_rem(rhs) {
                    Some(r) => r,
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

impl_safe_math!(u8, u16, u32, u64, u128, i32, i64, i128);

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
