use anchor_lang::prelude::*;

use crate::constants::MAX_ADL_COUNTERPARTIES;
use crate::controller::adl::assess_winner;
use crate::controller::position::{find_position, settle_funding};
use crate::controller::pricing::{load_prices_with_market, perp_spec, with_exact_price, ActionPricing};
use crate::error::BulwarkError;
use crate::events::{emit_event, AdlNominatedV1};
use crate::state::{AdlNominee, AdlRound, Clearinghouse, MarginAccount, Market, PodU128};

#[derive(Accounts)]
pub struct NominateAdl<'info> {
    pub nominator: Signer<'info>,
    pub clearinghouse: AccountLoader<'info, Clearinghouse>,
    #[account(has_one = clearinghouse @ BulwarkError::MarketMismatch)]
    pub market: AccountLoader<'info, Market>,
    /// CHECK: must be the market's configured feed; checked by the oracle reader.
    pub oracle: UncheckedAccount<'info>,
    #[account(
        mut,
        has_one = clearinghouse @ BulwarkError::AdlRoundMismatch,
        has_one = market @ BulwarkError::AdlRoundMismatch,
    )]
    pub round: AccountLoader<'info, AdlRound>,
    // remaining_accounts: (market, oracle) pairs for every other market a nominee holds, then
    // at most `MAX_ADL_COUNTERPARTIES` nominees' margin accounts (read only).
}

/// Nominate winners to an open ADL round (permissionless, any number of calls while the window
/// is open). Each must hold a position in the market on the other side of the target and be
/// in profit at the round's price; the program scores it there (PnL% × leverage, its funding
/// settled as a fill would) and keeps the queue sorted, highest first, ties by key. A keeper
/// nominates from its ranking; a winner may nominate the winners ranked above it, who pay
/// first. Nothing is written to the nominees.
pub fn handler<'info>(ctx: Context<'info, NominateAdl<'info>>) -> Result<()> {
    let clock = Clock::get()?;
    let clearinghouse_key = ctx.accounts.clearinghouse.key();
    let round_key = ctx.accounts.round.key();
    let ch = ctx.accounts.clearinghouse.load()?;
    require!(!ch.is_paused(), BulwarkError::ClearinghousePaused);
    let market = ctx.accounts.market.load()?;
    let mut round = ctx.accounts.round.load_mut()?;
    require!(clock.slot <= round.window_end_slot, BulwarkError::AdlNominationWindowClosed);

    let (_, prices, used) = load_prices_with_market(
        &ch,
        &clearinghouse_key,
        &market,
        &ctx.accounts.oracle,
        ctx.remaining_accounts,
        &clock,
        ActionPricing::LIQUIDATION,
    )?;
    let nominees = &ctx.remaining_accounts[used..];
    require!(!nominees.is_empty(), BulwarkError::AdlNoFill);
    require!(nominees.len() <= MAX_ADL_COUNTERPARTIES, BulwarkError::TooManyAdlCounterparties);
    // Scores are taken at the round's price: everyone is ranked on the same footing.
    let at_round_price = with_exact_price(&prices, market.index, round.price);
    let spec = perp_spec(&market);
    let target_is_long = round.target_lots > 0;

    for info in nominees {
        require_keys_neq!(*info.key, round.target, BulwarkError::DuplicateAccount);
        let loader = AccountLoader::<MarginAccount>::try_from(info)?;
        // Funding is settled on a copy: the nominee is read, never written.
        let mut nominee = *loader.load()?;
        require_keys_eq!(nominee.clearinghouse, clearinghouse_key, BulwarkError::ClearinghouseMismatch);
        let slot = find_position(&nominee, market.index).ok_or(BulwarkError::AdlCounterpartyNoPosition)?;
        settle_funding(&mut nominee, slot, &market)?;
        let standing = assess_winner(&nominee, market.index, target_is_long, round.price, &spec, &at_round_price)?;
        let entry = AdlNominee {
            margin_account: *info.key,
            score: PodU128::new(standing.score),
            lots: standing.lots.unsigned_abs(),
            ..Default::default()
        };
        round.insert(entry)?;
        let position = round.queue().iter().position(|n| n.margin_account == *info.key).unwrap_or(0);
        emit_event(AdlNominatedV1 {
            round: round_key,
            margin_account: *info.key,
            score: standing.score,
            position: position as u8,
            nominated_by: ctx.accounts.nominator.key(),
        });
    }
    Ok(())
}
