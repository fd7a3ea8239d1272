import { getBase64Decoder } from '@solana/kit';
import { describe, expect, it } from 'vitest';

import { IDL_EVENTS } from '../generated/bulwarkIdl';
import { getDepositV1Encoder } from '../generated/types';
import { key, PROGRAM } from '../test/fakeChain';
import { type FeedItem, type FeedMode, startFeed } from './live';

function depositLog(amount: bigint): string {
    const data = getDepositV1Encoder().encode({ clearinghouse: key(1), marginAccount: key(2), depositor: key(3), amount, balanceAfter: amount });
    const bytes = new Uint8Array(8 + data.length);
    bytes.set(IDL_EVENTS.find((e) => e.name === 'DepositV1')!.discriminator);
    bytes.set(data, 8);
    return `Program data: ${getBase64Decoder().decode(bytes)}`;
}

function collect() {
    const items: FeedItem[] = [];
    const modes: Array<[FeedMode, string]> = [];
    return { items, modes, sink: { items: (i: FeedItem[]) => items.push(...i), mode: (m: FeedMode, d: string) => modes.push([m, d]) } };
}

const until = async (check: () => boolean) => {
    for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe('live feed fallbacks', () => {
    it('polls getSignaturesForAddress when no subscription opens, showing only new transactions', async () => {
        let calls = 0;
        const rpc = {
            getSignaturesForAddress: () => ({
                send: async () => {
                    calls += 1;
                    // The first poll sees an old transaction; later polls a new one on top.
                    return calls === 1 ? [{ signature: 'old', slot: 1n, err: null }] : [{ signature: 'new', slot: 2n, err: null }, { signature: 'old', slot: 1n, err: null }];
                },
            }),
            getTransaction: (signature: string) => ({
                send: async () => ({ meta: { logMessages: [`Program ${PROGRAM} invoke [1]`, depositLog(signature === 'new' ? 5n : 1n), `Program ${PROGRAM} success`] } }),
            }),
        };
        const { items, modes, sink } = collect();
        // Nothing listens on this port: the socket fails and polling takes over.
        const stop = startFeed(rpc as never, 'ws://127.0.0.1:9/', PROGRAM, sink, 20);
        await until(() => items.length > 0);
        stop();
        expect(modes.some(([m]) => m === 'polling')).toBe(true);
        expect(items.map((i) => [i.signature, i.event.name])).toEqual([['new', 'DepositV1']]);
    });

    it('says so when the node serves neither subscriptions nor signature queries', async () => {
        const rpc = {
            getSignaturesForAddress: () => ({ send: async () => Promise.reject(new Error('JSON-RPC error: Method not found (-32601)')) }),
            getTransaction: () => ({ send: async () => null }),
        };
        const { modes, sink } = collect();
        const stop = startFeed(rpc as never, 'ws://127.0.0.1:9/', PROGRAM, sink, 20);
        await until(() => modes.some(([m]) => m === 'own transactions only'));
        stop();
        expect(modes.find(([m]) => m === 'own transactions only')?.[1]).toMatch(/neither logsSubscribe nor getSignaturesForAddress/);
    });
});
