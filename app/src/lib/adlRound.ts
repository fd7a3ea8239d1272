// An ADL round as the panel shows it. The account type is read through the IDL's generic
// registry (the page must also build against IDLs without it), so its fields are checked here
// by name and type rather than through the generated TypeScript type.

export type AdlRoundSummary = {
    market: string;
    target: string;
    opener: string;
    openedSlot: bigint;
    /** Nominations are taken while `slot <= windowEndSlot`; fills only after it. */
    windowEndSlot: bigint;
    /** The oracle price the round (re)started at. */
    price: bigint;
    targetLots: bigint;
    remainingLots: bigint;
    uncovered: bigint;
    uncoveredLeft: bigint;
    haircutTotal: bigint;
    deficit: bigint;
    insurancePays: bigint;
    fillCount: number;
    restartCount: number;
    /** In fill order: entries not deferred first, each part by score, highest first. */
    nominees: Array<{ marginAccount: string; score: bigint; deferred: boolean }>;
};

const big = (v: unknown): bigint | null => (typeof v === 'bigint' ? v : typeof v === 'number' ? BigInt(v) : null);
const podU128 = (v: unknown): bigint | null => {
    const { lo, hi } = (v ?? {}) as { lo?: unknown; hi?: unknown };
    return typeof lo === 'bigint' && typeof hi === 'bigint' ? (hi << 64n) | lo : big(v);
};

/** The round's fields, or `null` when the decoded account does not have this shape. */
export function summarizeAdlRound(fields: Record<string, unknown>): AdlRoundSummary | null {
    const bigs = ['openedSlot', 'windowEndSlot', 'price', 'targetLots', 'remainingLots', 'uncovered', 'uncoveredLeft', 'haircutTotal', 'deficit', 'insurancePays'] as const;
    const values = Object.fromEntries(bigs.map((k) => [k, big(fields[k])])) as Record<(typeof bigs)[number], bigint | null>;
    const strings = ['market', 'target', 'opener'].map((k) => fields[k]);
    if (bigs.some((k) => values[k] === null) || strings.some((s) => typeof s !== 'string') || !Array.isArray(fields.nominees)) return null;
    const count = typeof fields.nomineeCount === 'number' ? fields.nomineeCount : fields.nominees.length;
    const nominees = (fields.nominees as Array<Record<string, unknown>>).slice(0, count).map((n) => ({
        marginAccount: String(n.marginAccount),
        score: podU128(n.score) ?? 0n,
        deferred: n.deferred === 1 || n.deferred === true,
    }));
    return {
        market: strings[0] as string,
        target: strings[1] as string,
        opener: strings[2] as string,
        ...(values as Record<(typeof bigs)[number], bigint>),
        fillCount: Number(fields.fillCount ?? 0),
        restartCount: Number(fields.restartCount ?? 0),
        nominees,
    };
}
