// Checked integer arithmetic on bigint, with Rust's ranges and rounding: the program's math
// (programs/bulwark/src/math/safe.rs) fails on overflow instead of wrapping, and its divisions
// round toward zero, up or down as each call says. Every port in this folder goes through these
// helpers so a value the program would refuse is refused here too.

export type IntType = { name: string; min: bigint; max: bigint };

const range = (name: string, bits: bigint, signed: boolean): IntType =>
    signed
        ? { name, min: -(1n << (bits - 1n)), max: (1n << (bits - 1n)) - 1n }
        : { name, min: 0n, max: (1n << bits) - 1n };

export const I32 = range('i32', 32n, true);
export const U32 = range('u32', 32n, false);
export const I64 = range('i64', 64n, true);
export const U64 = range('u64', 64n, false);
export const I128 = range('i128', 128n, true);
export const U128 = range('u128', 128n, false);

export class MathError extends Error {
    constructor(
        readonly kind: 'overflow' | 'division by zero',
        detail: string,
    ) {
        super(`${kind}: ${detail}`);
        this.name = 'MathError';
    }
}

/** `value` if it fits `type`, else the overflow error Rust's checked operations give. */
export function fit(value: bigint, type: IntType): bigint {
    if (value < type.min || value > type.max) throw new MathError('overflow', `${value} does not fit ${type.name}`);
    return value;
}

export const add = (a: bigint, b: bigint, type: IntType): bigint => fit(a + b, type);
export const sub = (a: bigint, b: bigint, type: IntType): bigint => fit(a - b, type);
export const mul = (a: bigint, b: bigint, type: IntType): bigint => fit(a * b, type);

function divRem(a: bigint, b: bigint, type: IntType): [bigint, bigint] {
    if (b === 0n) throw new MathError('division by zero', `${a} / 0`);
    // bigint division truncates toward zero and the remainder takes the dividend's sign, as
    // in Rust; only MIN / -1 overflows.
    return [fit(a / b, type), a % b];
}

/** Division rounding toward zero (`safe_div`). */
export const div = (a: bigint, b: bigint, type: IntType): bigint => divRem(a, b, type)[0];

/** Division rounding toward positive infinity (`safe_div_ceil`). */
export function divCeil(a: bigint, b: bigint, type: IntType): bigint {
    const [q, r] = divRem(a, b, type);
    return r !== 0n && r > 0n === b > 0n ? add(q, 1n, type) : q;
}

/** Division rounding toward negative infinity (`safe_div_floor`). */
export function divFloor(a: bigint, b: bigint, type: IntType): bigint {
    const [q, r] = divRem(a, b, type);
    return r !== 0n && r > 0n !== b > 0n ? sub(q, 1n, type) : q;
}

/** `checked_abs`: |MIN| overflows. */
export const abs = (a: bigint, type: IntType): bigint => fit(a < 0n ? -a : a, type);

/** `unsigned_abs`: never fails. */
export const unsignedAbs = (a: bigint): bigint => (a < 0n ? -a : a);

export const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);
export const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);

/** Saturating multiplication into `type` (`saturating_mul` on non-negative values). */
export const saturatingMul = (a: bigint, b: bigint, type: IntType): bigint => {
    const v = a * b;
    return v > type.max ? type.max : v < type.min ? type.min : v;
};

export const toI64 = (v: bigint): bigint => fit(v, I64);
export const toU64 = (v: bigint): bigint => fit(v, U64);
