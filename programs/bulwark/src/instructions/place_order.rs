use anchor_lang::prelude::*;
use anchor_spl::token::{Token, TokenAccount};

use crate::controller::market::{mark_sample, update_twaps};
use crate::controller::orders::{self, PlaceOrderArgs};
use crate::controller::pricing::{
    collateral_quote, health, load_matching_prices, market_price, require_exact_for, CollateralUse, MarketPrice,
};
use crate::controller::vault::settle_insurance_flows;
use crate::controller::waterfall::{
    book_balance_change, book_trading_fees, cover_flat_deficit, update_liquidation_status,
};
use crate::error::BulwarkError;
use crate::math::margin::fill_keeps_health;
use crate::math::oracle::OracleTolerance;
use crate::math::safe::SafeMath;
use crate::state::{
    Clearinghouse, MarginAccount, Market, OrderBook, ACCOUNT_FLAG_BEING_LIQUIDATED, MARKET_STATUS_ACTIVE,
    MARKET_STATUS_PENDING, MARKET_STATUS_REDUCE_ONLY,
};

#[derive(Accounts)]
pub struct PlaceOrder<'info> {
    /// The owner or the delegate of `margin_account`.
    pub authority: Signer<'info>,
    #[account(mut)]
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
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
    // remaining_accounts: (market, oracle) pairs for every other market the account trades,
    // then the makers' margin accounts in book order.
}

/// Compute: bounded by the matching's budgets (fills, stale removals, margin refusals) and the
/// markets priced; the worst case measured on the bytecode and its budget are in
/// `docs/compute.md`.
pub fn handler<'info>(ctx: Context<'info, PlaceOrder<'info>>, args: PlaceOrderArgs) -> Result<()> {
    let clock = Clock::get()?;
    let clearinghouse_key = ctx.accounts.clearinghouse.key();
    let market_key = ctx.accounts.market.key();
    let taker_key = ctx.accounts.margin_account.key();

    let (insurance_in, insurance_out) = {
        let mut ch = ctx.accounts.clearinghouse.load_mut()?;
        require!(!ch.is_paused(), BulwarkError::ClearinghousePaused);
        let mut market = ctx.accounts.market.load_mut()?;
        match market.status {
            MARKET_STATUS_ACTIVE => {}
            MARKET_STATUS_REDUCE_ONLY => require!(args.reduce_only, BulwarkError::MarketReduceOnly),
            MARKET_STATUS_PENDING => return err!(BulwarkError::MarketNotActive),
            _ => return err!(BulwarkError::MarketNotTradable),
        }
        let mut taker = ctx.accounts.margin_account.load_mut()?;
        require!(taker.is_owner_or_delegate(ctx.accounts.authority.key), BulwarkError::NotOwnerOrDelegate);

        // Risk-raising orders need every price valid; a reduce-only order may live with a stale one.
        let tolerance = if args.reduce_only { OracleTolerance::REDUCE_ONLY } else { OracleTolerance::STRICT };
        // A reduce-only order may also live with a fallback collateral price (as a band).
        let collateral_usd = collateral_quote(&ch, &clock, CollateralUse::for_order(args.reduce_only))?;
        let price = market_price(&market, &ctx.accounts.oracle, collateral_usd, &clock, tolerance)?;
        // Makers' other markets are valued by the relaxed rule (a band against the maker); the
        // taker's own are held to `tolerance`.
        let (mut prices, unpriceable, used) =
            load_matching_prices(ctx.remaining_accounts, &clearinghouse_key, collateral_usd, &clock)?;
        let makers = &ctx.remaining_accounts[used..];
        prices.retain(|p| p.index != market.index);
        prices.push(MarketPrice::new(&market, price));
        require_exact_for(&taker, &mut prices, &ctx.remaining_accounts[..used], collateral_usd, &clock, tolerance)?;
        // Every fill is margin-checked, reduce-only ones included: the taker's health before
        // is what its health after is held to.
        let taker_before = health(&taker, &prices)?;

        let by_delegate = *ctx.accounts.authority.key != taker.owner;
        let mut book = ctx.accounts.order_book.load_mut()?;
        let outcome = orders::place_order(
            market_key,
            clearinghouse_key,
            &mut ch,
            taker_key,
            &mut taker,
            &mut market,
            &mut book,
            makers,
            &prices,
            &unpriceable,
            &args,
            by_delegate,
            price,
            clock.unix_timestamp,
        )?;
        // The book as this order left it is the mark in force from now on.
        let mark = mark_sample(&book, &market, price, ch.waterfall.max_fill_deviation_bps)?;
        update_twaps(&mut market, price, mark, clock.unix_timestamp)?;

        if outcome.open_interest_change > 0 {
            require!(
                market.open_interest_long_lots <= market.params.max_open_interest_lots,
                BulwarkError::OpenInterestCapExceeded
            );
        }
        let taker_health = health(&taker, &prices)?;
        // A resting order is margined at its own price: a bid over the oracle would lose the
        // difference the moment it fills.
        let rested_risk = outcome.rested_order_id.is_some() && !args.reduce_only;
        let equity_for_initial =
            taker_health.equity.safe_sub(outcome.rested_loss_at_oracle).map_err(crate::math_err)?;
        let meets_initial = equity_for_initial >= taker_health.initial_requirement;
        if !meets_initial {
            // Below initial, only a fill that reduces risk without lowering the account's
            // equity/maintenance ratio (or taking it below zero) is allowed.
            require!(!rested_risk, BulwarkError::InitialMarginBreached);
            if !fill_keeps_health(&taker_before, &taker_health).map_err(crate::math_err)? {
                return if args.reduce_only {
                    err!(BulwarkError::FillBreachesMargin)
                } else {
                    err!(BulwarkError::InitialMarginBreached)
                };
            }
        }
        if meets_initial && taker.status_flags & ACCOUNT_FLAG_BEING_LIQUIDATED != 0 {
            // Back above the initial requirement by its own trade: clear a stale flag.
            update_liquidation_status(taker_key, &mut taker, &taker_health, &ch.waterfall, clock.slot)?;
        }

        let taker_balance = taker.collateral_balance;
        let taker_payout = cover_flat_deficit(clearinghouse_key, &mut ch, taker_key, &mut taker)?;
        let balance_change = outcome
            .balance_change
            .safe_add(taker.collateral_balance as i128 - taker_balance as i128)
            .map_err(crate::math_err)?;
        book_balance_change(&mut ch, balance_change)?;
        let insurance = book_trading_fees(&mut ch, &mut market, outcome.net_fees)?;
        let payouts = outcome.insurance_payout.safe_add(taker_payout).map_err(crate::math_err)?;
        (insurance, payouts)
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
