import { createHash } from 'node:crypto';

import { address, getBase64Decoder } from '@solana/kit';
import { describe, expect, it } from 'vitest';

import { IDL_ACCOUNTS, IDL_EVENTS, IDL_PROGRAM_ADDRESS } from '../generated/bulwarkIdl';
import { getAdlCounterpartySkippedV1Encoder, getFillV1Encoder } from '../generated/types';
import { decodeEventBytes, decodeEvents, eventPayloads } from './events';

const PROGRAM = IDL_PROGRAM_ADDRESS;
const OTHER = 'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA';
const A = address('9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM');
const B = address('4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T');

const discriminator = (name: string) => IDL_EVENTS.find((e) => e.name === name)!.discriminator;
const b64 = (bytes: Uint8Array) => getBase64Decoder().decode(bytes);

function payload(name: string, data: ArrayLike<number>): Uint8Array {
    const out = new Uint8Array(8 + data.length);
    out.set(discriminator(name));
    out.set(Uint8Array.from(data), 8);
    return out;
}

const fill = () =>
    payload(
        'FillV1',
        getFillV1Encoder().encode({ market: A, maker: B, taker: A, makerOrderId: 7n, takerSide: 1, priceTicks: 101_000n, baseLots: 10n, quote: 1_010_000n, takerFee: 506n, makerFee: -202n }),
    );

describe('events from logs (sdk/src/events.rs)', () => {
    it("the IDL's discriminators are Anchor's: sha256 of event:Name / account:Name", () => {
        for (const e of IDL_EVENTS) {
            expect([...e.discriminator]).toEqual([...createHash('sha256').update(`event:${e.name}`).digest().subarray(0, 8)]);
        }
        for (const a of IDL_ACCOUNTS) {
            expect([...a.discriminator]).toEqual([...createHash('sha256').update(`account:${a.name}`).digest().subarray(0, 8)]);
        }
    });

    it('decodes Borsh events, packed (a u8 followed by a u64 with no padding) and u128', () => {
        const decoded = decodeEventBytes(fill());
        expect(decoded).toEqual({
            name: 'FillV1',
            data: { market: A, maker: B, taker: A, makerOrderId: 7n, takerSide: 1, priceTicks: 101_000n, baseLots: 10n, quote: 1_010_000n, takerFee: 506n, makerFee: -202n },
        });
        // 32 + 32 + 32 + 8 + 1 + 8·5 bytes of data: Borsh, not the 8-aligned zero-copy layout.
        expect(fill().length).toBe(8 + 145);
        const score = (1n << 100n) + 5n;
        const skipped = decodeEventBytes(payload('AdlCounterpartySkippedV1', getAdlCounterpartySkippedV1Encoder().encode({ target: A, counterparty: B, score })));
        expect(skipped).toMatchObject({ name: 'AdlCounterpartySkippedV1', data: { score } });
        expect(decodeEventBytes(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9))).toEqual({ name: null, discriminatorHex: '0102030405060708', length: 9 });
    });

    it("takes only lines Bulwark logged, in both the validator's and the native form", () => {
        const logs = [
            `Program ${PROGRAM} invoke [1]`,
            'Program log: Instruction: PlaceOrder',
            `Program ${OTHER} invoke [2]`,
            `Program data: ${b64(fill())}`, // logged by the token program: not ours
            `Program ${OTHER} success`,
            `Program data: ${b64(fill())}`,
            `Program log: event: ${b64(fill())}`,
            `Program ${PROGRAM} consumed 1000 of 200000 compute units`,
            `Program ${PROGRAM} success`,
            `Program data: ${b64(fill())}`, // after Bulwark returned: not ours
        ];
        expect(eventPayloads(logs, PROGRAM)).toHaveLength(2);
        expect(decodeEvents(logs, PROGRAM).map((e) => e.name)).toEqual(['FillV1', 'FillV1']);
        expect(decodeEvents([`Program data: ${b64(fill())}`], PROGRAM)).toEqual([]);
    });
});
