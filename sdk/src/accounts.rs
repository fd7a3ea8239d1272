//! Decoding Bulwark's zero-copy accounts and the filters that find them.

use anchor_lang::prelude::Pubkey;
use anchor_lang::Discriminator;
use bulwark::state::{
    AdlRound, Clearinghouse, InsuranceStake, MarginAccount, Market, OrderBook, PriceFeed,
    MARGIN_ACCOUNT_CLEARINGHOUSE_OFFSET, MARGIN_ACCOUNT_OWNER_OFFSET,
};

/// Why bytes did not decode as the expected account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    WrongDiscriminator,
    TooShort { expected: usize, actual: usize },
    Misaligned,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::WrongDiscriminator => write!(f, "account discriminator does not match"),
            Self::TooShort { expected, actual } => write!(f, "account data is {actual} bytes, expected {expected}"),
            Self::Misaligned => write!(f, "account data is not 8-byte aligned"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// A Bulwark account type: a `Pod` body after Anchor's 8-byte discriminator.
pub trait ProgramAccount: bytemuck::Pod + Discriminator {
    /// Total on-chain size, discriminator included.
    const SPACE: usize = 8 + std::mem::size_of::<Self>();

    /// Copy the account out of `data` (which need not be aligned), checking discriminator and size.
    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        if !data.starts_with(Self::DISCRIMINATOR) {
            return Err(DecodeError::WrongDiscriminator);
        }
        if data.len() < Self::SPACE {
            return Err(DecodeError::TooShort { expected: Self::SPACE, actual: data.len() });
        }
        Ok(bytemuck::pod_read_unaligned(&data[8..Self::SPACE]))
    }

    /// Borrow the account in place, with no copy, when `data` is 8-byte aligned (as fetched
    /// buffers are in practice); `Misaligned` otherwise (use `decode`).
    fn view(data: &[u8]) -> Result<&Self, DecodeError> {
        if !data.starts_with(Self::DISCRIMINATOR) {
            return Err(DecodeError::WrongDiscriminator);
        }
        if data.len() < Self::SPACE {
            return Err(DecodeError::TooShort { expected: Self::SPACE, actual: data.len() });
        }
        bytemuck::try_from_bytes(&data[8..Self::SPACE]).map_err(|_| DecodeError::Misaligned)
    }

    /// Bytes as the program stores them.
    fn encode(&self) -> Vec<u8> {
        let mut data = Vec::with_capacity(Self::SPACE);
        data.extend_from_slice(Self::DISCRIMINATOR);
        data.extend_from_slice(bytemuck::bytes_of(self));
        data
    }
}

impl ProgramAccount for Clearinghouse {}
impl ProgramAccount for MarginAccount {}
impl ProgramAccount for Market {}
impl ProgramAccount for OrderBook {}
impl ProgramAccount for PriceFeed {}
impl ProgramAccount for InsuranceStake {}
impl ProgramAccount for AdlRound {}

/// A byte comparison on account data, as `getProgramAccounts` takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Memcmp {
    pub offset: usize,
    pub bytes: Vec<u8>,
}

/// Which program accounts to fetch: every filter must match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountFilter {
    pub data_size: Option<usize>,
    pub memcmp: Vec<Memcmp>,
}

impl AccountFilter {
    /// Every account of type `T` (discriminator and exact size).
    pub fn of<T: ProgramAccount>() -> Self {
        Self { data_size: Some(T::SPACE), memcmp: vec![Memcmp { offset: 0, bytes: T::DISCRIMINATOR.to_vec() }] }
    }

    pub fn and(mut self, offset: usize, bytes: &[u8]) -> Self {
        self.memcmp.push(Memcmp { offset, bytes: bytes.to_vec() });
        self
    }

    /// Does `data` pass the filter? (The embedded backend filters locally with this.)
    pub fn matches(&self, data: &[u8]) -> bool {
        self.data_size.is_none_or(|n| n == data.len())
            && self.memcmp.iter().all(|m| data.get(m.offset..m.offset + m.bytes.len()) == Some(&m.bytes[..]))
    }

    /// The margin accounts of one clearinghouse.
    pub fn margin_accounts(clearinghouse: &Pubkey) -> Self {
        Self::of::<MarginAccount>().and(MARGIN_ACCOUNT_CLEARINGHOUSE_OFFSET, clearinghouse.as_ref())
    }

    /// One owner's margin accounts in a clearinghouse.
    pub fn margin_accounts_of(clearinghouse: &Pubkey, owner: &Pubkey) -> Self {
        Self::margin_accounts(clearinghouse).and(MARGIN_ACCOUNT_OWNER_OFFSET, owner.as_ref())
    }

    /// The markets of one clearinghouse (`Market::clearinghouse` is its first field).
    pub fn markets(clearinghouse: &Pubkey) -> Self {
        Self::of::<Market>().and(8, clearinghouse.as_ref())
    }

    /// The open ADL rounds of one clearinghouse (`AdlRound::clearinghouse` is its first field).
    pub fn adl_rounds(clearinghouse: &Pubkey) -> Self {
        Self::of::<AdlRound>().and(8, clearinghouse.as_ref())
    }
}

/// Decode every `(key, data)` pair that is a `T`, skipping any that is not.
pub fn decode_all<T: ProgramAccount>(raw: &[(Pubkey, Vec<u8>)]) -> Vec<(Pubkey, T)> {
    raw.iter().filter_map(|(key, data)| T::decode(data).ok().map(|a| (*key, a))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_checks_discriminator_and_size_and_round_trips() {
        let mut account: MarginAccount = bytemuck::Zeroable::zeroed();
        account.collateral_balance = 42;
        account.owner = Pubkey::new_from_array([7; 32]);
        let data = account.encode();
        assert_eq!(data.len(), 712);
        assert_eq!(MarginAccount::decode(&data).unwrap().collateral_balance, 42);
        assert_eq!(Market::decode(&data).unwrap_err(), DecodeError::WrongDiscriminator);
        assert_eq!(
            MarginAccount::decode(&data[..100]).unwrap_err(),
            DecodeError::TooShort { expected: 712, actual: 100 }
        );
        // Unaligned input decodes too; a view needs alignment.
        let mut shifted = vec![0u8];
        shifted.extend_from_slice(&data);
        assert_eq!(MarginAccount::decode(&shifted[1..]).unwrap().owner, account.owner);
        let mut words: Vec<u64> = vec![0; data.len() / 8];
        let aligned: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
        aligned.copy_from_slice(&data);
        assert_eq!(MarginAccount::view(aligned).unwrap().collateral_balance, 42);
        assert_eq!(MarginAccount::view(&shifted[1..]).unwrap_err(), DecodeError::Misaligned);
        assert_eq!(
            MarginAccount::view(&aligned[..8 + 100]).unwrap_err(),
            DecodeError::TooShort { expected: 712, actual: 108 }
        );
    }

    #[test]
    fn filters_select_by_clearinghouse_and_owner() {
        let (ch, other) = (Pubkey::new_from_array([1; 32]), Pubkey::new_from_array([2; 32]));
        let mut account: MarginAccount = bytemuck::Zeroable::zeroed();
        account.clearinghouse = ch;
        account.owner = other;
        let data = account.encode();
        assert!(AccountFilter::margin_accounts(&ch).matches(&data));
        assert!(!AccountFilter::margin_accounts(&other).matches(&data));
        assert!(AccountFilter::margin_accounts_of(&ch, &other).matches(&data));
        assert!(!AccountFilter::markets(&ch).matches(&data));
        assert!(!AccountFilter::margin_accounts(&ch).matches(&data[..711]));
    }
}
