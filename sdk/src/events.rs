//! Events from transaction logs. A validator logs Anchor's `emit!` as `Program data: <base64>`;
//! the embedded bank's native builtins route it as `Program log: event: <base64>`. Both parse.

use anchor_lang::{AnchorDeserialize, Discriminator};
use base64::{prelude::BASE64_STANDARD, Engine};

pub const VALIDATOR_EVENT_PREFIX: &str = "Program data: ";
pub const NATIVE_EVENT_PREFIX: &str = "Program log: event: ";

/// Every event of type `E` in `logs`, in order.
pub fn decode_events<E: AnchorDeserialize + Discriminator>(logs: &[String]) -> Vec<E> {
    logs.iter()
        .filter_map(|line| line.strip_prefix(NATIVE_EVENT_PREFIX).or_else(|| line.strip_prefix(VALIDATOR_EVENT_PREFIX)))
        .filter_map(|b64| BASE64_STANDARD.decode(b64.trim()).ok())
        .filter(|bytes| bytes.starts_with(E::DISCRIMINATOR))
        .filter_map(|bytes| E::try_from_slice(&bytes[E::DISCRIMINATOR.len()..]).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use anchor_lang::prelude::Pubkey;
    use anchor_lang::AnchorSerialize;
    use bulwark::events::InsurancePayoutV1;

    #[test]
    fn both_log_forms_decode() {
        let event = InsurancePayoutV1 {
            clearinghouse: Pubkey::new_from_array([1; 32]),
            margin_account: Pubkey::new_from_array([2; 32]),
            amount: 5,
            insurance_balance_after: 7,
        };
        let mut bytes = InsurancePayoutV1::DISCRIMINATOR.to_vec();
        event.serialize(&mut bytes).unwrap();
        let b64 = BASE64_STANDARD.encode(&bytes);
        let logs = vec![
            format!("{VALIDATOR_EVENT_PREFIX}{b64}"),
            "Program log: something else".to_string(),
            format!("{NATIVE_EVENT_PREFIX}{b64}"),
        ];
        let decoded: Vec<InsurancePayoutV1> = decode_events(&logs);
        assert_eq!(decoded.len(), 2);
        assert_eq!(decoded[0].amount, 5);
    }
}
