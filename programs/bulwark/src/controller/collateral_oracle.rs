use anchor_lang::prelude::*;

use crate::error::BulwarkError;
use crate::events::{emit_event, CollateralModeChangedV1, CollateralPriceV1};
use crate::math::oracle::{normalize_to_price_precision, OracleTolerance};
use crate::math::redemption::{redemption_aware_price, RedemptionAttestation};
use crate::oracle::{manual, read_checked};
use crate::state::{Clearinghouse, PriceFeed, COLLATERAL_MODE_MARKET, COLLATERAL_MODE_REDEMPTION_AWARE};

/// The feed accounts a collateral price read may need.
#[derive(Clone, Copy)]
pub struct CollateralFeeds<'a, 'info> {
    pub market: Option<&'a AccountInfo<'info>>,
    pub redemption_rate: Option<&'a AccountInfo<'info>>,
    pub redemption_health: Option<&'a AccountInfo<'info>>,
}

/// One collateral price read: the price used, what the market printed, and the mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CollateralPrice {
    pub price: i64,
    pub market_price: i64,
    pub redemption_mode: u8,
    pub broken_reasons: u8,
}

fn load_attestation_feed(expected: &Pubkey, account: Option<&AccountInfo>) -> Result<PriceFeed> {
    let account = account.ok_or(BulwarkError::OracleAccountMissing)?;
    require_keys_eq!(*account.key, *expected, BulwarkError::OracleAccountMismatch);
    require_keys_eq!(*account.owner, crate::ID, BulwarkError::OracleWrongOwner);
    let data = account.try_borrow_data()?;
    manual::load(&data)
}

/// Price the collateral in USD at this slot, without recording anything: what
/// `refresh_collateral_price` would record, and the hard-band timer it would keep. Clients
/// (the keeper's scan) call this on fetched accounts.
pub fn read_collateral_price(
    clearinghouse: &Clearinghouse,
    feeds: CollateralFeeds,
    clock: &Clock,
    tolerance: OracleTolerance,
) -> Result<(CollateralPrice, i64)> {
    let config = clearinghouse.collateral_oracle;
    let market = read_checked(&config.market, feeds.market, clock)?;
    let previous_mode = clearinghouse.collateral_oracle_state.redemption_mode;
    let mut below_hard_band_since = clearinghouse.collateral_oracle_state.below_hard_band_since;

    let reading = match config.mode {
        COLLATERAL_MODE_MARKET => {
            let price = market.require(tolerance)?;
            CollateralPrice { price, market_price: price, redemption_mode: previous_mode, broken_reasons: 0 }
        }
        COLLATERAL_MODE_REDEMPTION_AWARE => {
            let rate_feed = load_attestation_feed(&config.redemption_rate_feed, feeds.redemption_rate)?;
            let health_feed = load_attestation_feed(&config.redemption_health_feed, feeds.redemption_health)?;
            let rate = normalize_to_price_precision(rate_feed.price as i128, rate_feed.exponent, false)
                .map_err(crate::math_err)?;
            require!(rate > 0, BulwarkError::OracleNonPositivePrice);
            let attestation = RedemptionAttestation {
                rate,
                rate_publish_time: rate_feed.publish_time,
                redemption_enabled: health_feed.redemption_enabled != 0,
                reserve_ratio: normalize_to_price_precision(
                    health_feed.reserve_ratio as i128,
                    health_feed.exponent,
                    false,
                )
                .map_err(crate::math_err)?,
                health_publish_time: health_feed.publish_time,
            };
            // A non-positive market print is unusable in any mode.
            require!(market.observation.price > 0, BulwarkError::OracleNonPositivePrice);
            let outcome = redemption_aware_price(
                market.observation.price,
                &attestation,
                &config.redemption_params(),
                clock.unix_timestamp,
                clearinghouse.collateral_oracle_state.below_hard_band_since,
            )
            .map_err(crate::math_err)?;
            // The result never exceeds `r`, and while redemption is healthy it is pinned within
            // the soft band: a jumpy or wide print cannot push the collateral's value up, and in
            // a real depeg (broken mode) the print is volatile by nature and still the only
            // truth. Staleness always counts.
            market.require(OracleTolerance { wide_confidence: true, too_volatile: true, ..tolerance })?;
            below_hard_band_since = outcome.below_hard_band_since;
            CollateralPrice {
                price: outcome.price,
                market_price: market.observation.price,
                redemption_mode: outcome.mode,
                broken_reasons: outcome.broken_reasons,
            }
        }
        _ => return err!(BulwarkError::InvalidOracleConfig),
    };
    Ok((reading, below_hard_band_since))
}

/// Price the collateral in USD at this slot, record what was seen, and emit an event on every
/// mode switch. Every instruction that needs the collateral price calls this, so liquidations,
/// ADL and withdrawals in one slot all see the same mode.
pub fn refresh_collateral_price(
    clearinghouse_key: Pubkey,
    clearinghouse: &mut Clearinghouse,
    feeds: CollateralFeeds,
    clock: &Clock,
    tolerance: OracleTolerance,
) -> Result<CollateralPrice> {
    let previous_mode = clearinghouse.collateral_oracle_state.redemption_mode;
    let (reading, below_hard_band_since) = read_collateral_price(clearinghouse, feeds, clock, tolerance)?;
    clearinghouse.collateral_oracle_state.below_hard_band_since = below_hard_band_since;

    let state = &mut clearinghouse.collateral_oracle_state;
    state.last_price = reading.price;
    state.last_update_unix = clock.unix_timestamp;
    state.last_update_slot = clock.slot;
    state.redemption_mode = reading.redemption_mode;
    state.broken_reasons = reading.broken_reasons;

    if reading.redemption_mode != previous_mode {
        emit_event(CollateralModeChangedV1 {
            clearinghouse: clearinghouse_key,
            previous_mode,
            mode: reading.redemption_mode,
            broken_reasons: reading.broken_reasons,
            market_price: reading.market_price,
            price: reading.price,
            slot: clock.slot,
        });
    }
    emit_event(CollateralPriceV1 {
        clearinghouse: clearinghouse_key,
        price: reading.price,
        market_price: reading.market_price,
        redemption_mode: reading.redemption_mode,
        broken_reasons: reading.broken_reasons,
        slot: clock.slot,
    });
    Ok(reading)
}
