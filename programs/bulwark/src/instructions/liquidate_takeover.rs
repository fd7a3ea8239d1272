use anchor_lang::prelude::*;
use anchor_spl::token::{Token, TokenAccount};

use crate::controller::liquidation::{finish_liquidation, plan_liquidation};
use crate::controller::market::record_open_interest;
use crate::controller::position::{fill_account, position_index, settle_funding};
use crate::controller::pricing::{health, load_prices_with_market, ActionPricing};
use crate::controller::vault::settle_insurance_flows;
use crate::controller::waterfall::book_balance_change;
use crate::error::BulwarkError;
use crate::events::{emit_event, LiquidationV1, LIQUIDATION_KIND_TAKEOVER};
use crate::math::liquidation::{capped_liquidation_fee, liquidation_fee, marginal_close_value, split_takeover_fee};
use crate::math::safe::{to_i64, SafeMath};
use crate::state::{Clearinghouse, MarginAccount, Market, OrderBook, ACCOUNT_FLAG_BEING_LIQUIDATED};

#[derive(Accounts)]
pub struct LiquidateTakeover<'info> {
    /// Owner or delegate of `liquidator`.
    pub authority: Signer<'info>,
    #[account(mut)]
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
    /// Takes the position over; must meet its initial margin afterwards.
    #[account(
        mut,
        has_one = clearinghouse @ BulwarkError::ClearinghouseMismatch,
        constraint = liquidator.key() != margin_account.key() @ BulwarkError::DuplicateAccount,
    )]
    pub liquidator: AccountLoader<'info, MarginAccount>,
    /// The account being liquidated.
    #[account(mut, has_one = clearinghouse @ BulwarkError::ClearinghouseMismatch)]
    pub margin_account: AccountLoader<'info, MarginAccount>,
    #[account(mut, has_one = clearinghouse @ BulwarkError::MarketMismatch, has_one = order_book @ BulwarkError::MarketMismatch)]
    pub market: AccountLoader<'info, Market>,
    #[account(mut)]
    pub order_book: AccountLoader<'info, OrderBook>,
    /// CHECK: must be the market's configured feed; checked by the oracle reader.
    pub oracle: UncheckedAccount<'info>,
    #[account(mut, address = clearinghouse.load()?.collateral_vault @ BulwarkError::VaultMismatch)]
    pub collateral_vault: Box<Account<'info, TokenAccount>>,
    #[account(mut, address = clearinghouse.load()?.insurance_vault @ BulwarkError::VaultMismatch)]
    pub insurance_vault: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
    // remaining_accounts: (market, oracle) pairs for every other market either account holds.
}

