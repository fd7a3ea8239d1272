use anchor_lang::prelude::*;
use anchor_spl::token::{Token, TokenAccount};

use crate::controller::liquidation::{finish_liquidation, plan_liquidation};
use crate::controller::orders::{self, PlaceOrderArgs, ORDER_TYPE_MARKET};
use crate::controller::position::apply_cash;
use crate::controller::pricing::{health, load_prices_with_market, ActionPricing};
use crate::controller::vault::settle_insurance_flows;
use crate::controller::waterfall::{book_balance_change, book_trading_fees};
use crate::error::BulwarkError;
use crate::events::{emit_event, LiquidationV1, LIQUIDATION_KIND_BOOK};
use crate::math::liquidation::{
    book_close_cost_bps, book_liquidation_limit_ticks, capped_liquidation_fee, liquidation_fee, split_book_fee,
};
use crate::math::safe::{to_i64, SafeMath};
use crate::state::{
    Clearinghouse, MarginAccount, Market, OrderBook, ACCOUNT_FLAG_BEING_LIQUIDATED, SIDE_ASK, SIDE_BID,
};

#[derive(Accounts)]
pub struct LiquidateAgainstBook<'info> {
    /// Owner or delegate of `cranker`.
    pub authority: Signer<'info>,
    #[account(mut)]
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
    /// Receives the crank reward; takes on no position.
    #[account(
        mut,
        has_one = clearinghouse @ BulwarkError::ClearinghouseMismatch,
        constraint = cranker.key() != margin_account.key() @ BulwarkError::DuplicateAccount,
    )]
    pub cranker: AccountLoader<'info, MarginAccount>,
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
    // remaining_accounts: (market, oracle) pairs for every other market the account holds, then
    // the makers' margin accounts in book order (as for `place_order`).
}

