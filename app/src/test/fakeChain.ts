// A small Bulwark deployment as account bytes made by the generated encoders, and a fake node
// answering the read methods from them in the shapes kit returns. Test support only.

import { type Address, address, getBase58Decoder, getBase58Encoder, getBase64Decoder } from '@solana/kit';

import {
    getClearinghouseDecoder,
    getClearinghouseEncoder,
    getInsuranceStakeDecoder,
    getInsuranceStakeEncoder,
    getMarginAccountDecoder,
    getMarginAccountEncoder,
    getMarketDecoder,
    getMarketEncoder,
    getOrderBookDecoder,
    getOrderBookEncoder,
    getPriceFeedDecoder,
    getPriceFeedEncoder,
} from '../generated/accounts';
import { IDL_PROGRAM_ADDRESS } from '../generated/bulwarkIdl';
import { ORACLE_SOURCE } from '../lib/constants';
import { marginAccountPda } from '../lib/pda';
import { CLOCK_SYSVAR } from '../lib/snapshot';

export const PROGRAM = address(IDL_PROGRAM_ADDRESS);
export const TOKEN = address('TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA');
/** A distinct address: 32 bytes of `n` (kit's base58 "decoder" turns bytes into text). */
export const key = (n: number) => address(getBase58Decoder().decode(new Uint8Array(32).fill(n)));

export const CH = key(1);
export const MARKET0 = key(2);
export const MARKET1 = key(3);
export const BOOK0 = key(4);
export const BOOK1 = key(5);
export const FEED0 = key(6);
export const PYTH1 = key(7);
export const VAULT = key(8);
export const INSURANCE = key(9);
export const STAKE = key(14);
export const SLOT = 1_000n;
export const NOW = 1_700_000_000n;

const zero = <T>(decoder: () => { decode: (b: Uint8Array) => T }, size: number): T => decoder().decode(new Uint8Array(size));

/** Owners of the margin accounts A1 (at risk), A2 (profitable short), A3 (holds the Pyth market). */
export const OWNERS = { a1: key(30), a2: key(31), a3: key(32) };
export const MINT = key(40);

