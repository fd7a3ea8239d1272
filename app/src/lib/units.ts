// Exact conversions between decimal text and integer amounts, as sdk/src/units.rs: no floating
// point anywhere, so what is shown is what the chain holds.

import { PRICE_DECIMALS } from './constants';

/** `value × 10^-decimals` as text, trailing zeros trimmed (`1500000n, 6` → `"1.5"`). */
export function formatDecimal(value: bigint, decimals: number): string {
    const scale = 10n ** BigInt(decimals);
    const sign = value < 0n ? '-' : '';
    const magnitude = value < 0n ? -value : value;
    const whole = magnitude / scale;
    const frac = magnitude % scale;
    if (frac === 0n) return `${sign}${whole}`;
    return `${sign}${whole}.${frac.toString().padStart(decimals, '0').replace(/0+$/, '')}`;
}

/** Thousands separators on the whole part of a decimal string, for reading. */
export function groupThousands(text: string): string {
    const [whole, frac] = text.split('.');
    const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    return frac === undefined ? grouped : `${grouped}.${frac}`;
}

export class UnitsError extends Error {
    override name = 'UnitsError';
}

/** `text` (`-12.5`, `3`, `0.000001`) as an integer in units of 10^-decimals. */
export function parseDecimal(text: string, decimals: number): bigint {
    const trimmed = text.trim().replace(/[_,]/g, '');
    const negative = trimmed.startsWith('-');
    const digits = negative ? trimmed.slice(1) : trimmed;
    const [whole, frac = ''] = digits.split('.', 2);
    if ((whole === '' && frac === '') || !/^\d*$/.test(whole) || !/^\d*$/.test(frac) || digits.split('.').length > 2) {
        throw new UnitsError(`"${text}" is not a decimal number`);
    }
    if (frac.length > decimals) throw new UnitsError(`"${text}" has more than ${decimals} decimal places`);
    const value = BigInt(whole || '0') * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, '0') || '0');
    return negative ? -value : value;
}

/** A `PRICE_PRECISION` price as text (`97250500000n` → `"97250.5"`). */
export const formatPrice = (price: bigint): string => formatDecimal(price, PRICE_DECIMALS);

/** A price in collateral per whole base unit (`"97250.5"`) as book ticks; it must be on a tick. */
export function priceToTicks(text: string, tickSize: bigint): bigint {
    if (tickSize === 0n) throw new UnitsError('the market has a zero tick size');
    const price = parseDecimal(text, PRICE_DECIMALS);
    if (price <= 0n || price % tickSize !== 0n) {
        throw new UnitsError(`price ${text} is not a positive multiple of the tick size ${formatPrice(tickSize)}`);
    }
    return price / tickSize;
}

export const ticksToPrice = (ticks: bigint, tickSize: bigint): bigint => ticks * tickSize;

/** Seconds as a short human duration (`3725` → `"1h 2m"`). */
export function formatDuration(seconds: bigint | number): string {
    let s = Number(seconds);
    if (s < 0) return `-${formatDuration(-s)}`;
    if (s < 60) return `${s}s`;
    const d = Math.floor(s / 86_400);
    s -= d * 86_400;
    const h = Math.floor(s / 3_600);
    s -= h * 3_600;
    const m = Math.floor(s / 60);
    return [d ? `${d}d` : '', h ? `${h}h` : '', m ? `${m}m` : ''].filter(Boolean).join(' ');
}

/** A basis-point ratio as a percentage string with up to four decimals. */
export function formatBpsRatio(numerator: bigint, denominator: bigint): string {
    if (denominator === 0n) return '—';
    // percent with 4 decimals = numerator × 100 × 10^4 / denominator, rounded toward zero
    return `${formatDecimal((numerator * 1_000_000n) / denominator, 4)}%`;
}
