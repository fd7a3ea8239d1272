// Turning failures into sentences a trader can act on: the RPC node unreachable, the wrong
// cluster, or a transaction the program refused, named and explained from the IDL's errors.

import {
    isSolanaError,
    SOLANA_ERROR__INSTRUCTION_ERROR__CUSTOM,
    SOLANA_ERROR__JSON_RPC__SERVER_ERROR_SEND_TRANSACTION_PREFLIGHT_FAILURE,
    SOLANA_ERROR__RPC__TRANSPORT_HTTP_ERROR,
    SOLANA_ERROR__TRANSACTION_ERROR__ACCOUNT_NOT_FOUND,
    SOLANA_ERROR__TRANSACTION_ERROR__BLOCKHASH_NOT_FOUND,
    SOLANA_ERROR__TRANSACTION_ERROR__INSUFFICIENT_FUNDS_FOR_FEE,
} from '@solana/kit';

import { IDL_ERRORS, type IdlError } from '../generated/bulwarkIdl';
import { TOKEN_PROGRAM_ADDRESS } from './pda';

/** Anchor's own errors the program's account checks raise most (anchor-lang `ErrorCode`). */
const ANCHOR_ERRORS: readonly IdlError[] = [
    { code: 100, name: 'InstructionMissing', msg: 'Instruction discriminator not provided' },
    { code: 101, name: 'InstructionFallbackNotFound', msg: 'Fallback functions are not supported' },
    { code: 102, name: 'InstructionDidNotDeserialize', msg: 'The program could not deserialize the given instruction' },
    { code: 2000, name: 'ConstraintMut', msg: 'A mut constraint was violated' },
    { code: 2001, name: 'ConstraintHasOne', msg: 'A has one constraint was violated' },
    { code: 2003, name: 'ConstraintRaw', msg: 'A raw constraint was violated' },
    { code: 2006, name: 'ConstraintSeeds', msg: 'A seeds constraint was violated' },
    { code: 2012, name: 'ConstraintAddress', msg: 'An address constraint was violated' },
    { code: 2014, name: 'ConstraintTokenMint', msg: 'A token mint constraint was violated' },
    { code: 2015, name: 'ConstraintTokenOwner', msg: 'A token owner constraint was violated' },
    { code: 3001, name: 'AccountDiscriminatorNotFound', msg: 'No discriminator was found on the account' },
    { code: 3002, name: 'AccountDiscriminatorMismatch', msg: 'Account discriminator did not match what was expected' },
    { code: 3003, name: 'AccountDidNotDeserialize', msg: 'Failed to deserialize the account' },
    { code: 3007, name: 'AccountOwnedByWrongProgram', msg: 'The given account is owned by a different program than expected' },
    { code: 3010, name: 'AccountNotSigner', msg: 'The given account did not sign' },
    { code: 3012, name: 'AccountNotInitialized', msg: 'The program expected this account to be already initialized' },
];

/** SPL Token errors a deposit or withdrawal meets (spl-token `TokenError`). */
const TOKEN_ERRORS: readonly IdlError[] = [
    { code: 1, name: 'InsufficientFunds', msg: 'Insufficient funds in the token account' },
    { code: 3, name: 'MintMismatch', msg: 'Account not associated with this mint' },
    { code: 4, name: 'OwnerMismatch', msg: 'Owner does not match' },
    { code: 17, name: 'AccountFrozen', msg: 'Account is frozen' },
];

export function bulwarkError(code: number): IdlError | undefined {
    return IDL_ERRORS.find((e) => e.code === code) ?? ANCHOR_ERRORS.find((e) => e.code === code);
}

export type RefusedTransaction = {
    /** The instruction that failed, by index in the transaction. */
    index: number | null;
    code: number;
    /** The program that raised the code, when the logs say. */
    program: string | null;
    /** Who refused, for the sentence: the program, the token program, or another by address. */
    raiser: string;
    error: IdlError | undefined;
    logs: readonly string[];
};

const FAILED_LINE = /^Program (\w+) failed: custom program error: 0x([0-9a-fA-F]+)/;

/** The custom error in `err` (kit's error chain or a raw `TransactionError`), with its logs. */
export function refusedTransaction(err: unknown, programAddress: string, logsHint: readonly string[] = []): RefusedTransaction | null {
    let logs: readonly string[] = logsHint;
    let index: number | null = null;
    let code: number | null = null;
    for (let e: unknown = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
        if (isSolanaError(e, SOLANA_ERROR__JSON_RPC__SERVER_ERROR_SEND_TRANSACTION_PREFLIGHT_FAILURE)) {
            logs = e.context.logs ?? logs;
        }
        if (isSolanaError(e, SOLANA_ERROR__INSTRUCTION_ERROR__CUSTOM)) {
            code = e.context.code;
            index = e.context.index;
        }
        // A raw `TransactionError` (getSignatureStatuses): numbers may arrive as bigints.
        const raw = (e as { InstructionError?: [number | bigint, unknown] }).InstructionError;
        const custom = Array.isArray(raw) ? (raw[1] as { Custom?: number | bigint } | null)?.Custom : undefined;
        if (Array.isArray(raw) && (typeof custom === 'number' || typeof custom === 'bigint')) {
            index = Number(raw[0]);
            code = Number(custom);
        }
    }
    // The first "failed" line names the program that raised the code: a CPI's error then
    // fails each caller in turn, and surfaces at the outer instruction's index.
    let program: string | null = null;
    for (const line of logs) {
        const m = FAILED_LINE.exec(line);
        if (m) {
            program = m[1];
            code ??= parseInt(m[2], 16);
            break;
        }
    }
    if (code === null) return null;
    const error =
        program === TOKEN_PROGRAM_ADDRESS
            ? TOKEN_ERRORS.find((e) => e.code === code)
            : program === null || program === programAddress
              ? bulwarkError(code)
              : undefined;
    const raiser =
        program === TOKEN_PROGRAM_ADDRESS
            ? 'The token program'
            : program === null || program === programAddress
              ? 'The program'
              : `Program ${program}`;
    return { index, code, program, raiser, error, logs };
}

