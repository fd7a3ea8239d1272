// The four trading actions (deposit, place order, cancel, withdraw), built as the CLI builds
// them (cli/src/main.rs, sdk/src/ix.rs), and sent with preflight so a refusal comes back with
// the program's error and logs.

import {
    type Address,
    AccountRole,
    type AccountSignerMeta,
    appendTransactionMessageInstructions,
    createTransactionMessage,
    getBase64EncodedWireTransaction,
    type GetLatestBlockhashApi,
    type GetSignatureStatusesApi,
    type GetTransactionApi,
    type Instruction,
    pipe,
    type Rpc,
    type SendTransactionApi,
    setTransactionMessageFeePayerSigner,
    setTransactionMessageLifetimeUsingBlockhash,
    signTransactionMessageWithSigners,
    type Signature,
    type TransactionSigner,
} from '@solana/kit';

import {
    getCancelAllOrdersInstruction,
    getCancelOrderInstruction,
    getCreateMarginAccountInstruction,
    getDepositInstruction,
    getPlaceOrderInstruction,
    getRefreshCollateralPriceInstruction,
    getWithdrawInstruction,
} from '../generated/instructions';
import { makersCrossing } from './book';
import { COLLATERAL_MODE, COMPUTE_BUDGET_ALLOWANCE, COMPUTE_BUDGETS, MAX_PRICED_MARKETS, ORACLE_SOURCE, SIDE_BID } from './constants';
import { openPositions } from './health';
import {
    ASSOCIATED_TOKEN_PROGRAM_ADDRESS,
    associatedTokenAddress,
    marginAccountPda,
    SYSTEM_PROGRAM_ADDRESS,
    TOKEN_PROGRAM_ADDRESS,
} from './pda';
import type { DashboardView, MarketView } from './snapshot';

/** An instruction with the name the compute budgets and error messages use. */
export type NamedInstruction = { name: string; instruction: Instruction };

const COMPUTE_BUDGET_PROGRAM = 'ComputeBudget111111111111111111111111111111' as Address;

/** `SetComputeUnitLimit(units)`: data `[2, units u32 LE]`. */
export function computeUnitLimitInstruction(units: number): Instruction {
    const data = new Uint8Array(5);
    data[0] = 2;
    new DataView(data.buffer).setUint32(1, units, true);
    return { programAddress: COMPUTE_BUDGET_PROGRAM, accounts: [], data };
}

/** The limit a transaction of `names` needs (`compute::crank_limit`), at most 1.4M. */
export function computeUnitLimit(names: readonly string[]): number {
    let total = COMPUTE_BUDGET_ALLOWANCE;
    for (const name of names) {
        const units = COMPUTE_BUDGETS[name];
        if (units === undefined) return 1_400_000;
        total += units;
    }
    return Math.min(total, 1_400_000);
}

/** The associated token account, created if missing (`CreateIdempotent`, data `[1]`). */
export function createAssociatedTokenAccountIdempotent(payer: TransactionSigner, ata: Address, owner: Address, mint: Address): Instruction {
    const payerMeta: AccountSignerMeta = { address: payer.address, role: AccountRole.WRITABLE_SIGNER, signer: payer };
    return {
        programAddress: ASSOCIATED_TOKEN_PROGRAM_ADDRESS,
        accounts: [
            payerMeta,
            { address: ata, role: AccountRole.WRITABLE },
            { address: owner, role: AccountRole.READONLY },
            { address: mint, role: AccountRole.READONLY },
            { address: SYSTEM_PROGRAM_ADDRESS, role: AccountRole.READONLY },
            { address: TOKEN_PROGRAM_ADDRESS, role: AccountRole.READONLY },
        ],
        data: new Uint8Array([1]),
    };
}

/** `instruction` with `remaining` appended as writable accounts (`ix::with_remaining`). */
export function withRemaining(instruction: Instruction, remaining: readonly Address[]): Instruction {
    return {
        ...instruction,
        accounts: [...(instruction.accounts ?? []), ...remaining.map((address) => ({ address, role: AccountRole.WRITABLE }))],
    };
}

export class TradeError extends Error {
    override name = 'TradeError';
}

function requireClearinghouse(view: DashboardView) {
    if (!view.clearinghouse || !view.clearinghouseAddress) throw new TradeError('No clearinghouse is loaded.');
    return { ch: view.clearinghouse, key: view.clearinghouseAddress };
}

/** The collateral refresh any priced instruction needs in the same slot (`collateral_refresh_for`). */
export function collateralRefresh(view: DashboardView): NamedInstruction[] {
    const { ch, key } = requireClearinghouse(view);
    const co = ch.collateralOracle;
    if (co.mode === COLLATERAL_MODE.market && co.market.source === ORACLE_SOURCE.fixed) return [];
    const aware = co.mode === COLLATERAL_MODE.redemptionAware;
    return [
        {
            name: 'RefreshCollateralPrice',
            instruction: getRefreshCollateralPriceInstruction({
                clearinghouse: key,
                marketFeed: co.market.source !== ORACLE_SOURCE.fixed ? co.market.feed : undefined,
                redemptionRateFeed: aware ? co.redemptionRateFeed : undefined,
                redemptionHealthFeed: aware ? co.redemptionHealthFeed : undefined,
            }),
        },
    ];
}

