use anchor_lang::prelude::*;

use crate::constants::COLLATERAL_LAST_GOOD_MAX_AGE_SECONDS;
use crate::error::BulwarkError;
use crate::events::{emit_event, CollateralModeChangedV1, CollateralPriceSourceChangedV1, CollateralPriceV1};
use crate::math::oracle::{normalize_to_price_precision, OracleTolerance, OracleValidity};
use crate::math::redemption::{redemption_aware_price, HardBandClock, RedemptionAttestation};
use crate::oracle::{manual, read_checked, validity_error};
use crate::state::{
    Clearinghouse, CollateralOracleState, PriceFeed, COLLATERAL_MODE_MARKET, COLLATERAL_MODE_REDEMPTION_AWARE,
    COLLATERAL_PRICE_LAST_GOOD, COLLATERAL_PRICE_MARKET, COLLATERAL_PRICE_SOFT_FLOOR,
};

/// The feed accounts a collateral price read may need.
#[derive(Clone, Copy)]
pub struct CollateralFeeds<'a, 'info> {
    pub market: Option<&'a AccountInfo<'info>>,
    pub redemption_rate: Option<&'a AccountInfo<'info>>,
    pub redemption_health: Option<&'a AccountInfo<'info>>,
}

/// One collateral price read: the price used, what the market printed, the mode, and where the
/// price came from (`state::COLLATERAL_PRICE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CollateralPrice {
    pub price: i64,
    pub market_price: i64,
    pub redemption_mode: u8,
    pub broken_reasons: u8,
    pub source: u8,
}

fn load_attestation_feed(expected: &Pubkey, account: Option<&AccountInfo>) -> Result<PriceFeed> {
    let account = account.ok_or(BulwarkError::OracleAccountMissing)?;
    require_keys_eq!(*account.key, *expected, BulwarkError::OracleAccountMismatch);
    require_keys_eq!(*account.owner, crate::ID, BulwarkError::OracleWrongOwner);
    let data = account.try_borrow_data()?;
    manual::load(&data)
}

