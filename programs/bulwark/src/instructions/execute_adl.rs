use anchor_lang::prelude::*;
use anchor_spl::token::{Token, TokenAccount};

use crate::constants::MAX_ADL_COUNTERPARTIES;
use crate::controller::adl::{
    capped_at, fill_against_winner, market_shortfall, release_insurance, reopen_window, reserve_insurance, standing_of,
    start_round, AdlCursor, AdlFillContext, WinnerFill,
};
use crate::controller::orders::cancel_orders;
use crate::controller::position::{find_position, settle_funding};
use crate::controller::pricing::{
    health_for_liquidation, load_prices_with_market, perp_spec, with_exact_price, ActionPricing, MarketPrice,
};
use crate::controller::vault::settle_insurance_flows;
use crate::controller::waterfall::{
    adl_eligibility, book_balance_change, cover_flat_deficit_or_write_off, update_liquidation_status,
};
use crate::error::BulwarkError;
use crate::events::{
    emit_event, AdlCounterpartySkippedV1, AdlNomineeDeferredV1, AdlRoundClosedV1, CANCEL_REASON_LIQUIDATION,
};
use crate::math::adl::{outside_band, Shortfall};
use crate::math::safe::SafeMath;
use crate::state::{
    AdlNominee, AdlRound, Clearinghouse, MarginAccount, Market, OrderBook, MARKET_STATUS_ACTIVE,
    MARKET_STATUS_REDUCE_ONLY, MARKET_STATUS_SETTLING,
};

/// `AdlRoundClosedV1::reason`.
pub const ADL_ROUND_CLOSED_FLAT: u8 = 0;
pub const ADL_ROUND_CLOSED_NOT_ELIGIBLE: u8 = 1;

#[derive(Accounts)]
pub struct ExecuteAdl<'info> {
    #[account(mut)]
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
    #[account(mut, has_one = clearinghouse @ BulwarkError::MarketMismatch, has_one = order_book @ BulwarkError::MarketMismatch)]
    pub market: AccountLoader<'info, Market>,
    #[account(mut)]
    pub order_book: AccountLoader<'info, OrderBook>,
    /// CHECK: must be the market's configured feed; checked by the oracle reader.
    pub oracle: UncheckedAccount<'info>,
    #[account(mut, has_one = clearinghouse @ BulwarkError::ClearinghouseMismatch)]
    pub target: AccountLoader<'info, MarginAccount>,
    #[account(
        mut,
        has_one = clearinghouse @ BulwarkError::AdlRoundMismatch,
        has_one = market @ BulwarkError::AdlRoundMismatch,
        has_one = target @ BulwarkError::AdlRoundMismatch,
        has_one = opener @ BulwarkError::AdlRoundMismatch,
    )]
    pub round: AccountLoader<'info, AdlRound>,
    /// CHECK: the round's opener, who gets its rent back when it closes.
    #[account(mut)]
    pub opener: UncheckedAccount<'info>,
    #[account(mut, address = clearinghouse.load()?.collateral_vault @ BulwarkError::VaultMismatch)]
    pub collateral_vault: Box<Account<'info, TokenAccount>>,
    #[account(mut, address = clearinghouse.load()?.insurance_vault @ BulwarkError::VaultMismatch)]
    pub insurance_vault: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
    // remaining_accounts: (market, oracle) pairs for every other market the target or a
    // nominee holds, then the queue's first entries, in the queue's order.
}

/// What one `execute_adl` call did to its round.
enum RoundStep {
    /// Fills made (or none possible); the round stays open.
    Continue,
    /// The round ends; `reason` per `AdlRoundClosedV1`.
    Close(u8),
}

