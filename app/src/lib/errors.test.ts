import {
    SOLANA_ERROR__INSTRUCTION_ERROR__CUSTOM,
    SOLANA_ERROR__JSON_RPC__METHOD_NOT_FOUND,
    SOLANA_ERROR__TRANSACTION_ERROR__BLOCKHASH_NOT_FOUND,
    SOLANA_ERROR__TRANSACTION_ERROR__INSUFFICIENT_FUNDS_FOR_FEE,
    SolanaError,
} from '@solana/kit';
import { describe, expect, it } from 'vitest';

import { IDL_ERRORS, IDL_PROGRAM_ADDRESS } from '../generated/bulwarkIdl';
import { bulwarkError, describeError, formatProgramError, isUnreachable, refusedTransaction, WrongClusterError } from './errors';

const PROGRAM = IDL_PROGRAM_ADDRESS;
const ctx = { rpcUrl: 'http://127.0.0.1:8899/', programAddress: PROGRAM };

describe('error sentences', () => {
    it('names program errors from the IDL, codes from 6000', () => {
        expect(IDL_ERRORS[0]).toEqual({ code: 6000, name: 'MathOverflow', msg: 'Arithmetic overflow' });
        expect(bulwarkError(6013)?.name).toBe('InsufficientCollateral');
        expect(bulwarkError(3012)?.name).toBe('AccountNotInitialized');
        expect(bulwarkError(1)).toBeUndefined();
    });

    it('reads a refused transaction from a raw TransactionError and its logs', () => {
        const logs = [`Program ${PROGRAM} invoke [1]`, `Program ${PROGRAM} failed: custom program error: 0x177d`];
        const refused = refusedTransaction({ InstructionError: [2, { Custom: 6013 }] }, PROGRAM, logs);
        expect(refused).toMatchObject({ index: 2, code: 6013, program: PROGRAM });
        expect(formatProgramError(refused!, ['SetComputeUnitLimit', 'CreateAssociatedTokenAccount', 'Withdraw'])).toBe(
            "The program refused the transaction in instruction 3 (Withdraw): InsufficientCollateral (6013): Withdrawal exceeds the account's collateral balance.",
        );
    });

    it("reads kit's error chain, bigints included", () => {
        const err = new Error('send failed', { cause: new SolanaError(SOLANA_ERROR__INSTRUCTION_ERROR__CUSTOM, { code: 6007, index: 1 }) });
        expect(describeError(err, ctx).message).toBe('The program refused the transaction: ClearinghousePaused (6007): The clearinghouse is paused.');
        const raw = new Error('failed', { cause: { InstructionError: [1n, { Custom: 6007n }] } });
        expect(refusedTransaction(raw, PROGRAM)).toMatchObject({ index: 1, code: 6007 });
    });

    it("attributes a token program's error raised inside a Bulwark instruction", () => {
        const logs = [
            `Program ${PROGRAM} invoke [1]`,
            'Program TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA invoke [2]',
            'Program TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA failed: custom program error: 0x1',
            `Program ${PROGRAM} failed: custom program error: 0x1`,
        ];
        const refused = refusedTransaction({ InstructionError: [1, { Custom: 1 }] }, PROGRAM, logs);
        expect(formatProgramError(refused!, ['SetComputeUnitLimit', 'Deposit'])).toBe(
            'The token program refused the transaction in instruction 2 (Deposit): InsufficientFunds (1): Insufficient funds in the token account.',
        );
    });

    it('says when the node cannot be reached, and passes wrong-cluster sentences through', () => {
        const down = new TypeError('Failed to fetch');
        expect(isUnreachable(down)).toBe(true);
        expect(describeError(down, ctx).message).toMatch(/^Cannot reach the RPC node at http:\/\/127\.0\.0\.1:8899\/: it is not running/);
        expect(describeError(new WrongClusterError('No program at X.'), ctx).message).toBe('No program at X.');
        expect(describeError(new Error('Blockhash not found'), ctx).message).toBe('Blockhash not found.');
    });
});

describe('error sentences for common failures', () => {
    it('explains an expired blockhash, a missing fee and a non-custom instruction error', () => {
        const wrap = (cause: unknown) => new Error('preflight', { cause });
        expect(describeError(wrap(new SolanaError(SOLANA_ERROR__TRANSACTION_ERROR__BLOCKHASH_NOT_FOUND)), ctx).message).toMatch(/blockhash expired/);
        expect(describeError(wrap(new SolanaError(SOLANA_ERROR__TRANSACTION_ERROR__INSUFFICIENT_FUNDS_FOR_FEE)), ctx).message).toMatch(/too little SOL/);
        expect(describeError(wrap({ InstructionError: [1, 'InvalidAccountData'] }), { ...ctx, instructionNames: ['SetComputeUnitLimit', 'Deposit'] }).message).toBe(
            'Instruction 2 (Deposit) failed: InvalidAccountData.',
        );
        const missing = new SolanaError(SOLANA_ERROR__JSON_RPC__METHOD_NOT_FOUND, { __serverMessage: 'Method not found' });
        expect(describeError(missing, ctx).message).toBe('The node at http://127.0.0.1:8899/ refused the request: Method not found.');
    });
});
