use anchor_lang::prelude::*;
use anchor_spl::token::{Token, TokenAccount};

use crate::constants::MAX_ADL_COUNTERPARTIES;
use crate::controller::market::record_open_interest;
use crate::controller::orders::cancel_orders;
use crate::controller::position::{fill_account, find_position, settle_funding};
use crate::controller::pricing::{
    health, health_for_liquidation, load_prices_with_market, perp_spec, with_exact_price, ActionPricing,
};
use crate::controller::vault::settle_insurance_flows;
use crate::controller::waterfall::{
    adl_eligibility, book_balance_change, cover_flat_deficit, update_liquidation_status,
};
use crate::error::BulwarkError;
use crate::events::{emit_event, AdlCounterpartySkippedV1, AdlFillV1, AdlHaircutCappedV1, CANCEL_REASON_LIQUIDATION};
use crate::math::adl::{adl_score, capped_haircut, haircut_for_fill, profit_on_fill, shortfall, uncovered_for_market};
use crate::math::liquidation::marginal_close_value;
use crate::math::perp::base_value;
use crate::math::safe::{to_u64, SafeMath};
use crate::state::{
    Clearinghouse, MarginAccount, Market, OrderBook, MARKET_STATUS_ACTIVE, MARKET_STATUS_REDUCE_ONLY,
    MARKET_STATUS_SETTLING,
};

#[derive(Accounts)]
pub struct AutoDeleverage<'info> {
    #[account(mut)]
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
    #[account(mut, has_one = clearinghouse @ BulwarkError::MarketMismatch, has_one = order_book @ BulwarkError::MarketMismatch)]
    pub market: AccountLoader<'info, Market>,
    #[account(mut)]
    pub order_book: AccountLoader<'info, OrderBook>,
    /// CHECK: must be the market's configured feed; checked by the oracle reader.
    pub oracle: UncheckedAccount<'info>,
    /// The account whose position is closed.
    #[account(mut, has_one = clearinghouse @ BulwarkError::ClearinghouseMismatch)]
    pub target: AccountLoader<'info, MarginAccount>,
    #[account(mut, address = clearinghouse.load()?.collateral_vault @ BulwarkError::VaultMismatch)]
    pub collateral_vault: Box<Account<'info, TokenAccount>>,
    #[account(mut, address = clearinghouse.load()?.insurance_vault @ BulwarkError::VaultMismatch)]
    pub insurance_vault: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
    // remaining_accounts: (market, oracle) pairs for every other market the target or a
    // counterparty holds, then the counterparties' margin accounts in non-increasing ADL score.
}

