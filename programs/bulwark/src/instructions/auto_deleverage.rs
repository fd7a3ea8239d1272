use anchor_lang::prelude::*;
use anchor_spl::token::{Token, TokenAccount};

use crate::constants::MAX_ADL_COUNTERPARTIES;
use crate::controller::adl::{
    assess_winner, fill_against_winner, market_shortfall, AdlCursor, AdlFillContext, WinnerFill,
};
use crate::controller::orders::cancel_orders;
use crate::controller::position::{find_position, settle_funding};
use crate::controller::pricing::{health_for_liquidation, load_prices_with_market, perp_spec, ActionPricing};
use crate::controller::vault::settle_insurance_flows;
use crate::controller::waterfall::{
    adl_eligibility, book_balance_change, cover_flat_deficit, update_liquidation_status,
};
use crate::error::BulwarkError;
use crate::events::CANCEL_REASON_LIQUIDATION;
use crate::math::adl::haircut_for_fill;
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

/// Permissionless one-shot auto-deleveraging (DESIGN.md §7.3), for clearinghouses with no
/// nomination window (`AdlRoundRequired` otherwise: see `begin_adl`). Closes up to `max_base_lots` (0: all)
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
        // With a nomination window configured the order of payers is contested in rounds; the
        // one-shot, where the caller alone picks the winners, is only for clearinghouses
        // without one.
        require!(ch.waterfall.adl_nomination_slots == 0, BulwarkError::AdlRoundRequired);
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
            ch.insurance_available(),
            target.liquidatable_since_slot,
            target.liquidatable_seen_slot,
            ch.waterfall.adl_grace_slots,
            clock.slot,
        )?;
        {
            let mut book = ctx.accounts.order_book.load_mut()?;
            cancel_orders(market_key, target_key, &mut target, &market, &mut book, None, CANCEL_REASON_LIQUIDATION)?;
        }

        let target_is_long = target_lots > 0;
        let share = market_shortfall(&target, market.index, price, &prices, ch.insurance_available())?;
        let context = AdlFillContext {
            clearinghouse: clearinghouse_key,
            market: market_key,
            target: target_key,
            price,
            spec: perp_spec(&market),
            target_is_long,
            shortfall: share,
        };
        let remaining_lots = target_lots.unsigned_abs();
        let to_fill = if max_base_lots == 0 { remaining_lots } else { max_base_lots.min(remaining_lots) };
        let mut cursor = AdlCursor { remaining_lots, uncovered_left: share.market_uncovered, to_fill };
        // What would be left had every winner paid its whole share: a capped winner's shortfall
        // may move on to the winners after it in this call, never to lots left for later calls
        // (a cranker could otherwise pile U onto the last lots until no winner can close them).
        let mut uncovered_left_uncapped = share.market_uncovered;
        let mut uncapped_remaining_lots = remaining_lots;
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
            settle_funding(&mut counterparty, slot, &market)?;
            // Score exactly as the keeper does: PnL% of this position × the account's leverage.
            let standing = assess_winner(&counterparty, market.index, target_is_long, price, &context.spec, &prices)?;
            require!(standing.score <= previous_score, BulwarkError::AdlCounterpartyOutOfOrder);
            previous_score = standing.score;
            if cursor.to_fill == 0 {
                balance_change += counterparty.collateral_balance as i128 - balance_before;
                continue; // checked, but the needed size is already filled
            }
            let outcome = fill_against_winner(
                &context,
                &mut market,
                &mut target,
                target_slot,
                *info.key,
                &mut counterparty,
                &standing,
                &mut cursor,
                u64::MAX,
            )?;
            if let WinnerFill::Filled { lots, .. } = outcome {
                uncovered_left_uncapped -= haircut_for_fill(uncovered_left_uncapped, lots, uncapped_remaining_lots)
                    .map_err(crate::math_err)?;
                uncapped_remaining_lots -= lots;
                counterparty.last_active_slot = clock.slot;
                filled_any = true;
            }
            balance_change += counterparty.collateral_balance as i128 - balance_before;
        }
        require!(filled_any, BulwarkError::AdlNoFill);
        require!(cursor.uncovered_left <= uncovered_left_uncapped, BulwarkError::AdlShortfallNotAbsorbed);

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