function marketOf(view: DashboardView, index: number): MarketView {
    const m = view.markets.find((x) => x.market.index === index);
    if (!m) throw new TradeError(`Market ${index} is not in this clearinghouse.`);
    return m;
}

/** The markets an account holds (its open position slots), in slot order. */
function marketsOf(view: DashboardView, marginAccount: Address): number[] | null {
    const a = view.accounts.find((x) => x.address === marginAccount);
    return a ? openPositions(a.input).map((p) => p.marketIndex) : null;
}

/**
 * Remaining accounts of an order on `marketIndex` (`ix::matching_remaining`): the (market,
 * oracle) pairs of every other market the taker or a passed maker holds, then the makers in
 * book order; the list ends before a maker whose markets are unknown or would take the pairs
 * past 16.
 */
export function matchingRemaining(view: DashboardView, marketIndex: number, taker: Address, makers: readonly Address[]): Address[] {
    let priced: number[] = [];
    const add = (markets: readonly number[]): boolean => {
        const next = [...priced];
        for (const index of markets) {
            if (index === marketIndex || next.includes(index)) continue;
            if (!view.markets.some((m) => m.market.index === index)) return false;
            next.push(index);
        }
        if (next.length > MAX_PRICED_MARKETS) return false;
        priced = next;
        return true;
    };
    if (!add(marketsOf(view, taker) ?? [])) throw new TradeError('The account holds a market this clearinghouse does not list.');
    const passed: Address[] = [];
    for (const maker of makers) {
        const markets = marketsOf(view, maker);
        if (!markets || !add(markets)) break; // the program stops at this maker
        passed.push(maker);
    }
    const pairs = priced.flatMap((index) => {
        const m = marketOf(view, index);
        return [m.address, m.market.oracle.feed];
    });
    return [...pairs, ...passed];
}

export type DepositRequest = { owner: TransactionSigner; amount: bigint; subAccountId: number };

export async function buildDeposit(view: DashboardView, req: DepositRequest): Promise<NamedInstruction[]> {
    const { ch, key } = requireClearinghouse(view);
    const margin = await marginAccountPda(key, req.owner.address, req.subAccountId);
    const source = await associatedTokenAddress(req.owner.address, ch.collateralMint);
    const out: NamedInstruction[] = [];
    if (!view.accounts.some((a) => a.address === margin)) {
        out.push({
            name: 'CreateMarginAccount',
            instruction: getCreateMarginAccountInstruction({
                owner: req.owner,
                payer: req.owner,
                clearinghouse: key,
                marginAccount: margin,
                subAccountId: req.subAccountId,
            }),
        });
    }
    out.push({
        name: 'Deposit',
        instruction: getDepositInstruction({
            authority: req.owner,
            clearinghouse: key,
            marginAccount: margin,
            collateralVault: ch.collateralVault,
            source,
            amount: req.amount,
        }),
    });
    return out;
}

export type WithdrawRequest = { owner: TransactionSigner; amount: bigint; subAccountId: number };

export async function buildWithdraw(view: DashboardView, req: WithdrawRequest): Promise<NamedInstruction[]> {
    const { ch, key } = requireClearinghouse(view);
    const margin = await marginAccountPda(key, req.owner.address, req.subAccountId);
    const destination = await associatedTokenAddress(req.owner.address, ch.collateralMint);
    // Every market the account holds is priced by the withdrawal's margin check.
    const pairs = (marketsOf(view, margin) ?? []).flatMap((index) => {
        const m = marketOf(view, index);
        return [m.address, m.market.oracle.feed];
    });
    return [
        {
            name: 'CreateAssociatedTokenAccount',
            instruction: createAssociatedTokenAccountIdempotent(req.owner, destination, req.owner.address, ch.collateralMint),
        },
        ...collateralRefresh(view),
        {
            name: 'Withdraw',
            instruction: withRemaining(
                getWithdrawInstruction({
                    owner: req.owner,
                    clearinghouse: key,
                    marginAccount: margin,
                    collateralVault: ch.collateralVault,
                    destination,
                    amount: req.amount,
                }),
                pairs,
            ),
        },
    ];
}

export type OrderRequest = {
    authority: TransactionSigner;
    subAccountId: number;
    marketIndex: number;
    side: number;
    orderType: number;
    priceTicks: bigint;
    baseLots: bigint;
    reduceOnly: boolean;
    expiryUnix: bigint;
    clientOrderId: bigint;
};