/// Execute an ADL round after its window (permissionless): the target is closed against the
/// queue in the queue's order, each winner at `P ± its share of U`, the share capped at its
/// profit at `P` on the lots it closes (the rest carries to the winners after it). A queued
/// winner that no longer holds a profitable opposite position, or cannot pay without going
/// below zero equity, is skipped with its event and leaves the queue; a capped winner that
/// would close every lot still open while other winners are queued is deferred behind them (the
/// part of its share it cannot pay would otherwise have no lots left to carry it). When the
/// queue runs out first, nominations are taken again. When the oracle has left the fill band
/// around `P`, or the target's position changed, the round restarts at the new price. When the
/// target is flat in the market the round closes; a flat target's debt that insurance cannot
/// pay (the winners' profits did not suffice) is written off as bad debt, never taken from
/// anyone's principal. A target no longer eligible closes the round untouched.
pub fn handler<'info>(ctx: Context<'info, ExecuteAdl<'info>>) -> Result<()> {
    let clock = Clock::get()?;
    let clearinghouse_key = ctx.accounts.clearinghouse.key();
    let market_key = ctx.accounts.market.key();
    let target_key = ctx.accounts.target.key();
    let round_key = ctx.accounts.round.key();

    let (payout, step) = {
        let mut ch = ctx.accounts.clearinghouse.load_mut()?;
        require!(!ch.is_paused(), BulwarkError::ClearinghousePaused);
        let mut market = ctx.accounts.market.load_mut()?;
        require!(
            matches!(market.status, MARKET_STATUS_ACTIVE | MARKET_STATUS_REDUCE_ONLY | MARKET_STATUS_SETTLING),
            BulwarkError::MarketNotTradable
        );
        let mut target = ctx.accounts.target.load_mut()?;
        let mut round = ctx.accounts.round.load_mut()?;
        require!(clock.slot > round.window_end_slot, BulwarkError::AdlNominationWindowOpen);

        let (price, prices, used) = load_prices_with_market(
            &ch,
            &clearinghouse_key,
            &market,
            &ctx.accounts.oracle,
            ctx.remaining_accounts,
            &clock,
            ActionPricing::LIQUIDATION,
        )?;
        let queued = &ctx.remaining_accounts[used..];
        let window_slots = ch.waterfall.adl_nomination_slots;

        let mut balance_change: i128 = -(target.collateral_balance as i128);
        let target_slot = find_position(&target, market.index).filter(|&s| target.positions[s].base_lots != 0);
        let mut step = RoundStep::Continue;
        if let Some(target_slot) = target_slot {
            settle_funding(&mut target, target_slot, &market)?;
            let target_lots = target.positions[target_slot].base_lots;
            let target_health = health_for_liquidation(&target, &prices)?;
            // The insurance this round set aside counts for it, not against it.
            let for_round = ch.insurance_available().saturating_add(round.insurance_pays);
            let eligible = adl_eligibility(
                target_health.equity,
                target_health.meets_maintenance(),
                for_round,
                target.liquidatable_since_slot,
                target.liquidatable_seen_slot,
                ch.waterfall.adl_grace_slots,
                clock.slot,
            )
            .is_ok();
            let expected_lots =
                if round.target_lots > 0 { round.remaining_lots as i64 } else { -(round.remaining_lots as i64) };
            if !eligible {
                step = RoundStep::Close(ADL_ROUND_CLOSED_NOT_ELIGIBLE);
            } else if target_lots != expected_lots
                || outside_band(round.price, price, ch.waterfall.max_fill_deviation_bps)
                || (round.deficit > 0 && deficit_gone(&target, market.index, price, &prices)?)
            {
                // The frozen price, size or deficit no longer describes the close (a deficit gone at
                // today's price must not be paid by insurance or winners): start again from now.
                let mut book = ctx.accounts.order_book.load_mut()?;
                cancel_orders(
                    market_key,
                    target_key,
                    &mut target,
                    &market,
                    &mut book,
                    None,
                    CANCEL_REASON_LIQUIDATION,
                )?;
                release_insurance(&mut ch, &round);
                let shortfall = market_shortfall(&target, market.index, price, &prices, ch.insurance_available())?;
                reserve_insurance(&mut ch, &shortfall)?;
                round.restart_count = round.restart_count.saturating_add(1);
                start_round(&mut round, round_key, target_lots, price, &shortfall, clock.slot, window_slots)?;
            } else if round.nominee_count == 0 {
                reopen_window(&mut round, round_key, clock.slot, window_slots)?;
            } else {
                fill_from_queue(
                    round_key,
                    clearinghouse_key,
                    market_key,
                    target_key,
                    &mut market,
                    &mut target,
                    target_slot,
                    &mut round,
                    queued,
                    &prices,
                    &mut balance_change,
                    clock.slot,
                )?;
                if round.remaining_lots == 0 {
                    step = RoundStep::Close(ADL_ROUND_CLOSED_FLAT);
                } else if round.nominee_count == 0 {
                    reopen_window(&mut round, round_key, clock.slot, window_slots)?;
                }
            }
        } else {
            step = RoundStep::Close(ADL_ROUND_CLOSED_FLAT);
        }

        if let RoundStep::Close(_) = step {
            // Its share of insurance is paid now (when the target is flat) or goes back.
            release_insurance(&mut ch, &round);
            target.open_adl_rounds = 0;
        }
        let (payout, _) =
            cover_flat_deficit_or_write_off(clearinghouse_key, &mut ch, &mut market, target_key, &mut target)?;
        balance_change += target.collateral_balance as i128;
        book_balance_change(&mut ch, balance_change)?;
        let after = health_for_liquidation(&target, &prices)?;
        let waterfall = ch.waterfall;
        update_liquidation_status(target_key, &mut target, &after, &waterfall, clock.slot)?;
        target.last_active_slot = clock.slot;
        if let RoundStep::Close(reason) = step {
            emit_event(AdlRoundClosedV1 {
                round: round_key,
                target: target_key,
                reason,
                haircut_total: round.haircut_total,
                fill_count: round.fill_count,
                restart_count: round.restart_count,
                opened_slot: round.opened_slot,
                closed_slot: clock.slot,
                target_liquidatable_since_slot: round.target_liquidatable_since_slot,
            });
        }
        (payout, step)
    };

    if let RoundStep::Close(_) = step {
        ctx.accounts.round.close(ctx.accounts.opener.to_account_info())?;
    }
    settle_insurance_flows(
        &ctx.accounts.token_program.to_account_info(),
        &ctx.accounts.clearinghouse,
        ctx.accounts.collateral_vault.to_account_info(),
        ctx.accounts.insurance_vault.to_account_info(),
        0,
        payout,
    )
}