/// Permissionless takeover liquidation: the liquidator takes just enough of the position to
/// bring the account back above maintenance plus the buffer, at the oracle price; the account
/// pays the liquidation fee, of which the insurance share goes to the vault and the rest to the
/// liquidator. `max_base_lots` (0: no limit) caps what the liquidator takes.
/// Pricing (`ActionPricing::LIQUIDATION`): this market's price must be valid; the other markets
/// either account holds may be priced by the relaxed rule, and the collateral by a fallback, as
/// bands read in the liquidated account's favour and against the liquidator.
/// Compute: the worst case measured on the bytecode and its budget are in `docs/compute.md`.
pub fn handler<'info>(ctx: Context<'info, LiquidateTakeover<'info>>, max_base_lots: u64) -> Result<()> {
    let clock = Clock::get()?;
    let clearinghouse_key = ctx.accounts.clearinghouse.key();
    let market_key = ctx.accounts.market.key();
    let account_key = ctx.accounts.margin_account.key();
    let liquidator_key = ctx.accounts.liquidator.key();

    let (insurance_in, insurance_out) = {
        let mut ch = ctx.accounts.clearinghouse.load_mut()?;
        require!(!ch.is_paused(), BulwarkError::ClearinghousePaused);
        let mut market = ctx.accounts.market.load_mut()?;
        require!(market.is_tradable(), BulwarkError::MarketNotTradable);
        let mut liquidator = ctx.accounts.liquidator.load_mut()?;
        require!(liquidator.is_owner_or_delegate(ctx.accounts.authority.key), BulwarkError::NotOwnerOrDelegate);
        let mut account = ctx.accounts.margin_account.load_mut()?;

        // The market acted on needs a valid price; the other markets the accounts hold may be
        // priced by the relaxed rule, read for the account judged and against the others.
        let (price, prices, _) = load_prices_with_market(
            &ch,
            &clearinghouse_key,
            &market,
            &ctx.accounts.oracle,
            ctx.remaining_accounts,
            &clock,
            ActionPricing::LIQUIDATION,
        )?;

        let balances_before = account.collateral_balance as i128 + liquidator.collateral_balance as i128;
        let mut book = ctx.accounts.order_book.load_mut()?;
        let plan = plan_liquidation(
            market_key,
            account_key,
            &mut account,
            &market,
            &mut book,
            &prices,
            ch.waterfall.liquidation_buffer_bps,
            market.params.liquidation_fee_bps,
            max_base_lots,
        )?;

        let spec = crate::controller::pricing::perp_spec(&market);
        let quote = marginal_close_value(plan.base_lots, plan.lots, price, &spec).map_err(crate::math_err)?;
        // The close is at the oracle, so it moves no equity; the fee comes only out of what is
        // left, never out of the insurance vault that would cover a bankrupt account.
        let fee = capped_liquidation_fee(
            liquidation_fee(quote, market.params.liquidation_fee_bps).map_err(crate::math_err)?,
            // The equity against the account: a banded price must not let the fee run past
            // what is really left.
            health(&account, &prices)?.equity,
        );
        let split = split_takeover_fee(fee, market.params.insurance_fee_share_bps).map_err(crate::math_err)?;
        let close = plan.signed_close();

        let account_fill = fill_account(&mut account, plan.slot, close, quote, fee as i128)?;
        let liquidator_slot = position_index(&mut liquidator, &market)?;
        settle_funding(&mut liquidator, liquidator_slot, &market)?;
        let liquidator_fill =
            fill_account(&mut liquidator, liquidator_slot, -close, quote, -(split.liquidator as i128))?;
        record_open_interest(&mut market, account_fill.base_lots_before, account_fill.base_lots_after)?;
        record_open_interest(&mut market, liquidator_fill.base_lots_before, liquidator_fill.base_lots_after)?;
        require!(health(&liquidator, &prices)?.meets_initial(), BulwarkError::LiquidatorInsufficientMargin);
        liquidator.last_active_slot = clock.slot;

        ch.insurance_balance = ch.insurance_balance.safe_add(split.insurance).map_err(crate::math_err)?;
        let (after, payout) =
            finish_liquidation(clearinghouse_key, &mut ch, account_key, &mut account, &prices, clock.slot)?;
        let balances_after = account.collateral_balance as i128 + liquidator.collateral_balance as i128;
        book_balance_change(&mut ch, balances_after - balances_before)?;
        market.liquidation_count = market.liquidation_count.safe_add(1).map_err(crate::math_err)?;

        emit_event(LiquidationV1 {
            clearinghouse: clearinghouse_key,
            market: market_key,
            margin_account: account_key,
            liquidator: liquidator_key,
            kind: LIQUIDATION_KIND_TAKEOVER,
            base_lots: close,
            oracle_price: price,
            quote,
            fee,
            liquidator_reward: split.liquidator,
            insurance_fee: split.insurance,
            equity_before: to_i64(plan.health_before.equity).map_err(crate::math_err)?,
            equity_after: to_i64(after.equity).map_err(crate::math_err)?,
            maintenance_after: to_i64(after.maintenance_requirement).map_err(crate::math_err)?,
            still_liquidating: account.status_flags & ACCOUNT_FLAG_BEING_LIQUIDATED != 0,
        });
        (split.insurance, payout)
    };

    settle_insurance_flows(
        &ctx.accounts.token_program.to_account_info(),
        &ctx.accounts.clearinghouse,
        ctx.accounts.collateral_vault.to_account_info(),
        ctx.accounts.insurance_vault.to_account_info(),
        insurance_in,
        insurance_out,
    )
}
