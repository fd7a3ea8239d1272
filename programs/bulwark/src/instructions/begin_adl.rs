use anchor_lang::prelude::*;

use crate::constants::ADL_ROUND_SEED;
use crate::controller::adl::{market_shortfall, reserve_insurance, start_round};
use crate::controller::orders::cancel_orders;
use crate::controller::position::{find_position, settle_funding};
use crate::controller::pricing::{health_for_liquidation, load_prices_with_market, ActionPricing};
use crate::controller::waterfall::{adl_eligibility, book_balance_change};
use crate::error::BulwarkError;
use crate::events::CANCEL_REASON_LIQUIDATION;
use crate::state::{
    account_space, AdlRound, Clearinghouse, MarginAccount, Market, OrderBook, MARKET_STATUS_ACTIVE,
    MARKET_STATUS_REDUCE_ONLY, MARKET_STATUS_SETTLING,
};

#[derive(Accounts)]
pub struct BeginAdl<'info> {
    #[account(mut)]
    pub payer: Signer<'info>,
    #[account(mut)]
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
    #[account(has_one = clearinghouse @ BulwarkError::MarketMismatch, has_one = order_book @ BulwarkError::MarketMismatch)]
    pub market: AccountLoader<'info, Market>,
    #[account(mut)]
    pub order_book: AccountLoader<'info, OrderBook>,
    /// CHECK: must be the market's configured feed; checked by the oracle reader.
    pub oracle: UncheckedAccount<'info>,
    #[account(mut, has_one = clearinghouse @ BulwarkError::ClearinghouseMismatch)]
    pub target: AccountLoader<'info, MarginAccount>,
    #[account(
        init,
        payer = payer,
        space = account_space::<AdlRound>(),
        seeds = [ADL_ROUND_SEED, market.key().as_ref(), target.key().as_ref()],
        bump,
    )]
    pub round: AccountLoader<'info, AdlRound>,
    pub system_program: Program<'info, System>,
    // remaining_accounts: (market, oracle) pairs for every other market the target holds.
}

/// Open an ADL round (permissionless): the target must be eligible exactly as for the
/// one-shot ADL (bankrupt with insurance short, or forced out after `adl_grace_slots`). Its
/// orders in the market are cancelled; the oracle price, its lots and this market's share of
/// the deficit insurance cannot pay are frozen; nominations are taken for
/// `adl_nomination_slots`. The payer gets the rent back when the round closes.
pub fn handler<'info>(ctx: Context<'info, BeginAdl<'info>>) -> Result<()> {
    let clock = Clock::get()?;
    let clearinghouse_key = ctx.accounts.clearinghouse.key();
    let market_key = ctx.accounts.market.key();
    let target_key = ctx.accounts.target.key();
    let round_key = ctx.accounts.round.key();

    let mut ch = ctx.accounts.clearinghouse.load_mut()?;
    require!(!ch.is_paused(), BulwarkError::ClearinghousePaused);
    let market = ctx.accounts.market.load()?;
    require!(
        matches!(market.status, MARKET_STATUS_ACTIVE | MARKET_STATUS_REDUCE_ONLY | MARKET_STATUS_SETTLING),
        BulwarkError::MarketNotTradable
    );
    let mut target = ctx.accounts.target.load_mut()?;
    let (price, prices, _) = load_prices_with_market(
        &ch,
        &clearinghouse_key,
        &market,
        &ctx.accounts.oracle,
        ctx.remaining_accounts,
        &clock,
        ActionPricing::LIQUIDATION,
    )?;
    // One round per account at a time: its insurance share is computed and set aside once.
    require!(target.open_adl_rounds == 0, BulwarkError::AdlRoundOpen);
    let target_slot = find_position(&target, market.index).ok_or(BulwarkError::NoPositionInMarket)?;
    let target_lots = target.positions[target_slot].base_lots;
    require!(target_lots != 0, BulwarkError::NoPositionInMarket);
    let balance_before = target.collateral_balance as i128;
    settle_funding(&mut target, target_slot, &market)?;
    book_balance_change(&mut ch, target.collateral_balance as i128 - balance_before)?;
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
    let shortfall = market_shortfall(&target, market.index, price, &prices, ch.insurance_available())?;
    // What insurance will pay of this deficit is set aside now: rounds open at once must not
    // each count on the same balance.

    let mut round = ctx.accounts.round.load_init()?;
    round.clearinghouse = clearinghouse_key;
    round.market = market_key;
    round.target = target_key;
    round.opener = ctx.accounts.payer.key();
    round.opened_slot = clock.slot;
    round.target_liquidatable_since_slot = target.liquidatable_since_slot;
    round.bump = ctx.bumps.round;
    target.open_adl_rounds = 1;
    reserve_insurance(&mut ch, &shortfall)?;
    start_round(&mut round, round_key, target_lots, price, &shortfall, clock.slot, ch.waterfall.adl_nomination_slots)
}
