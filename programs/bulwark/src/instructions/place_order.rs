use anchor_lang::prelude::*;
use anchor_spl::token::{Token, TokenAccount};

use crate::controller::market::{mark_sample, update_twaps};
use crate::controller::orders::{self, PlaceOrderArgs};
use crate::controller::pricing::{collateral_price, health, load_market_prices, market_price, MarketPrice};
use crate::controller::vault::transfer_from_vault;
use crate::error::BulwarkError;
use crate::math::oracle::OracleTolerance;
use crate::math::perp::insurance_share;
use crate::math::safe::{to_u64, SafeMath};
use crate::state::{
    Clearinghouse, MarginAccount, Market, OrderBook, MARKET_STATUS_ACTIVE, MARKET_STATUS_PENDING,
    MARKET_STATUS_REDUCE_ONLY,
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

/// Compute estimate: ~35k CU + ~12k per maker touched (≤ `MAX_MAKER_TOUCHES_PER_ORDER` = 8)
/// + ~4k per other market valued (≤ 7) + one token CPI (~5k) when insurance fees accrue:
/// under 200k CU at the bounds.
pub fn handler<'info>(ctx: Context<'info, PlaceOrder<'info>>, args: PlaceOrderArgs) -> Result<()> {
    let clock = Clock::get()?;
    let clearinghouse_key = ctx.accounts.clearinghouse.key();
    let market_key = ctx.accounts.market.key();
    let taker_key = ctx.accounts.margin_account.key();

    let insurance_amount = {
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
        let collateral_usd = collateral_price(&ch, &clock)?;
        let price = market_price(&market, &ctx.accounts.oracle, collateral_usd, &clock, tolerance)?;
        let (mut prices, used) =
            load_market_prices(ctx.remaining_accounts, &clearinghouse_key, collateral_usd, &clock, tolerance)?;
        let makers = &ctx.remaining_accounts[used..];

        let mut book = ctx.accounts.order_book.load_mut()?;
        let mark = mark_sample(&book, &market, price)?;
        update_twaps(&mut market, price, mark, clock.unix_timestamp)?;

        let outcome = orders::place_order(
            market_key,
            clearinghouse_key,
            taker_key,
            &mut taker,
            &mut market,
            &mut book,
            makers,
            &args,
            clock.unix_timestamp,
        )?;

        if outcome.open_interest_change > 0 {
            require!(
                market.open_interest_long_lots <= market.params.max_open_interest_lots,
                BulwarkError::OpenInterestCapExceeded
            );
        }
        if !args.reduce_only {
            prices.retain(|p| p.index != market.index);
            prices.push(MarketPrice::new(&market, price));
            require!(health(&taker, &prices)?.meets_initial(), BulwarkError::InitialMarginBreached);
        }

        let insurance =
            insurance_share(outcome.net_fees, market.params.insurance_fee_share_bps).map_err(crate::math_err)?;
        let to_pool =
            to_u64(outcome.net_fees.safe_sub(insurance).map_err(crate::math_err)?).map_err(crate::math_err)?;
        let insurance = to_u64(insurance).map_err(crate::math_err)?;
        ch.fee_pool = ch.fee_pool.safe_add(to_pool).map_err(crate::math_err)?;
        let total = (ch.total_collateral_balance as i128).safe_add(outcome.balance_change).map_err(crate::math_err)?;
        ch.total_collateral_balance = to_u64(total).map_err(crate::math_err)?;
        ch.insurance_balance = ch.insurance_balance.safe_add(insurance).map_err(crate::math_err)?;
        market.total_fees = market.total_fees.safe_add(to_pool + insurance).map_err(crate::math_err)?;
        insurance
    };

    if insurance_amount > 0 {
        transfer_from_vault(
            &ctx.accounts.token_program.to_account_info(),
            &ctx.accounts.clearinghouse,
            ctx.accounts.collateral_vault.to_account_info(),
            ctx.accounts.insurance_vault.to_account_info(),
            insurance_amount,
        )?;
    }
    Ok(())
}
