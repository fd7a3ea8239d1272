import { describe, expect, it } from 'vitest';

import { div, divCeil, divFloor, I64, I128, MathError, mul, saturatingMul, toI64, toU64, U128, U64 } from './safeMath';

describe('safe math (math/safe.rs)', () => {
    it('rounds each division the way its Rust counterpart does', () => {
        // The cases of safe.rs `rounding_directions`.
        expect(div(7n, 2n, I64)).toBe(3n);
        expect(divCeil(7n, 2n, I64)).toBe(4n);
        expect(divFloor(7n, 2n, I64)).toBe(3n);
        expect(div(-7n, 2n, I64)).toBe(-3n);
        expect(divCeil(-7n, 2n, I64)).toBe(-3n);
        expect(divFloor(-7n, 2n, I64)).toBe(-4n);
        expect(divCeil(7n, -2n, I64)).toBe(-3n);
        expect(divFloor(7n, -2n, I64)).toBe(-4n);
        expect(divCeil(6n, 2n, I64)).toBe(3n);
        expect(divFloor(6n, -2n, I64)).toBe(-3n);
        expect(divCeil(0n, 5n, U64)).toBe(0n);
    });

    it('fails where Rust fails: overflow, MIN / -1, division by zero', () => {
        expect(() => mul(1n << 100n, 1n << 30n, I128)).toThrow(MathError);
        expect(() => div(I64.min, -1n, I64)).toThrow(/overflow/);
        expect(() => divCeil(7n, 0n, I64)).toThrow(/division by zero/);
        expect(() => toI64(U64.max)).toThrow(MathError);
        expect(() => toU64(-1n)).toThrow(MathError);
        expect(toU64(5n)).toBe(5n);
        expect(div(I128.min, 1n, I128)).toBe(I128.min);
    });

    it('saturates where Rust saturates', () => {
        expect(saturatingMul(U128.max, 2n, U128)).toBe(U128.max);
        expect(saturatingMul(3n, 4n, U128)).toBe(12n);
    });
});
