// The generated client against the program's zero-copy layouts: the IDL describes the structs
// field by field and Codama reads them as packed (Borsh) data, which is the same bytes only
// because every Bulwark account has explicit padding. The sizes below are the Rust
// `const_assert_size!`s plus the 8-byte discriminator (README "Accounts").

import { describe, expect, it } from 'vitest';

import {
    getClearinghouseDecoder,
    getClearinghouseEncoder,
    getClearinghouseSize,
    getInsuranceStakeSize,
    getMarginAccountDecoder,
    getMarginAccountEncoder,
    getMarginAccountSize,
    getMarketSize,
    getOrderBookSize,
    getPriceFeedSize,
} from '../generated/accounts';
import { IDL_ACCOUNTS, IDL_EVENTS } from '../generated/bulwarkIdl';
import { podI128 } from './snapshot';

describe('generated client', () => {
    it('has the Rust account sizes', () => {
        expect(getClearinghouseSize()).toBe(8 + 1080);
        expect(getMarginAccountSize()).toBe(712);
        expect(getMarketSize()).toBe(488);
        expect(getOrderBookSize()).toBe(8 + 48 + 2 * 80 * 32);
        expect(getPriceFeedSize()).toBe(176);
        expect(getInsuranceStakeSize()).toBe(176);
    });

    it('reads fields at the offsets keepers filter on', () => {
        const zero = getMarginAccountDecoder().decode(new Uint8Array(712));
        const bytes = getMarginAccountEncoder().encode({ ...zero, statusFlags: 0x5a, collateralBalance: 0x0102n });
        // MARGIN_ACCOUNT_STATUS_FLAGS_OFFSET = 8 + 32·3 + 8 + 8 + 2; the balance right after the keys.
        expect(bytes[8 + 32 * 3 + 8 + 8 + 2]).toBe(0x5a);
        expect([bytes[8 + 96], bytes[8 + 97]]).toEqual([0x02, 0x01]);
    });

    it('round-trips a clearinghouse and keeps 128-bit halves', () => {
        const zero = getClearinghouseDecoder().decode(new Uint8Array(1088));
        const ch = getClearinghouseDecoder().decode(getClearinghouseEncoder().encode({ ...zero, insuranceBalance: 12n, id: 3 }));
        expect([ch.insuranceBalance, ch.id]).toEqual([12n, 3]);
        expect(podI128({ lo: (1n << 64n) - 1n, hi: (1n << 64n) - 1n })).toBe(-1n);
        expect(podI128({ lo: 5n, hi: 1n })).toBe((1n << 64n) + 5n);
    });

    it('lists every account and event of the IDL with a decoder', () => {
        // Accounts and events are added over time (an ADL round account is on its way): at least these.
        expect(IDL_ACCOUNTS.map((a) => a.name)).toEqual(
            expect.arrayContaining(['Clearinghouse', 'InsuranceStake', 'MarginAccount', 'Market', 'OrderBook', 'PriceFeed']),
        );
        expect(IDL_EVENTS.length).toBeGreaterThanOrEqual(35);
        for (const e of IDL_EVENTS) expect(typeof e.getDecoder().decode).toBe('function');
    });
});