export async function deployment() {
    const [A1, A2, A3] = await Promise.all([marginAccountPda(CH, OWNERS.a1, 0), marginAccountPda(CH, OWNERS.a2, 0), marginAccountPda(CH, OWNERS.a3, 0)]);
    const BROKEN = key(13);
    const ch0 = zero(getClearinghouseDecoder, 1088);
    const ch = getClearinghouseEncoder().encode({
        ...ch0,
        collateralMint: MINT,
        collateralVault: VAULT,
        insuranceVault: INSURANCE,
        collateralDecimals: 6,
        collateralOracle: { ...ch0.collateralOracle, mode: 0, market: { ...ch0.collateralOracle.market, source: ORACLE_SOURCE.fixed, fixedPrice: 1_000_000n } },
        insuranceBalance: 1_500_000_000n,
        insuranceTotalShares: 2_000_000_000n,
        marketCount: 2,
        waterfall: { ...ch0.waterfall, liquidationBufferBps: 1_000, adlGraceSlots: 100n, maxFillDeviationBps: 400, insuranceUnstakeCooldownSeconds: 3_600n },
    });
    const m0 = zero(getMarketDecoder, 488);
    const market = (index: number, book: Address, oracle: typeof m0.oracle) =>
        getMarketEncoder().encode({
            ...m0,
            clearinghouse: CH,
            orderBook: book,
            oracle,
            index,
            status: 1,
            quotePerLotTick: 1_000_000n,
            params: { ...m0.params, tickSize: 1_000_000n, initialMarginBps: 1_000, maintenanceMarginBps: 500, fundingPeriodSeconds: 3_600n, maxFundingRateBps: 50, maxOpenInterestLots: 10_000n },
            oracleTwap: 100_000_000n,
            markTwap: 101_000_000n,
            openInterestLongLots: 150n,
            lastOracleSample: 42_000_000n,
        });
    const guards = { maxStalenessSlots: 100n, maxStalenessSeconds: 60n, maxConfidenceBps: 100, maxTwapDivergenceBps: 1_000 };
    const feed0 = zero(getPriceFeedDecoder, 176);
    const ob0 = zero(getOrderBookDecoder, 5176);
    const order = (maker: Address, orderId: bigint, priceTicks: bigint, baseLots: bigint) => ({ ...ob0.bids[0], maker, orderId, priceTicks, baseLots });
    const bids = [...ob0.bids];
    bids[0] = order(A1, 1n, 93n, 5n);
    const asks = [...ob0.asks];
    asks[0] = order(A3, 2n, 95n, 3n);
    asks[1] = order(A3, 3n, 95n, 2n);
    const ma0 = zero(getMarginAccountDecoder, 712);
    const margin = (owner: Address, balance: bigint, positions: Array<[number, bigint, bigint]>, extra: Partial<typeof ma0> = {}) => {
        const slots = [...ma0.positions];
        positions.forEach(([marketIndex, baseLots, quoteEntry], i) => {
            slots[i] = { ...slots[i], marketIndex, baseLots, quoteEntry };
        });
        return getMarginAccountEncoder().encode({ ...ma0, clearinghouse: CH, owner, collateralBalance: balance, positions: slots, ...extra });
    };
    const stake0 = zero(getInsuranceStakeDecoder, 176);
    const token = new Uint8Array(165);
    new DataView(token.buffer).setBigUint64(64, 1_500_000_000n, true);
    const clock = new Uint8Array(40);
    new DataView(clock.buffer).setBigUint64(0, SLOT, true);
    new DataView(clock.buffer).setBigInt64(32, NOW, true);
    const store = new Map<string, { owner: Address; data: Uint8Array }>([
        [CH, { owner: PROGRAM, data: Uint8Array.from(ch) }],
        [MARKET0, { owner: PROGRAM, data: Uint8Array.from(market(0, BOOK0, { ...m0.oracle, ...guards, source: ORACLE_SOURCE.manual, feed: FEED0 })) }],
        [MARKET1, { owner: PROGRAM, data: Uint8Array.from(market(1, BOOK1, { ...m0.oracle, ...guards, source: ORACLE_SOURCE.pythPull, feed: PYTH1 })) }],
        [FEED0, { owner: PROGRAM, data: Uint8Array.from(getPriceFeedEncoder().encode({ ...feed0, price: 93_500_000n, conf: 10_000n, emaPrice: 93_000_000n, exponent: -6, publishTime: NOW - 5n, publishSlot: SLOT - 2n })) }],
        [BOOK0, { owner: PROGRAM, data: Uint8Array.from(getOrderBookEncoder().encode({ ...ob0, market: MARKET0, bidCount: 1, askCount: 2, bids, asks })) }],
        [BOOK1, { owner: PROGRAM, data: Uint8Array.from(getOrderBookEncoder().encode({ ...ob0, market: MARKET1 })) }],
        [A1, { owner: PROGRAM, data: Uint8Array.from(margin(OWNERS.a1, 1_090_000_000n, [[0, 100n, -10_000_000_000n]], { liquidatableSinceSlot: SLOT - 50n })) }],
        [A2, { owner: PROGRAM, data: Uint8Array.from(margin(OWNERS.a2, 1_000_000_000n, [[0, -50n, 5_000_000_000n]])) }],
        [A3, { owner: PROGRAM, data: Uint8Array.from(margin(OWNERS.a3, 1_000_000_000n, [[1, 5n, -200_000_000n]])) }],
        // A margin account cut short: it must be counted, not crash the read.
        [BROKEN, { owner: PROGRAM, data: Uint8Array.from(margin(key(33), 1n, [])).slice(0, 100) }],
        [STAKE, { owner: PROGRAM, data: Uint8Array.from(getInsuranceStakeEncoder().encode({ ...stake0, clearinghouse: CH, owner: key(34), shares: 1_000_000_000n, unstakeRequestShares: 500_000_000n, unstakeAvailableUnix: NOW + 100n, unstakeRequestValue: 375_000_000n, unstakeClaimDeadlineUnix: NOW + 1_000n })) }],
        [INSURANCE, { owner: TOKEN, data: token }],
        [CLOCK_SYSVAR, { owner: address('Sysvar1111111111111111111111111111111111111'), data: clock }],
    ]);
    return { store, accounts: { A1, A2, A3, BROKEN } };
}

/** A node's answers, computed from `store`, in the shapes kit returns. */
export function fakeRpc(store: Map<string, { owner: Address; data: Uint8Array }>) {
    const b64 = (d: Uint8Array) => [getBase64Decoder().decode(d), 'base64'] as const;
    const info = (a: { owner: Address; data: Uint8Array }) => ({ owner: a.owner, data: b64(a.data), lamports: 1n, executable: false });
    const answer = <T>(value: T) => ({ send: async () => value });
    return {
        getProgramAccounts: (program: Address, config: { filters: Array<{ memcmp: { offset: bigint; bytes: string } }> }) =>
            answer(
                [...store.entries()]
                    .filter(([, a]) => a.owner === program)
                    .filter(([, a]) =>
                        config.filters.every(({ memcmp }) => {
                            const want = getBase58Encoder().encode(memcmp.bytes);
                            const at = Number(memcmp.offset);
                            return want.every((b, i) => a.data[at + i] === b);
                        }),
                    )
                    .map(([pubkey, a]) => ({ pubkey, account: info(a) })),
            ),
        getMultipleAccounts: (addresses: Address[]) => answer({ value: addresses.map((x) => (store.get(x) ? info(store.get(x)!) : null)) }),
        getAccountInfo: (a: Address) => answer({ value: store.get(a) ? info(store.get(a)!) : null }),
    };
}

