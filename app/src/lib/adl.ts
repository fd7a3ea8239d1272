// Port of the ranking half of programs/bulwark/src/math/adl.rs and sdk/src/adl.rs: each
// profitable position's score (PnL% × leverage), the queues a target's counterparties are
// taken from, and the five-light indicator.

import { max, saturatingMul, U128, unsignedAbs } from './safeMath';

/** Fixed-point scale of ADL scores (`ADL_SCORE_PRECISION`). */
export const ADL_SCORE_PRECISION = 1_000_000n;

/**
 * `adl_score`: `PnL% × leverage` scaled by 1e6, rounded down at each step; 0 for a position
 * not in profit or an account without positive equity; saturates instead of failing.
 */
export function adlScore(unrealizedPnl: bigint, entryNotional: bigint, notional: bigint, equity: bigint): bigint {
    if (unrealizedPnl <= 0n || equity <= 0n) return 0n;
    const entry = max(unsignedAbs(entryNotional), 1n);
    const pnlFraction = saturatingMul(unrealizedPnl, ADL_SCORE_PRECISION, U128) / entry;
    const leverage = saturatingMul(unsignedAbs(notional), ADL_SCORE_PRECISION, U128) / equity;
    const product = pnlFraction * leverage;
    return product > U128.max ? U128.max : product / ADL_SCORE_PRECISION;
}

/**
 * `adl_quintile`: 1 (least exposed) … 5 (first in line) of `score` among `sortedScores`
 * (non-increasing); 0 for a zero score or an empty side.
 */
export function adlQuintile(score: bigint, sortedScores: readonly bigint[]): number {
    if (sortedScores.length === 0 || score === 0n) return 0;
    const ahead = sortedScores.filter((s) => s > score).length;
    const rankFraction = Math.floor((ahead * 5) / sortedScores.length);
    return 5 - Math.min(rankFraction, 4);
}

export type RankedPosition = {
    /** The margin account's address. */
    marginAccount: string;
    marketIndex: number;
    baseLots: bigint;
    score: bigint;
};

/** Best score first; ties by the address's 32 bytes, as the SDK orders `Pubkey`s. */
function byScoreThenKey(keyBytes: (address: string) => Uint8Array) {
    return (a: RankedPosition, b: RankedPosition): number => {
        if (a.score !== b.score) return a.score > b.score ? -1 : 1;
        const ka = keyBytes(a.marginAccount);
        const kb = keyBytes(b.marginAccount);
        for (let i = 0; i < Math.min(ka.length, kb.length); i++) if (ka[i] !== kb[i]) return ka[i] - kb[i];
        return ka.length - kb.length;
    };
}

/**
 * `AdlQueues`: per market, the profitable longs and the profitable shorts, best score first.
 * A long target is closed against the shorts' queue and a short target against the longs'.
 */
export class AdlQueues {
    private readonly queues = new Map<number, [RankedPosition[], RankedPosition[]]>();

    push(entry: RankedPosition): void {
        const sides = this.queues.get(entry.marketIndex) ?? [[], []];
        sides[entry.baseLots < 0n ? 1 : 0].push(entry);
        this.queues.set(entry.marketIndex, sides);
    }

    finish(keyBytes: (address: string) => Uint8Array): void {
        for (const sides of this.queues.values()) for (const q of sides) q.sort(byScoreThenKey(keyBytes));
    }

    /** The queue a position on its side waits in: the longs' queue for a long position. */
    queueOf(marketIndex: number, positionIsLong: boolean): readonly RankedPosition[] {
        return this.queues.get(marketIndex)?.[positionIsLong ? 0 : 1] ?? [];
    }

    /** The counterparties of a target: shorts for a long target, longs for a short one. */
    counterparties(marketIndex: number, targetIsLong: boolean): readonly RankedPosition[] {
        return this.queueOf(marketIndex, !targetIsLong);
    }

    markets(): number[] {
        return [...this.queues.keys()].sort((a, b) => a - b);
    }
}

/** The five-light indicator of `score` within its side's queue (`adl::indicator`). */
export function adlIndicator(score: bigint, queue: readonly RankedPosition[]): number {
    return adlQuintile(
        score,
        queue.map((q) => q.score),
    );
}
