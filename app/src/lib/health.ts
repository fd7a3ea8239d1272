// Account health exactly as the program computes it with exact prices
// (controller/pricing.rs `health`, sdk/src/health.rs `position_risks`, sdk/src/adl.rs `score`
// and `AdlQueues`), on plain inputs so the same code serves decoded accounts and fixtures.

import { adlIndicator, AdlQueues, adlScore } from './adl';
import { BPS_DENOMINATOR } from './constants';
import { accountHealth, type Health } from './margin';
import {
    bankruptcyPrice,
    baseValue,
    fundingOwed,
    liquidationPrice,
    type PerpSpec,
    valuePosition,
} from './perp';
import { add, I128, sub, toI64, toU64, U64, unsignedAbs } from './safeMath';

export type PositionInput = {
    marketIndex: number;
    baseLots: bigint;
    quoteEntry: bigint;
    openBidLots: bigint;
    openAskLots: bigint;
    openOrderCount: number;
    lastCumulativeFunding: bigint;
};

export type AccountInput = {
    collateralBalance: bigint;
    positions: readonly PositionInput[];
};

/** A market as the margin math sees it (`MarketPrice` with an exact price). */
export type MarketPrice = {
    index: number;
    spec: PerpSpec;
    cumulativeFundingPerLot: bigint;
    /** Oracle price in collateral, `PRICE_PRECISION` per whole base unit. */
    price: bigint;
};

export class MissingMarketPriceError extends Error {
    constructor(readonly marketIndex: number) {
        super(`market ${marketIndex} has no usable price`);
        this.name = 'MissingMarketPriceError';
    }
}

/** A free slot: no base, no unsettled quote, no resting orders (`PerpPosition::is_empty`). */
export const isEmptyPosition = (p: PositionInput): boolean =>
    p.baseLots === 0n && p.quoteEntry === 0n && p.openOrderCount === 0 && p.openBidLots === 0n && p.openAskLots === 0n;

export const openPositions = (account: AccountInput): PositionInput[] =>
    account.positions.filter((p) => !isEmptyPosition(p));

function priceOf(prices: readonly MarketPrice[], index: number): MarketPrice {
    const market = prices.find((m) => m.index === index);
    if (!market) throw new MissingMarketPriceError(index);
    return market;
}

function valueOne(p: PositionInput, prices: readonly MarketPrice[]) {
    const market = priceOf(prices, p.marketIndex);
    const funding = fundingOwed(p.baseLots, market.cumulativeFundingPerLot, p.lastCumulativeFunding);
    return valuePosition(p.baseLots, p.quoteEntry, p.openBidLots, p.openAskLots, funding, market.price, market.spec);
}

/** Equity and requirements; every market the account holds must be priced. */
export function health(account: AccountInput, prices: readonly MarketPrice[]): Health {
    return accountHealth(
        account.collateralBalance,
        openPositions(account).map((p) => valueOne(p, prices)),
    );
}

export type PositionRisk = {
    marketIndex: number;
    baseLots: bigint;
    unrealizedPnl: bigint;
    /** Price at which the account falls to its maintenance requirement (`null`: never). */
    liquidationPrice: bigint | null;
    /** Price at which the account's equity is zero (`null`: never). */
    bankruptcyPrice: bigint | null;
};

/** Each open position's risk figures, everything else held fixed (`position_risks`). */
export function positionRisks(account: AccountInput, prices: readonly MarketPrice[]): PositionRisk[] {
    const total = health(account, prices);
    return openPositions(account)
        .filter((p) => p.baseLots !== 0n)
        .map((p) => {
            const market = priceOf(prices, p.marketIndex);
            const funding = fundingOwed(p.baseLots, market.cumulativeFundingPerLot, p.lastCumulativeFunding);
            // Valued without its resting orders, as the SDK does: they do not move with price.
            const v = valuePosition(p.baseLots, p.quoteEntry, 0n, 0n, funding, market.price, market.spec);
            // Everything but this position's PnL (its funding stays: it does not move with price).
            const otherEquity = total.equity - v.unrealizedPnl;
            // Plain (unchecked) arithmetic in the SDK; the values are far inside i128.
            const ownMaintenance = (v.notional * v.maintenanceRatioBps + BPS_DENOMINATOR - 1n) / BPS_DENOMINATOR;
            const otherMaintenance = total.maintenanceRequirement - ownMaintenance;
            return {
                marketIndex: p.marketIndex,
                baseLots: p.baseLots,
                unrealizedPnl: v.unrealizedPnl,
                liquidationPrice: liquidationPrice(p.baseLots, p.quoteEntry, otherEquity, otherMaintenance, market.spec),
                bankruptcyPrice: bankruptcyPrice(p.baseLots, p.quoteEntry, otherEquity, market.spec),
            };
        });
}

