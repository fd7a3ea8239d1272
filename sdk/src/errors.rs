//! Bulwark's program errors by code, from the committed IDL (which CI checks is current), so a
//! client can name the error a transaction failed with.

use std::sync::OnceLock;

/// One `BulwarkError` variant: its code, name and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramError {
    pub code: u32,
    pub name: String,
    pub message: String,
}

const IDL: &str = include_str!("../../idl/bulwark.json");

/// Every Bulwark error, in code order.
pub fn program_errors() -> &'static [ProgramError] {
    static ERRORS: OnceLock<Vec<ProgramError>> = OnceLock::new();
    ERRORS.get_or_init(|| {
        let idl: serde_json::Value = serde_json::from_str(IDL).expect("the committed IDL is JSON");
        idl["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| {
                        Some(ProgramError {
                            code: e["code"].as_u64()? as u32,
                            name: e["name"].as_str()?.to_string(),
                            message: e["msg"].as_str().unwrap_or_default().to_string(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    })
}

/// The Bulwark error with this custom code.
pub fn program_error(code: u32) -> Option<&'static ProgramError> {
    program_errors().iter().find(|e| e.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulwark::error::BulwarkError;

    #[test]
    fn codes_name_the_program_errors() {
        for error in [BulwarkError::MathOverflow, BulwarkError::NotFeedAuthority, BulwarkError::AccountNotLiquidatable]
        {
            let found = program_error(u32::from(error)).expect("listed");
            assert_eq!(found.name, format!("{error:?}"));
            assert_eq!(found.message, error.to_string());
        }
        assert_eq!(program_error(1), None);
        assert!(program_errors().windows(2).all(|w| w[0].code + 1 == w[1].code));
    }
}
