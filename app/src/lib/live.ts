// The live event feed: `logsSubscribe` mentioning the program when the node offers it, else
// polling `getSignaturesForAddress` + `getTransaction`, else only the transactions this page
// sends. Each source says which one is in use. And a watch on the program's accounts
// (`programSubscribe`), so panels are re-read when an account changes rather than on a timer.

import {
    type Address,
    createSolanaRpcSubscriptions,
    type GetSignaturesForAddressApi,
    type GetTransactionApi,
    isSolanaError,
    type Rpc,
    type Signature,
    SOLANA_ERROR__JSON_RPC__METHOD_NOT_FOUND,
} from '@solana/kit';

import { decodeEvents, type DecodedEvent, type UnknownEvent } from './events';

export type FeedItem = {
    signature: string;
    slot: bigint | null;
    failed: boolean;
    event: DecodedEvent | UnknownEvent;
    receivedAt: Date;
};

export type FeedMode = 'subscription' | 'polling' | 'own transactions only' | 'stopped';

export type FeedSink = {
    items: (items: FeedItem[]) => void;
    mode: (mode: FeedMode, detail: string) => void;
};

export function itemsFromLogs(
    signature: string,
    slot: bigint | null,
    failed: boolean,
    logs: readonly string[],
    program: Address,
): FeedItem[] {
    const receivedAt = new Date();
    return decodeEvents(logs, program).map((event) => ({ signature, slot, failed, event, receivedAt }));
}

type PollRpc = Rpc<GetSignaturesForAddressApi & GetTransactionApi>;

/** The node does not serve the method (JSON-RPC -32601), however the error is worded. */
const isMethodMissing = (e: unknown) =>
    isSolanaError(e, SOLANA_ERROR__JSON_RPC__METHOD_NOT_FOUND) || /-32601|method not found/i.test(e instanceof Error ? e.message : String(e));

/**
 * Start the feed; returns a function that stops it. Subscriptions are tried first; when the
 * socket cannot open or the node refuses the method, polling every `pollMs` takes over.
 */
export function startFeed(rpc: PollRpc, wsUrl: string, program: Address, sink: FeedSink, pollMs = 3_000): () => void {
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;

    const poll = async (seen: Set<string>, first: boolean): Promise<void> => {
        if (abort.signal.aborted) return;
        try {
            const signatures = await rpc.getSignaturesForAddress(program, { limit: 25, commitment: 'confirmed' }).send();
            const fresh = signatures.filter((s) => !seen.has(s.signature)).reverse();
            for (const s of fresh) {
                seen.add(s.signature);
                // The first poll only marks what exists: the feed shows what happens from now on.
                if (first) continue;
                const tx = await rpc
                    .getTransaction(s.signature as Signature, { commitment: 'confirmed', maxSupportedTransactionVersion: 0, encoding: 'json' })
                    .send();
                if (tx?.meta?.logMessages) {
                    sink.items(itemsFromLogs(s.signature, s.slot, s.err !== null, tx.meta.logMessages, program));
                }
            }
            if (first) sink.mode('polling', `polling getSignaturesForAddress every ${pollMs / 1000}s`);
        } catch (e) {
            if (isMethodMissing(e)) {
                sink.mode(
                    'own transactions only',
                    'this node offers neither logsSubscribe nor getSignaturesForAddress: only events of transactions sent from this page appear',
                );
                return;
            }
            sink.mode('polling', `polling failed (${e instanceof Error ? e.message : String(e)}); retrying`);
        }
        timer = setTimeout(() => void poll(seen, false), pollMs);
    };

    const subscribe = async () => {
        try {
            const subscriptions = createSolanaRpcSubscriptions(wsUrl);
            const notifications = await subscriptions
                .logsNotifications({ mentions: [program] }, { commitment: 'confirmed' })
                .subscribe({ abortSignal: abort.signal });
            sink.mode('subscription', `logsSubscribe on ${wsUrl}`);
            for await (const n of notifications) {
                sink.items(itemsFromLogs(n.value.signature, n.context.slot, n.value.err !== null, n.value.logs, program));
            }
            if (abort.signal.aborted) return;
            sink.mode('polling', `the subscription on ${wsUrl} ended`);
            void poll(new Set(), true);
        } catch (e) {
            if (abort.signal.aborted) return;
            sink.mode('polling', `no subscription on ${wsUrl} (${e instanceof Error ? e.message : String(e)})`);
            void poll(new Set(), true);
        }
    };

    void subscribe();
    return () => {
        abort.abort();
        if (timer) clearTimeout(timer);
        sink.mode('stopped', 'stopped');
    };
}

/**
 * Call `changed` (at most once per `quietMs`: a busy cluster changes accounts constantly, and
 * each call re-reads them all) whenever an account the program owns changes,
 * over `programSubscribe` (only the fact of a change is used: the panels re-read everything
 * together, so they never mix states). Returns a function that stops the watch; `failed` hears why it could not start or
 * why it ended, and the caller keeps polling.
 */
export function watchProgramAccounts(
    wsUrl: string,
    program: Address,
    changed: () => void,
    failed: (reason: string) => void,
    quietMs = 1_000,
): () => void {
    const abort = new AbortController();
    let pending: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
        try {
            const notifications = await createSolanaRpcSubscriptions(wsUrl)
                .programNotifications(program, { encoding: 'base64', commitment: 'confirmed' })
                .subscribe({ abortSignal: abort.signal });
            for await (const _ of notifications) {
                pending ??= setTimeout(() => {
                    pending = undefined;
                    changed();
                }, quietMs);
            }
            if (!abort.signal.aborted) failed(`the account subscription on ${wsUrl} ended`);
        } catch (e) {
            if (!abort.signal.aborted) failed(`no account subscription on ${wsUrl} (${e instanceof Error ? e.message : String(e)})`);
        }
    };
    void run();
    return () => {
        abort.abort();
        if (pending) clearTimeout(pending);
    };
}