/// Price the collateral in USD at this slot, without recording anything: what
/// `refresh_collateral_price` would record, and the state it would leave. Clients (the keeper's
/// scan) call this on fetched accounts.
///
/// A market print `tolerance` does not accept is no reason to stop the clearinghouse:
/// * in healthy redemption mode the price is the soft floor `r·(1 − soft_band)` (the lowest
///   healthy mode can give; `collateral_quote` reads it as the band `[soft floor, r]`);
/// * in market or broken mode the last good price is kept while it is at most
///   `COLLATERAL_LAST_GOOD_MAX_AGE_SECONDS` old (`collateral_quote` reads it with a haircut);
///   older, the read fails with the print's own error.
///
/// Either way only risk-reducing actions may use the price (`CollateralPriceFallback`). A
/// non-positive print is refused in every mode.
pub fn read_collateral_price(
    clearinghouse: &Clearinghouse,
    feeds: CollateralFeeds,
    clock: &Clock,
    tolerance: OracleTolerance,
) -> Result<(CollateralPrice, CollateralOracleState)> {
    let config = clearinghouse.collateral_oracle;
    let state = clearinghouse.collateral_oracle_state;
    let now = clock.unix_timestamp;
    let market = read_checked(&config.market, feeds.market, clock)?;
    // A non-positive market print is unusable in any mode.
    require!(market.validity != OracleValidity::NonPositive, BulwarkError::OracleNonPositivePrice);
    let last_good = (state.last_price > 0
        && state.last_good_unix != 0
        && now.saturating_sub(state.last_good_unix) <= COLLATERAL_LAST_GOOD_MAX_AGE_SECONDS)
        .then_some(state.last_price);
    let mut next = CollateralOracleState { last_update_slot: clock.slot, ..state };

    let (price, source) = match config.mode {
        COLLATERAL_MODE_MARKET => {
            if tolerance.accepts(market.validity) {
                next.last_good_unix = now;
                (market.observation.price, COLLATERAL_PRICE_MARKET)
            } else {
                let price = last_good.ok_or_else(|| Error::from(validity_error(market.validity)))?;
                (price, COLLATERAL_PRICE_LAST_GOOD)
            }
        }
        COLLATERAL_MODE_REDEMPTION_AWARE => {
            let rate_feed = load_attestation_feed(&config.redemption_rate_feed, feeds.redemption_rate)?;
            let health_feed = load_attestation_feed(&config.redemption_health_feed, feeds.redemption_health)?;
            let rate = normalize_to_price_precision(rate_feed.price as i128, rate_feed.exponent, false)
                .map_err(crate::math_err)?;
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
            // The result never exceeds `r` (nor par), and while redemption is healthy it is
            // pinned within the soft band: a jumpy or wide print cannot push the collateral's
            // value up, and in a real depeg (broken mode) the print is volatile by nature and
            // still the only truth. A stale print is no observation at all.
            let usable = OracleTolerance { wide_confidence: true, too_volatile: true, ..tolerance };
            let print = usable.accepts(market.validity).then_some(market.observation.price);
            let hard_band = HardBandClock {
                below_seconds: state.below_hard_band_seconds,
                last_observed_unix: state.last_good_unix,
                last_below: state.last_print_below_hard_band != 0,
            };
            let outcome = redemption_aware_price(print, &attestation, &config.redemption_params(), now, hard_band)
                .map_err(crate::math_err)?;
            next.below_hard_band_seconds = outcome.hard_band.below_seconds;
            next.last_print_below_hard_band = outcome.hard_band.last_below as u8;
            next.last_good_unix = outcome.hard_band.last_observed_unix;
            next.redemption_mode = outcome.mode;
            next.broken_reasons = outcome.broken_reasons;
            match outcome.price {
                Some(price) if outcome.soft_floor_fallback => (price, COLLATERAL_PRICE_SOFT_FLOOR),
                Some(price) => (price, COLLATERAL_PRICE_MARKET),
                None => {
                    let price = last_good.ok_or_else(|| Error::from(validity_error(market.validity)))?;
                    (price, COLLATERAL_PRICE_LAST_GOOD)
                }
            }
        }
        _ => return err!(BulwarkError::InvalidOracleConfig),
    };
    next.last_price = price;
    next.price_source = source;
    let reading = CollateralPrice {
        price,
        market_price: market.observation.price,
        redemption_mode: next.redemption_mode,
        broken_reasons: next.broken_reasons,
        source,
    };
    Ok((reading, next))
}

/// Price the collateral in USD at this slot, record what was seen, and emit an event on every
/// mode switch and every change of price source (into or out of a fallback). Every instruction
/// that needs the collateral price follows this in the same slot, so liquidations, ADL and
/// withdrawals in one slot all see the same mode.
pub fn refresh_collateral_price(
    clearinghouse_key: Pubkey,
    clearinghouse: &mut Clearinghouse,
    feeds: CollateralFeeds,
    clock: &Clock,
    tolerance: OracleTolerance,
) -> Result<CollateralPrice> {
    let previous = clearinghouse.collateral_oracle_state;
    let (reading, next) = read_collateral_price(clearinghouse, feeds, clock, tolerance)?;
    clearinghouse.collateral_oracle_state = next;

    if reading.redemption_mode != previous.redemption_mode {
        emit_event(CollateralModeChangedV1 {
            clearinghouse: clearinghouse_key,
            previous_mode: previous.redemption_mode,
            mode: reading.redemption_mode,
            broken_reasons: reading.broken_reasons,
            market_price: reading.market_price,
            price: reading.price,
            slot: clock.slot,
        });
    }
    // A first refresh starts from the market source: only a fallback is news then.
    if reading.source != previous.price_source {
        emit_event(CollateralPriceSourceChangedV1 {
            clearinghouse: clearinghouse_key,
            previous_source: previous.price_source,
            source: reading.source,
            redemption_mode: reading.redemption_mode,
            price: reading.price,
            last_good_unix: next.last_good_unix,
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