/// Permissionless auto-deleveraging (DESIGN.md §7.3). Closes up to `max_base_lots` (0: all)
/// of the target's position against the counterparties passed, at the oracle price moved
/// against them by exactly the deficit insurance cannot pay, `P ± U/q`. The program recomputes
/// every counterparty's score and requires them eligible and in non-increasing order; one that
/// cannot pay its haircut without going below zero equity is skipped. Call again until flat.
/// Pricing (`ActionPricing::LIQUIDATION`): this market's price must be valid; other markets may
/// be priced by the relaxed rule, read in the target's favour (eligibility, shortfall) and
/// against each counterparty (score, whether it can pay).
/// Compute: bounded by `MAX_ADL_COUNTERPARTIES` and the markets priced; the worst case measured
/// on the bytecode and its budget are in `docs/compute.md`.
pub fn handler<'info>(ctx: Context<'info, AutoDeleverage<'info>>, max_base_lots: u64) -> Result<()> {
    let clock = Clock::get()?;
    let clearinghouse_key = ctx.accounts.clearinghouse.key();
    let market_key = ctx.accounts.market.key();
    let target_key = ctx.accounts.target.key();

    let payout = {
        let mut ch = ctx.accounts.clearinghouse.load_mut()?;
        require!(!ch.is_paused(), BulwarkError::ClearinghousePaused);
        let mut market = ctx.accounts.market.load_mut()?;
        require!(
            matches!(market.status, MARKET_STATUS_ACTIVE | MARKET_STATUS_REDUCE_ONLY | MARKET_STATUS_SETTLING),
            BulwarkError::MarketNotTradable
        );
        let mut target = ctx.accounts.target.load_mut()?;

        // The market acted on needs a valid price; the other markets the accounts hold may be
        // priced by the relaxed rule, read for the account judged and against the others.
        let (price, prices, used) = load_prices_with_market(
            &ch,
            &clearinghouse_key,
            &market,
            &ctx.accounts.oracle,
            ctx.remaining_accounts,
            &clock,
            ActionPricing::LIQUIDATION,
        )?;
        let counterparties = &ctx.remaining_accounts[used..];
        require!(counterparties.len() <= MAX_ADL_COUNTERPARTIES, BulwarkError::TooManyAdlCounterparties);

        let target_slot = find_position(&target, market.index).ok_or(BulwarkError::NoPositionInMarket)?;
        let target_lots = target.positions[target_slot].base_lots;
        require!(target_lots != 0, BulwarkError::NoPositionInMarket);
        // Every balance this instruction touches, funding included, is booked at the end.
        let mut balance_change: i128 = -(target.collateral_balance as i128);
        settle_funding(&mut target, target_slot, &market)?;
        let target_health = health_for_liquidation(&target, &prices)?;
        adl_eligibility(
            target_health.equity,
            target_health.meets_maintenance(),
            ch.insurance_balance,
            target.liquidatable_since_slot,
            target.liquidatable_seen_slot,
            ch.waterfall.adl_grace_slots,
            clock.slot,
        )?;
        {
            let mut book = ctx.accounts.order_book.load_mut()?;
            cancel_orders(market_key, target_key, &mut target, &market, &mut book, None, CANCEL_REASON_LIQUIDATION)?;
        }

        let spec = perp_spec(&market);
        // U is what the fills, all at `price`, must carry: this market valued at exactly that
        // price (its band's favourable end, right for judging eligibility, would understate
        // the deficit the close realises and leave insurance short by the difference); the
        // target's other markets stay read in its favour.
        let at_fill_price = with_exact_price(&prices, market.index, price);
        let split = shortfall(health_for_liquidation(&target, &at_fill_price)?.equity, ch.insurance_balance);
        let target_is_long = target_lots > 0;
        let mut remaining_lots = target_lots.unsigned_abs();
        // This market's share of the shortfall, by notional: a small position elsewhere is not
        // made to carry a large loss here.
        let mut notional_here = 0i128;
        let mut notional_total = 0i128;
        for position in target.open_positions() {
            let Some(p) = prices.iter().find(|m| m.index == position.market_index) else { continue };
            let notional = base_value(position.base_lots, p.price, &p.spec).map_err(crate::math_err)?.abs();
            notional_total = notional_total.safe_add(notional).map_err(crate::math_err)?;
            if position.market_index == market.index {
                notional_here = notional;
            }
        }
        let market_uncovered =
            uncovered_for_market(split.uncovered, notional_here, notional_total).map_err(crate::math_err)?;
        let mut uncovered_left = market_uncovered;
        // What would be left had every winner paid its whole share: a capped winner's shortfall
        // may move on to the winners after it in this call, never to lots left for later calls
        // (a cranker could otherwise pile U onto the last lots until no winner can close them).
        let mut uncovered_left_uncapped = market_uncovered;
        let mut to_fill = if max_base_lots == 0 { remaining_lots } else { max_base_lots.min(remaining_lots) };
        let mut previous_score = u128::MAX;
        let mut filled_any = false;

        for (i, info) in counterparties.iter().enumerate() {
            require_keys_neq!(*info.key, target_key, BulwarkError::DuplicateAccount);
            require!(counterparties[..i].iter().all(|o| o.key != info.key), BulwarkError::DuplicateAccount);
            let loader = AccountLoader::<MarginAccount>::try_from(info)?;
            let mut counterparty = loader.load_mut()?;
            require_keys_eq!(counterparty.clearinghouse, clearinghouse_key, BulwarkError::ClearinghouseMismatch);
            let balance_before = counterparty.collateral_balance as i128;
            let slot = find_position(&counterparty, market.index).ok_or(BulwarkError::AdlCounterpartyNoPosition)?;
            let lots = counterparty.positions[slot].base_lots;
            require!(lots != 0, BulwarkError::AdlCounterpartyNoPosition);
            require!((lots > 0) != target_is_long, BulwarkError::AdlCounterpartySameSide);
            settle_funding(&mut counterparty, slot, &market)?;
            balance_change += counterparty.collateral_balance as i128 - balance_before;
            let balance_before = counterparty.collateral_balance as i128;

            // Score exactly as the keeper does: PnL% of this position × the account's leverage.
            let position = counterparty.positions[slot];
            let value = base_value(lots, price, &spec).map_err(crate::math_err)?;
            let upnl = value.safe_add(position.quote_entry as i128).map_err(crate::math_err)?;
            require!(upnl > 0, BulwarkError::AdlCounterpartyNotInProfit);
            let counterparty_health = health(&counterparty, &prices)?;
            let score = adl_score(upnl, position.quote_entry as i128, value.abs(), counterparty_health.equity);
            require!(score <= previous_score, BulwarkError::AdlCounterpartyOutOfOrder);
            previous_score = score;
            if to_fill == 0 {
                continue; // checked, but the needed size is already filled
            }

            let n = to_fill.min(lots.unsigned_abs());
            let share = haircut_for_fill(uncovered_left, n, remaining_lots).map_err(crate::math_err)?;
            let oracle_quote = marginal_close_value(target_lots.signum() * remaining_lots as i64, n, price, &spec)
                .map_err(crate::math_err)? as u128;
            // A winner pays from its profit on the lots it closes, never from principal, and a
            // short target never buys back below zero: what the cap leaves stays in the
            // shortfall for the fills after this one.
            let profit_cap = profit_on_fill(upnl, n, lots.unsigned_abs()).map_err(crate::math_err)?;
            let haircut = capped_haircut(share, profit_cap, oracle_quote, target_is_long);
            // A long target sells above the oracle value, a short one buys below it.
            let quote = if target_is_long {
                oracle_quote.safe_add(haircut).map_err(crate::math_err)?
            } else {
                oracle_quote.safe_sub(haircut).map_err(crate::math_err)?
            };
            let quote = to_u64(quote as i128).map_err(crate::math_err)?;
            let counterparty_fill = if target_is_long { n as i64 } else { -(n as i64) };

            // Its equity after paying: value change of its position at the oracle minus cash.
            let value_after = base_value(lots + counterparty_fill, price, &spec).map_err(crate::math_err)?;
            let cash = if counterparty_fill > 0 { -(quote as i128) } else { quote as i128 };
            let equity_after = counterparty_health.equity + (value_after - value) + cash;
            if equity_after < 0 {
                emit_event(AdlCounterpartySkippedV1 { target: target_key, counterparty: *info.key, score });
                continue;
            }

            let target_fill = fill_account(&mut target, target_slot, -counterparty_fill, quote, 0)?;
            let their_fill = fill_account(&mut counterparty, slot, counterparty_fill, quote, 0)?;
            record_open_interest(&mut market, target_fill.base_lots_before, target_fill.base_lots_after)?;
            record_open_interest(&mut market, their_fill.base_lots_before, their_fill.base_lots_after)?;
            counterparty.last_active_slot = clock.slot;
            balance_change += counterparty.collateral_balance as i128 - balance_before;

            if haircut < share {
                emit_event(AdlHaircutCappedV1 {
                    target: target_key,
                    counterparty: *info.key,
                    share: to_u64(share as i128).map_err(crate::math_err)?,
                    haircut: to_u64(haircut as i128).map_err(crate::math_err)?,
                    profit_on_fill: to_u64(profit_cap as i128).map_err(crate::math_err)?,
                });
            }
            uncovered_left -= haircut;
            uncovered_left_uncapped -=
                haircut_for_fill(uncovered_left_uncapped, n, remaining_lots).map_err(crate::math_err)?;
            remaining_lots -= n;
            to_fill -= n;
            filled_any = true;
            let haircut = to_u64(haircut as i128).map_err(crate::math_err)?;
            market.adl_fill_count = market.adl_fill_count.safe_add(1).map_err(crate::math_err)?;
            market.adl_haircut_total = market.adl_haircut_total.safe_add(haircut).map_err(crate::math_err)?;
            emit_event(AdlFillV1 {
                clearinghouse: clearinghouse_key,
                market: market_key,
                target: target_key,
                counterparty: *info.key,
                base_lots: -counterparty_fill,
                oracle_price: price,
                quote,
                haircut,
                score,
                deficit: to_u64(split.deficit as i128).map_err(crate::math_err)?,
                insurance_pays: to_u64(split.insurance_pays as i128).map_err(crate::math_err)?,
                uncovered: to_u64(split.uncovered as i128).map_err(crate::math_err)?,
                market_uncovered: to_u64(market_uncovered as i128).map_err(crate::math_err)?,
            });
        }
        require!(filled_any, BulwarkError::AdlNoFill);
        require!(uncovered_left <= uncovered_left_uncapped, BulwarkError::AdlShortfallNotAbsorbed);

        let payout = cover_flat_deficit(clearinghouse_key, &mut ch, target_key, &mut target)?;
        balance_change += target.collateral_balance as i128;
        book_balance_change(&mut ch, balance_change)?;
        let after = health_for_liquidation(&target, &prices)?;
        let waterfall = ch.waterfall;
        update_liquidation_status(target_key, &mut target, &after, &waterfall, clock.slot)?;
        target.last_active_slot = clock.slot;
        payout
    };

    settle_insurance_flows(
        &ctx.accounts.token_program.to_account_info(),
        &ctx.accounts.clearinghouse,
        ctx.accounts.collateral_vault.to_account_info(),
        ctx.accounts.insurance_vault.to_account_info(),
        0,
        payout,
    )
}