/** "InsufficientCollateral (6013): Withdrawal exceeds the account's collateral balance". */
export function formatProgramError(refused: RefusedTransaction, instructionNames: readonly string[] = []): string {
    const where =
        refused.index !== null && instructionNames[refused.index]
            ? ` in instruction ${refused.index + 1} (${instructionNames[refused.index]})`
            : '';
    const who = refused.raiser;
    if (refused.error) {
        return `${who} refused the transaction${where}: ${refused.error.name} (${refused.code}): ${refused.error.msg}.`;
    }
    return `${who} refused the transaction${where} with error code ${refused.code}, which its IDL does not name.`;
}

/** Whether `err` means the RPC node could not be reached at all (no HTTP answer). */
export function isUnreachable(err: unknown): boolean {
    if (err instanceof TypeError) return true; // fetch's network failure (refused, DNS, CORS)
    const message = err instanceof Error ? err.message : String(err);
    return /Failed to fetch|NetworkError|Load failed|ECONNREFUSED|fetch failed/i.test(message);
}

export class WrongClusterError extends Error {
    override name = 'WrongClusterError';
}

/** A sentence for any failure: unreachable node, HTTP error, refused transaction, or else. */
export function describeError(
    err: unknown,
    context: { rpcUrl: string; programAddress: string; instructionNames?: readonly string[] },
): { message: string; logs?: readonly string[] } {
    if (isUnreachable(err)) {
        return {
            message:
                `Cannot reach the RPC node at ${context.rpcUrl}: it is not running, not at that address, or it refuses ` +
                'cross-origin requests from this page (bulwark-localnet sends no CORS headers: open the dashboard ' +
                'with `npm run dev` and use /rpc, which the dev server forwards to the node).',
        };
    }
    if (isSolanaError(err, SOLANA_ERROR__RPC__TRANSPORT_HTTP_ERROR)) {
        return { message: `The RPC node at ${context.rpcUrl} answered HTTP ${err.context.statusCode}: ${err.context.message}.` };
    }
    if (err instanceof WrongClusterError) return { message: err.message };
    const logsHint = err instanceof Error && Array.isArray((err as { logs?: unknown }).logs) ? (err as unknown as { logs: string[] }).logs : [];
    const refused = refusedTransaction(err, context.programAddress, logsHint);
    if (refused) return { message: formatProgramError(refused, context.instructionNames), logs: refused.logs };
    const logs = isSolanaError(err, SOLANA_ERROR__JSON_RPC__SERVER_ERROR_SEND_TRANSACTION_PREFLIGHT_FAILURE)
        ? err.context.logs ?? undefined
        : logsHint.length
          ? logsHint
          : undefined;
    const known = knownFailure(err, context.instructionNames ?? []);
    if (known) return { message: known, logs };
    // kit's own messages are reduced to a code in production builds; the node's words are kept.
    const serverMessage = serverMessageOf(err);
    if (serverMessage) return { message: `The node at ${context.rpcUrl} refused the request: ${serverMessage.replace(/\.?$/, '.')}`, logs };
    const message = err instanceof Error ? err.message : String(err);
    return { message: `${message.replace(/\.?$/, '.')}`, logs };
}

/** Sentences for the failures a trader meets most, whatever kit's build says about them. */
function knownFailure(err: unknown, instructionNames: readonly string[]): string | null {
    for (let e: unknown = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
        if (isSolanaError(e, SOLANA_ERROR__TRANSACTION_ERROR__BLOCKHASH_NOT_FOUND)) {
            return 'The transaction\'s blockhash expired before the node processed it: send it again.';
        }
        if (isSolanaError(e, SOLANA_ERROR__TRANSACTION_ERROR__INSUFFICIENT_FUNDS_FOR_FEE)) {
            return 'The signer has too little SOL to pay the fee (on localnet or devnet, airdrop some first).';
        }
        if (isSolanaError(e, SOLANA_ERROR__TRANSACTION_ERROR__ACCOUNT_NOT_FOUND)) {
            return 'The signer\'s account does not exist on this cluster: fund it with SOL first.';
        }
        // A landed failure's raw `TransactionError` that is not a custom code: `[index, "Name"]`.
        const raw = (e as { InstructionError?: [number | bigint, unknown] }).InstructionError;
        if (Array.isArray(raw) && typeof raw[1] === 'string') {
            const index = Number(raw[0]);
            const name = instructionNames[index] ? ` (${instructionNames[index]})` : '';
            return `Instruction ${index + 1}${name} failed: ${raw[1]}.`;
        }
    }
    return null;
}

function serverMessageOf(err: unknown): string | null {
    for (let e: unknown = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
        const message = (e as { context?: { __serverMessage?: unknown } }).context?.__serverMessage;
        if (typeof message === 'string' && message) return message;
    }
    return null;
}