/// Permissionless liquidation against resting orders: a reduce-only market order for the
/// liquidation size, filling only within oracle ± the band, so no liquidator capital is
/// needed. The account pays the liquidation fee on the filled quote; the cranker gets a bounded
/// share, the insurance vault the rest. Priced as `liquidate_takeover` (`ActionPricing::LIQUIDATION`).
/// Compute: bounded as `place_order`'s matching; the worst case measured on the bytecode and its
/// budget are in `docs/compute.md`.
pub fn handler<'info>(ctx: Context<'info, LiquidateAgainstBook<'info>>) -> Result<()> {
    let clock = Clock::get()?;
    let clearinghouse_key = ctx.accounts.clearinghouse.key();
    let market_key = ctx.accounts.market.key();
    let account_key = ctx.accounts.margin_account.key();
    let cranker_key = ctx.accounts.cranker.key();

    let (insurance_in, insurance_out) = {
        let mut ch = ctx.accounts.clearinghouse.load_mut()?;
        require!(!ch.is_paused(), BulwarkError::ClearinghousePaused);
        let mut market = ctx.accounts.market.load_mut()?;
        require!(market.is_tradable(), BulwarkError::MarketNotTradable);
        let mut account = ctx.accounts.margin_account.load_mut()?;

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
        let makers = &ctx.remaining_accounts[used..];

        let balance_before = account.collateral_balance as i128;
        let mut book = ctx.accounts.order_book.load_mut()?;
        let waterfall = ch.waterfall;
        let plan = plan_liquidation(
            market_key,
            account_key,
            &mut account,
            &market,
            &mut book,
            &prices,
            waterfall.liquidation_buffer_bps,
            // Sized for the worst fill the band allows, so each crank moves the account
            // toward its buffer, never away from it.
            book_close_cost_bps(
                waterfall.book_liquidation_band_bps,
                market.params.liquidation_fee_bps,
                market.params.taker_fee_bps,
            ),
            0,
        )?;

        let selling = plan.base_lots > 0;
        let lots = plan.lots.max(market.params.min_order_lots).min(plan.base_lots.unsigned_abs());
        // Within the band, and nowhere a fill would make a deficit (or deepen one a price move
        // made) for the insurance vault to pay: that account is for a takeover at the oracle,
        // or ADL.
        let equity_now = health(&account, &prices)?.equity;
        let limit = book_liquidation_limit_ticks(
            price,
            waterfall.book_liquidation_band_bps,
            equity_now,
            lots,
            market.params.taker_fee_bps,
            selling,
            &crate::controller::pricing::perp_spec(&market),
        )
        .map_err(crate::math_err)?;
        let args = PlaceOrderArgs {
            side: if selling { SIDE_ASK } else { SIDE_BID },
            order_type: ORDER_TYPE_MARKET,
            price_ticks: limit,
            base_lots: lots,
            reduce_only: true,
            expiry_unix: 0,
            client_order_id: 0,
        };
        let balance_before_fills = account.collateral_balance as i128;
        let outcome = orders::place_order(
            market_key,
            clearinghouse_key,
            &mut ch,
            account_key,
            &mut account,
            &mut market,
            &mut book,
            makers,
            &prices,
            &[],
            &args,
            false,
            price,
            clock.unix_timestamp,
        )?;
        require!(outcome.filled_lots > 0, BulwarkError::NoLiquidityInBand);
        // The account's own balance change is measured below, after the fee.
        let makers_change = outcome.balance_change - (account.collateral_balance as i128 - balance_before_fills);

        // The fee comes only out of the equity the fills left, never out of insurance.
        let equity_after_fills = health(&account, &prices)?.equity;
        let fee = capped_liquidation_fee(
            liquidation_fee(outcome.filled_quote, market.params.liquidation_fee_bps).map_err(crate::math_err)?,
            equity_after_fills,
        );
        let split = split_book_fee(fee, waterfall.book_liquidation_reward_bps, waterfall.max_book_liquidation_reward)
            .map_err(crate::math_err)?;
        apply_cash(&mut account, plan.slot, -(fee as i128))?;
        {
            let mut cranker = ctx.accounts.cranker.load_mut()?;
            require!(cranker.is_owner_or_delegate(ctx.accounts.authority.key), BulwarkError::NotOwnerOrDelegate);
            cranker.collateral_balance =
                cranker.collateral_balance.safe_add(split.liquidator).map_err(crate::math_err)?;
        }

        let trading_insurance = book_trading_fees(&mut ch, &mut market, outcome.net_fees)?;
        ch.insurance_balance = ch.insurance_balance.safe_add(split.insurance).map_err(crate::math_err)?;
        let (after, payout) =
            finish_liquidation(clearinghouse_key, &mut ch, account_key, &mut account, &prices, clock.slot)?;
        let account_change = account.collateral_balance as i128 - balance_before;
        book_balance_change(&mut ch, makers_change + account_change + split.liquidator as i128)?;
        market.liquidation_count = market.liquidation_count.safe_add(1).map_err(crate::math_err)?;

        let filled = to_i64(outcome.filled_lots).map_err(crate::math_err)?;
        emit_event(LiquidationV1 {
            clearinghouse: clearinghouse_key,
            market: market_key,
            margin_account: account_key,
            liquidator: cranker_key,
            kind: LIQUIDATION_KIND_BOOK,
            base_lots: if selling { -filled } else { filled },
            oracle_price: price,
            quote: outcome.filled_quote,
            fee,
            liquidator_reward: split.liquidator,
            insurance_fee: split.insurance,
            equity_before: to_i64(plan.health_before.equity).map_err(crate::math_err)?,
            equity_after: to_i64(after.equity).map_err(crate::math_err)?,
            maintenance_after: to_i64(after.maintenance_requirement).map_err(crate::math_err)?,
            still_liquidating: account.status_flags & ACCOUNT_FLAG_BEING_LIQUIDATED != 0,
        });
        let into_insurance = trading_insurance.safe_add(split.insurance).map_err(crate::math_err)?;
        (into_insurance, outcome.insurance_payout.safe_add(payout).map_err(crate::math_err)?)
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