/**
 * The ADL score the program would give `account`'s position in `marketIndex` (`adl::score`):
 * `null` when there is no position, a market is unpriced, or it is not in profit.
 */
export function adlScoreOf(account: AccountInput, marketIndex: number, prices: readonly MarketPrice[]): bigint | null {
    const market = prices.find((m) => m.index === marketIndex);
    if (!market) return null;
    let settled: AccountInput;
    try {
        settled = withFundingSettled(account, marketIndex, market.cumulativeFundingPerLot);
    } catch {
        return null;
    }
    const p = openPositions(settled).find((q) => q.marketIndex === marketIndex && q.baseLots !== 0n);
    if (!p) return null;
    const value = baseValue(p.baseLots, market.price, market.spec);
    const upnl = add(value, p.quoteEntry, I128);
    if (upnl <= 0n) return null;
    let equity: bigint;
    try {
        equity = health(settled, prices).equity;
    } catch {
        return null;
    }
    return adlScore(upnl, p.quoteEntry, unsignedAbs(value), equity);
}

/**
 * The account after its position in `marketIndex` settles funding, as the program settles a
 * counterparty before scoring it (`controller::position::settle_funding` / `apply_cash`): a
 * credit goes to the balance; a debit comes out of it, and what it cannot pay stays on the
 * position's quote. Throws when the account holds no such position or a value overflows.
 */
export function withFundingSettled(account: AccountInput, marketIndex: number, cumulativeNow: bigint): AccountInput {
    const slot = account.positions.findIndex((p) => !isEmptyPosition(p) && p.marketIndex === marketIndex);
    if (slot < 0) throw new Error(`no position in market ${marketIndex}`);
    const position = account.positions[slot];
    const owed = fundingOwed(position.baseLots, cumulativeNow, position.lastCumulativeFunding);
    let balance = account.collateralBalance;
    let quoteEntry = position.quoteEntry;
    if (owed >= 0n) {
        balance = add(balance, toU64(owed), U64);
    } else {
        const debt = -owed;
        const taken = debt < balance ? debt : balance;
        balance -= taken;
        if (debt > taken) quoteEntry = toI64(sub(quoteEntry, debt - taken, I128));
    }
    const positions = [...account.positions];
    positions[slot] = { ...position, quoteEntry, lastCumulativeFunding: cumulativeNow };
    return { collateralBalance: balance, positions };
}

/**
 * Every market's ADL queues from `accounts` (`AdlQueues::push` then `finish`): the profitable
 * positions of each side, scored with their account's equity (funding left unsettled, as the
 * SDK's queues do). Accounts whose markets are not all priced are left out, as there.
 */
export function buildAdlQueues(
    accounts: ReadonlyArray<{ address: string; account: AccountInput }>,
    prices: readonly MarketPrice[],
    keyBytes: (address: string) => Uint8Array,
): AdlQueues {
    const queues = new AdlQueues();
    for (const { address, account } of accounts) {
        let equity: bigint;
        try {
            equity = health(account, prices).equity;
        } catch {
            continue;
        }
        for (const p of openPositions(account).filter((q) => q.baseLots !== 0n)) {
            const market = prices.find((m) => m.index === p.marketIndex);
            if (!market) continue;
            const value = baseValue(p.baseLots, market.price, market.spec);
            const upnl = value + p.quoteEntry;
            if (upnl <= 0n) continue;
            queues.push({
                marginAccount: address,
                marketIndex: p.marketIndex,
                baseLots: p.baseLots,
                score: adlScore(upnl, p.quoteEntry, unsignedAbs(value), equity),
            });
        }
    }
    queues.finish(keyBytes);
    return queues;
}

/** The ADL light (0–5) of a position: its score's quintile in its side's queue. */
export function adlLight(
    account: AccountInput,
    marketIndex: number,
    isLong: boolean,
    prices: readonly MarketPrice[],
    queues: AdlQueues,
): number {
    const score = adlScoreOf(account, marketIndex, prices);
    return score === null ? 0 : adlIndicator(score, queues.queueOf(marketIndex, isLong));
}

export type { Health };
