// Anchor events from transaction logs (sdk/src/events.rs). A validator logs the program's
// `sol_log_data(discriminator ‖ borsh)` as `Program data: <base64>`; bulwark-localnet running
// the native build logs `Program log: event: <base64>`. Only lines written while Bulwark is the
// executing program count: the invoke/success lines are tracked, since other programs in the
// same transaction log data too.

import { getBase64Encoder } from '@solana/kit';

import { IDL_EVENTS, type IdlEntry } from '../generated/bulwarkIdl';

export const VALIDATOR_EVENT_PREFIX = 'Program data: ';
export const NATIVE_EVENT_PREFIX = 'Program log: event: ';

export type DecodedEvent = {
    /** The IDL's event name, e.g. `FillV1`. */
    name: string;
    data: Record<string, unknown>;
};

export type UnknownEvent = { name: null; discriminatorHex: string; length: number };

const base64 = getBase64Encoder();

const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');

function matches(entry: IdlEntry, bytes: Uint8Array): boolean {
    return entry.discriminator.every((b, i) => bytes[i] === b);
}

/** One event payload (discriminator ‖ data) decoded by the IDL's event list. */
export function decodeEventBytes(bytes: Uint8Array, events: readonly IdlEntry[] = IDL_EVENTS): DecodedEvent | UnknownEvent {
    const entry = bytes.length >= 8 ? events.find((e) => matches(e, bytes)) : undefined;
    if (!entry) return { name: null, discriminatorHex: hex(bytes.slice(0, 8)), length: bytes.length };
    const data = entry.getDecoder().decode(bytes.slice(8)) as Record<string, unknown>;
    return { name: entry.name, data };
}

const INVOKE = /^Program (\w+) invoke \[\d+\]$/;
const EXIT = /^Program (\w+) (success|failed)/;

/** The payloads Bulwark (at `programAddress`) logged, in order. */
export function eventPayloads(logs: readonly string[], programAddress: string): Uint8Array[] {
    const stack: string[] = [];
    const out: Uint8Array[] = [];
    for (const line of logs) {
        const invoke = INVOKE.exec(line);
        if (invoke) {
            stack.push(invoke[1]);
            continue;
        }
        const exit = EXIT.exec(line);
        if (exit && stack[stack.length - 1] === exit[1]) {
            stack.pop();
            continue;
        }
        if (stack[stack.length - 1] !== programAddress) continue;
        const payload = line.startsWith(VALIDATOR_EVENT_PREFIX)
            ? line.slice(VALIDATOR_EVENT_PREFIX.length)
            : line.startsWith(NATIVE_EVENT_PREFIX)
              ? line.slice(NATIVE_EVENT_PREFIX.length)
              : null;
        if (payload === null) continue;
        // `sol_log_data` logs each slice it was given, space-separated; an event is one slice.
        for (const part of payload.trim().split(/\s+/)) {
            try {
                out.push(Uint8Array.from(base64.encode(part)));
            } catch {
                // Not base64: not an event.
            }
        }
    }
    return out;
}

/** Every Bulwark event in `logs`, decoded (unknown discriminators kept as such). */
export function decodeEvents(logs: readonly string[], programAddress: string): Array<DecodedEvent | UnknownEvent> {
    return eventPayloads(logs, programAddress).map((bytes) => decodeEventBytes(bytes));
}