export async function buildPlaceOrder(view: DashboardView, req: OrderRequest): Promise<NamedInstruction[]> {
    const { ch, key } = requireClearinghouse(view);
    const market = marketOf(view, req.marketIndex);
    const margin = await marginAccountPda(key, req.authority.address, req.subAccountId);
    if (!view.accounts.some((a) => a.address === margin)) {
        throw new TradeError('This signer has no margin account in the clearinghouse yet: deposit first.');
    }
    // The makers the order may meet up to its limit, in the order the program takes them.
    const makers = market.book ? makersCrossing(market.book, req.side === SIDE_BID ? 0 : 1, margin, req.priceTicks) : [];
    const remaining = matchingRemaining(view, req.marketIndex, margin, makers as Address[]);
    return [
        ...collateralRefresh(view),
        {
            name: 'PlaceOrder',
            instruction: withRemaining(
                getPlaceOrderInstruction({
                    authority: req.authority,
                    clearinghouse: key,
                    marginAccount: margin,
                    market: market.address,
                    orderBook: market.market.orderBook,
                    oracle: market.market.oracle.feed,
                    collateralVault: ch.collateralVault,
                    insuranceVault: ch.insuranceVault,
                    side: req.side,
                    orderType: req.orderType,
                    priceTicks: req.priceTicks,
                    baseLots: req.baseLots,
                    reduceOnly: req.reduceOnly,
                    expiryUnix: req.expiryUnix,
                    clientOrderId: req.clientOrderId,
                }),
                remaining,
            ),
        },
    ];
}

export type CancelRequest = { authority: TransactionSigner; subAccountId: number; marketIndex: number; orderId: bigint | null };

export async function buildCancel(view: DashboardView, req: CancelRequest): Promise<NamedInstruction[]> {
    const { key } = requireClearinghouse(view);
    const market = marketOf(view, req.marketIndex);
    const margin = await marginAccountPda(key, req.authority.address, req.subAccountId);
    const accounts = { authority: req.authority, marginAccount: margin, market: market.address, orderBook: market.market.orderBook };
    return req.orderId === null
        ? [{ name: 'CancelAllOrders', instruction: getCancelAllOrdersInstruction(accounts) }]
        : [{ name: 'CancelOrder', instruction: getCancelOrderInstruction({ ...accounts, orderId: req.orderId }) }];
}

// ---- sending -------------------------------------------------------------------------------

type SendRpc = Rpc<GetLatestBlockhashApi & SendTransactionApi & GetSignatureStatusesApi & GetTransactionApi>;

export class TransactionFailedError extends Error {
    override name = 'TransactionFailedError';
    constructor(
        readonly signature: Signature,
        readonly transactionError: unknown,
        readonly logs: readonly string[],
    ) {
        // The raw `TransactionError` as the cause, where the error description looks for it.
        super(`transaction ${signature} failed`, { cause: transactionError });
    }
}

export type Landed = { signature: Signature; logs: readonly string[] };

/** The names of a transaction's instructions, the compute-budget one first. */
export const instructionNames = (instructions: readonly NamedInstruction[]): string[] => [
    'SetComputeUnitLimit',
    ...instructions.map((i) => i.name),
];

/**
 * Sign with `signer` (fee payer and every signer the instructions name), send with preflight,
 * and wait for confirmation. A refused preflight throws kit's error (its cause carries the
 * program error and logs); a transaction that lands failed throws `TransactionFailedError`.
 */
export async function sendInstructions(
    rpc: SendRpc,
    signer: TransactionSigner,
    instructions: readonly NamedInstruction[],
    timeoutMs = 60_000,
): Promise<Landed> {
    const { value: blockhash } = await rpc.getLatestBlockhash({ commitment: 'confirmed' }).send();
    const message = pipe(
        createTransactionMessage({ version: 0 }),
        (m) => setTransactionMessageFeePayerSigner(signer, m),
        (m) => setTransactionMessageLifetimeUsingBlockhash(blockhash, m),
        (m) =>
            appendTransactionMessageInstructions(
                [computeUnitLimitInstruction(computeUnitLimit(instructions.map((i) => i.name))), ...instructions.map((i) => i.instruction)],
                m,
            ),
    );
    const signed = await signTransactionMessageWithSigners(message);
    const wire = getBase64EncodedWireTransaction(signed);
    const signature = await rpc.sendTransaction(wire, { encoding: 'base64', preflightCommitment: 'confirmed' }).send();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const { value } = await rpc.getSignatureStatuses([signature]).send();
        const status = value[0];
        if (status && (status.confirmationStatus === 'confirmed' || status.confirmationStatus === 'finalized' || status.err)) {
            const tx = await rpc
                .getTransaction(signature, { commitment: 'confirmed', maxSupportedTransactionVersion: 0, encoding: 'json' })
                .send()
                .catch(() => null);
            const logs = tx?.meta?.logMessages ?? [];
            if (status.err) throw new TransactionFailedError(signature, status.err, logs);
            return { signature, logs };
        }
        if (Date.now() > deadline) throw new TradeError(`Transaction ${signature} was not confirmed within ${timeoutMs / 1000}s.`);
        await new Promise((r) => setTimeout(r, 500));
    }
}
