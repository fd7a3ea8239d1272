import { describe, expect, it } from 'vitest';

import { formatBpsRatio, formatDecimal, formatDuration, groupThousands, parseDecimal, priceToTicks, UnitsError } from './units';

describe('units (sdk/src/units.rs)', () => {
    it('formats exactly, trailing zeros trimmed', () => {
        expect(formatDecimal(1_500_000n, 6)).toBe('1.5');
        expect(formatDecimal(-1n, 6)).toBe('-0.000001');
        expect(formatDecimal(97_250_500_000n, 6)).toBe('97250.5');
        expect(formatDecimal(3n, 0)).toBe('3');
        expect(groupThousands('1234567.891')).toBe('1,234,567.891');
        expect(groupThousands('-1234')).toBe('-1,234');
    });

    it('parses decimal text without floating point', () => {
        expect(parseDecimal('12.5', 6)).toBe(12_500_000n);
        expect(parseDecimal('-0.000001', 6)).toBe(-1n);
        expect(parseDecimal('1_000', 2)).toBe(100_000n);
        expect(parseDecimal('.5', 1)).toBe(5n);
        expect(parseDecimal('9007199254740993', 0)).toBe(9_007_199_254_740_993n);
        expect(() => parseDecimal('1.2345678', 6)).toThrow(UnitsError);
        expect(() => parseDecimal('abc', 6)).toThrow(/not a decimal/);
        expect(() => parseDecimal('1.2.3', 6)).toThrow(UnitsError);
        expect(() => parseDecimal('', 6)).toThrow(UnitsError);
    });

    it('converts prices to ticks only on a tick', () => {
        expect(priceToTicks('97250', 1_000_000n)).toBe(97_250n);
        expect(priceToTicks('0.5', 100_000n)).toBe(5n);
        expect(() => priceToTicks('97250.5', 1_000_000n)).toThrow(/tick size 1/);
        expect(() => priceToTicks('0', 1n)).toThrow(UnitsError);
    });

    it('shows durations and ratios', () => {
        expect(formatDuration(3_725)).toBe('1h 2m');
        expect(formatDuration(45)).toBe('45s');
        expect(formatDuration(90_000n)).toBe('1d 1h');
        expect(formatBpsRatio(1n, 10_000n)).toBe('0.01%');
        expect(formatBpsRatio(-5n, 1_000n)).toBe('-0.5%');
        expect(formatBpsRatio(1n, 0n)).toBe('—');
    });
});