/// Whether the target has no deficit at `price` (this market exact, as the round's shortfall
/// is measured, so a banded price cannot make it flip on every call).
fn deficit_gone(target: &MarginAccount, market_index: u16, price: i64, prices: &[MarketPrice]) -> Result<bool> {
    Ok(health_for_liquidation(target, &with_exact_price(prices, market_index, price))?.equity >= 0)
}

/// Fill the target against the queue's first entries, which `queued` must name in order; each
/// leaves the queue, filled or skipped, except one deferred (capped at its profit, it would
/// close every lot left while other winners are queued: it pays after them). Updates the
/// round's lots, `U` left and totals.
#[allow(clippy::too_many_arguments)]
fn fill_from_queue<'info>(
    round_key: Pubkey,
    clearinghouse_key: Pubkey,
    market_key: Pubkey,
    target_key: Pubkey,
    market: &mut Market,
    target: &mut MarginAccount,
    target_slot: usize,
    round: &mut AdlRound,
    queued: &'info [AccountInfo<'info>],
    prices: &[MarketPrice],
    balance_change: &mut i128,
    slot: u64,
) -> Result<()> {
    require!(
        !queued.is_empty() && queued.len() <= MAX_ADL_COUNTERPARTIES.min(round.nominee_count as usize),
        BulwarkError::AdlQueueOrder
    );
    for (info, entry) in queued.iter().zip(round.queue()) {
        require_keys_eq!(*info.key, entry.margin_account, BulwarkError::AdlQueueOrder);
    }
    let target_is_long = round.target_lots > 0;
    let context = AdlFillContext {
        clearinghouse: clearinghouse_key,
        market: market_key,
        target: target_key,
        price: round.price,
        spec: perp_spec(market),
        target_is_long,
        shortfall: crate::controller::adl::MarketShortfall {
            split: Shortfall {
                deficit: round.deficit as u128,
                insurance_pays: round.insurance_pays as u128,
                uncovered: round.uncovered as u128,
            },
            market_uncovered: round.uncovered as u128,
            market_insurance_pays: round.insurance_pays as u128,
        },
    };
    let at_round_price = with_exact_price(prices, market.index, round.price);
    let mut cursor = AdlCursor {
        remaining_lots: round.remaining_lots,
        uncovered_left: round.uncovered_left as u128,
        to_fill: round.remaining_lots,
    };
    // Entries passed that stay queued: not reached, or deferred.
    let mut kept: Vec<AdlNominee> = Vec::with_capacity(queued.len());
    let mut deferred_now = false;
    for (i, info) in queued.iter().enumerate() {
        let entry = round.nominees[i];
        // Once an entry is deferred in this call, the older deferred ones wait for the next
        // call, which orders them all by score again.
        if cursor.to_fill == 0 || (entry.deferred != 0 && deferred_now) {
            kept.push(entry);
            continue;
        }
        // Queued at nomination; anything may have changed since. Whoever no longer qualifies,
        // or closed its account, is passed over, never a reason to stop the close.
        let Ok(loader) = AccountLoader::<MarginAccount>::try_from(info) else {
            emit_event(AdlCounterpartySkippedV1 { target: target_key, counterparty: *info.key, score: 0 });
            continue;
        };
        let mut winner = loader.load_mut()?;
        let balance_before = winner.collateral_balance as i128;
        let standing = match find_position(&winner, market.index) {
            Some(slot) => {
                settle_funding(&mut winner, slot, market)?;
                // Pricing errors fail the call: nobody is passed over by leaving its markets out.
                standing_of(&winner, market.index, target_is_long, round.price, &context.spec, &at_round_price)?.ok()
            }
            None => None,
        };
        let outcome = match standing {
            Some(standing) => {
                // Never more lots than it held when it was scored.
                let lots = standing.lots.unsigned_abs().min(entry.lots);
                let n = cursor.to_fill.min(lots);
                // A capped winner closes only the lots the winners queued after it cannot take:
                // what it cannot pay then carries to as many lots as possible, never onto a few.
                let mut max_lots = u64::MAX;
                if capped_at(&context, &standing, &cursor, n)? {
                    let lots_after: u64 = round.queue()[i + 1..]
                        .iter()
                        .filter(|q| q.deferred == 0)
                        .fold(0u64, |total, q| total.saturating_add(q.lots));
                    max_lots = cursor.remaining_lots.saturating_sub(lots_after);
                    if max_lots == 0 && entry.deferred == 0 {
                        emit_event(AdlNomineeDeferredV1 {
                            round: round_key,
                            margin_account: *info.key,
                            score: standing.score,
                        });
                        kept.push(AdlNominee { deferred: 1, ..entry });
                        deferred_now = true;
                        *balance_change += winner.collateral_balance as i128 - balance_before;
                        continue;
                    }
                    if entry.deferred != 0 {
                        max_lots = u64::MAX; // last in line: it takes what is left
                    }
                }
                fill_against_winner(
                    &context,
                    market,
                    target,
                    target_slot,
                    *info.key,
                    &mut winner,
                    &standing,
                    &mut cursor,
                    max_lots.min(lots),
                )?
            }
            None => {
                emit_event(AdlCounterpartySkippedV1 { target: target_key, counterparty: *info.key, score: 0 });
                WinnerFill::Skipped
            }
        };
        if let WinnerFill::Filled { haircut, .. } = outcome {
            winner.last_active_slot = slot;
            round.fill_count = round.fill_count.saturating_add(1);
            round.haircut_total = round.haircut_total.safe_add(haircut as u64).map_err(crate::math_err)?;
        }
        *balance_change += winner.collateral_balance as i128 - balance_before;
    }
    round.replace_front(queued.len(), &kept)?;
    round.remaining_lots = cursor.remaining_lots;
    round.uncovered_left = cursor.uncovered_left as u64;
    Ok(())
}
