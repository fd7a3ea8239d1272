// One read of a clearinghouse, and everything the panels show derived from it. Fetching
// (`fetchRaw`) and deriving (`buildView`) are apart so the derivation runs on bytes made by
// the generated encoders in tests exactly as on bytes from a node.

import {
    type Address,
    type Base58EncodedBytes,
    getBase58Decoder,
    getBase64Encoder,
    type GetAccountInfoApi,
    type GetMultipleAccountsApi,
    type GetProgramAccountsApi,
    type Rpc,
} from '@solana/kit';

import {
    getClearinghouseDecoder,
    getInsuranceStakeDecoder,
    getMarginAccountDecoder,
    getMarketDecoder,
    getOrderBookDecoder,
    getPriceFeedDecoder,
    type Clearinghouse,
    type MarginAccount,
    type Market,
    type OrderBook,
    type PriceFeed,
} from '../generated/accounts';
import type { PodI128 } from '../generated/types';
import { IDL_ACCOUNTS } from '../generated/bulwarkIdl';
import type { AdlQueues } from './adl';
import { depth, type Depth } from './book';
import {
    ACCOUNT_FLAG_BANKRUPT,
    ACCOUNT_FLAG_BEING_LIQUIDATED,
    BROKEN_REASONS,
    COLLATERAL_MODE,
    COLLATERAL_MODE_NAMES,
    COLLATERAL_PRICE_SOURCE_NAMES,
    MARKET_STATUS_NAMES,
    ORACLE_SOURCE,
    ORACLE_SOURCE_NAMES,
    REDEMPTION_MODE_NAMES,
} from './constants';
import {
    adlLight,
    adlScoreOf,
    buildAdlQueues,
    health as accountHealthAt,
    MissingMarketPriceError,
    openPositions,
    positionRisks,
    type AccountInput,
    type MarketPrice,
    type PositionRisk,
} from './health';
import { redeemAmount, stakeView, type StakeView } from './insurance';
import { isLiquidatable, maintenanceCoverage, type Health } from './margin';
import { markSample } from './mark';
import { assess, inCollateral, observationOfFeed, type OracleValidity } from './oracle';
import { addressBytes } from './pda';
import { fundingPerLot, type PerpSpec } from './perp';

export const CLOCK_SYSVAR = 'SysvarC1ock11111111111111111111111111111111' as Address;

export type RawAccount = { address: Address; owner: Address; data: Uint8Array };

export type RawSnapshot = {
    programAddress: Address;
    slot: bigint;
    unixTimestamp: bigint;
    /** Every clearinghouse of the program, and the one shown. */
    clearinghouses: RawAccount[];
    selected: Address | null;
    markets: RawAccount[];
    /** Order books and oracle feeds by address (`null`: no such account). */
    others: Map<string, RawAccount | null>;
    marginAccounts: RawAccount[];
    stakes: RawAccount[];
    /** Accounts of the IDL's `AdlRound` type; `null` when the IDL has no such account. */
    adlRounds: RawAccount[] | null;
};

// ---- fetching ------------------------------------------------------------------------------

type SnapshotRpc = Rpc<GetProgramAccountsApi & GetMultipleAccountsApi & GetAccountInfoApi>;

const base58 = getBase58Decoder();
const base64 = getBase64Encoder();

const discriminatorOf = (name: string): Uint8Array | null =>
    IDL_ACCOUNTS.find((a) => a.name === name)?.discriminator ?? null;

const memcmp = (offset: number, bytes: Uint8Array) => ({
    memcmp: { offset: BigInt(offset), bytes: base58.decode(bytes) as Base58EncodedBytes, encoding: 'base58' as const },
});

async function programAccounts(
    rpc: SnapshotRpc,
    program: Address,
    accountName: string,
    clearinghouse: Address | null,
): Promise<RawAccount[]> {
    const discriminator = discriminatorOf(accountName);
    if (!discriminator) return [];
    const filters = [memcmp(0, discriminator)];
    // Every Bulwark account that belongs to a clearinghouse stores it first, right after the
    // discriminator (MARGIN_ACCOUNT_CLEARINGHOUSE_OFFSET), so one memcmp scopes the query.
    if (clearinghouse) filters.push(memcmp(8, Uint8Array.from(addressBytes(clearinghouse))));
    const result = await rpc.getProgramAccounts(program, { encoding: 'base64', filters }).send();
    return result.map(({ pubkey, account }) => ({
        address: pubkey,
        owner: account.owner,
        data: Uint8Array.from(base64.encode(account.data[0])),
    }));
}

async function multipleAccounts(rpc: SnapshotRpc, addresses: Address[]): Promise<Map<string, RawAccount | null>> {
    const out = new Map<string, RawAccount | null>();
    const unique = [...new Set(addresses)];
    for (let i = 0; i < unique.length; i += 100) {
        const chunk = unique.slice(i, i + 100);
        const { value } = await rpc.getMultipleAccounts(chunk, { encoding: 'base64' }).send();
        value.forEach((account, j) =>
            out.set(
                chunk[j],
                account ? { address: chunk[j], owner: account.owner, data: Uint8Array.from(base64.encode(account.data[0])) } : null,
            ),
        );
    }
    return out;
}

/** The cluster clock (slot and unix time) from the Clock sysvar. */
export function decodeClock(data: Uint8Array): { slot: bigint; unixTimestamp: bigint } {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    return { slot: view.getBigUint64(0, true), unixTimestamp: view.getBigInt64(32, true) };
}

/** An SPL token account's amount (offset 64), or `null` when the data is not one. */
export function tokenAmount(data: Uint8Array): bigint | null {
    if (data.length < 72) return null;
    return new DataView(data.buffer, data.byteOffset, data.byteLength).getBigUint64(64, true);
}

const DEFAULT_ADDRESS = '11111111111111111111111111111111';

/** Read everything the panels need with a handful of requests. */
export async function fetchRaw(rpc: SnapshotRpc, program: Address, wanted: Address | null): Promise<RawSnapshot> {
    const clearinghouses = await programAccounts(rpc, program, 'Clearinghouse', null);
    const selected = wanted ?? clearinghouses[0]?.address ?? null;
    const clockAccount = await rpc.getAccountInfo(CLOCK_SYSVAR, { encoding: 'base64' }).send();
    const clock = clockAccount.value
        ? decodeClock(Uint8Array.from(base64.encode(clockAccount.value.data[0])))
        : { slot: 0n, unixTimestamp: BigInt(Math.floor(Date.now() / 1000)) };
    const empty: RawSnapshot = {
        programAddress: program,
        ...clock,
        clearinghouses,
        selected,
        markets: [],
        others: new Map(),
        marginAccounts: [],
        stakes: [],
        adlRounds: discriminatorOf('AdlRound') ? [] : null,
    };
    if (!selected) return empty;
    const [markets, marginAccounts, stakes, adlRounds] = await Promise.all([
        programAccounts(rpc, program, 'Market', selected),
        programAccounts(rpc, program, 'MarginAccount', selected),
        programAccounts(rpc, program, 'InsuranceStake', selected),
        discriminatorOf('AdlRound') ? programAccounts(rpc, program, 'AdlRound', null) : Promise.resolve(null),
    ]);
    let chAccount = clearinghouses.find((c) => c.address === selected);
    const others: Address[] = [];
    if (!chAccount) {
        // Not listed by getProgramAccounts (a node that does not index it): fetch it directly.
        const fetched = await multipleAccounts(rpc, [selected]);
        chAccount = fetched.get(selected) ?? undefined;
        if (chAccount) clearinghouses.push(chAccount);
    }
    const ch = chAccount ? tryDecode(getClearinghouseDecoder, chAccount.data) : null;
    if (ch) {
        const co = ch.collateralOracle;
        others.push(co.market.feed, co.redemptionRateFeed, co.redemptionHealthFeed, ch.insuranceVault, ch.collateralVault);
    }
    for (const m of markets) {
        const market = tryDecode(getMarketDecoder, m.data);
        if (market) others.push(market.orderBook, market.oracle.feed);
    }
    const othersMap = await multipleAccounts(
        rpc,
        others.filter((a) => a !== DEFAULT_ADDRESS),
    );
    return { ...empty, markets, marginAccounts, stakes, adlRounds, others: othersMap };
}

// ---- deriving ------------------------------------------------------------------------------

function tryDecode<T>(getDecoder: () => { decode: (bytes: Uint8Array) => T }, data: Uint8Array): T | null {
    try {
        return getDecoder().decode(data);
    } catch {
        return null;
    }
}

/** A 128-bit value stored as two u64 halves (`PodI128::get`). */
export const podI128 = (v: PodI128): bigint => BigInt.asIntN(128, (v.hi << 64n) | v.lo);

export function perpSpecOf(market: Market): PerpSpec {
    return {
        tickSize: market.params.tickSize,
        quotePerLotTick: market.quotePerLotTick,
        initialMarginBps: BigInt(market.params.initialMarginBps),
        maintenanceMarginBps: BigInt(market.params.maintenanceMarginBps),
        sizePremiumBps: BigInt(market.params.sizePremiumBps),
        sizePremiumUnitLots: market.params.sizePremiumUnitLots,
    };
}

export function accountInputOf(account: MarginAccount): AccountInput {
    return {
        collateralBalance: account.collateralBalance,
        positions: account.positions.map((p) => ({
            marketIndex: p.marketIndex,
            baseLots: p.baseLots,
            quoteEntry: p.quoteEntry,
            openBidLots: p.openBidLots,
            openAskLots: p.openAskLots,
            openOrderCount: p.openOrderCount,
            lastCumulativeFunding: podI128(p.lastCumulativeFunding),
        })),
    };
}

const isProgramPriceFeed = (raw: RawAccount | null | undefined, program: Address): PriceFeed | null =>
    raw && raw.owner === program ? tryDecode(getPriceFeedDecoder, raw.data) : null;

export type FeedReading = {
    address: Address;
    /** USD price, `PRICE_PRECISION`. */
    price: bigint;
    validity: OracleValidity;
    publishTime: bigint;
    ageSeconds: bigint;
    feed: PriceFeed;
};

export type CollateralView = {
    mode: string;
    fixed: boolean;
    redemptionAware: boolean;
    redemptionMode: string;
    brokenReasons: string[];
    /** The USD price the last `refresh_collateral_price` recorded (or the fixed price). */
    priceInForce: bigint;
    priceSource: string;
    lastUpdateSlot: bigint;
    lastGoodUnix: bigint;
    belowHardBandSeconds: bigint;
    hardBandGraceSeconds: bigint;
    softBandBps: number;
    hardBandBps: number;
    /** The collateral's market print (`m`), when its feed is a Bulwark feed. */
    marketPrint: FeedReading | null;
    marketSource: string;
    /** The attested redemption rate (`r`). */
    attestedRate: FeedReading | null;
    /** Redemption open or suspended, and the attested reserve ratio. */
    redemptionEnabled: boolean | null;
    reserveRatio: bigint | null;
};

export type OracleView = {
    source: string;
    feed: Address | null;
    /** USD price (`null`: not decodable here). */
    usdPrice: bigint | null;
    validity: OracleValidity | 'fixed' | 'not decoded here' | 'feed missing';
    publishTime: bigint | null;
    /** Oracle price in collateral, from the USD price and the collateral price in force. */
    price: bigint | null;
    /** Usable for health: valid, and the collateral price known. */
    usable: boolean;
};

export type MarketView = {
    address: Address;
    market: Market;
    status: string;
    spec: PerpSpec;
    oracle: OracleView;
    /** The program's last sampled oracle price and mark, in collateral. */
    lastOracleSample: bigint;
    lastMarkSample: bigint;
    /** The mark the program would sample now (needs the oracle price). */
    mark: bigint | null;
    book: OrderBook | null;
    depth: Depth | null;
    /** What one lot would pay per period if funding were charged at the current TWAPs. */
    fundingPerLot: bigint;
    fundingRateBps: { numerator: bigint; denominator: bigint } | null;
};

export type PositionView = {
    marketIndex: number;
    baseLots: bigint;
    quoteEntry: bigint;
    openBidLots: bigint;
    openAskLots: bigint;
    risk: PositionRisk | null;
    adlScore: bigint | null;
    adlLight: number;
};

export type AccountView = {
    address: Address;
    account: MarginAccount;
    input: AccountInput;
    health: Health | null;
    /** Markets held whose price is not usable: no health without them. */
    unpricedMarkets: number[];
    liquidatable: boolean | null;
    beingLiquidated: boolean;
    bankrupt: boolean;
    coverage: number | null;
    positions: PositionView[];
    /** First slot at which ADL may act, when the account has been seen liquidatable. */
    adlEligibleSlot: bigint | null;
};

export type InsuranceView = {
    vault: Address;
    vaultTokens: bigint | null;
    balance: bigint;
    totalShares: bigint;
    paidTotal: bigint;
    epoch: bigint;
    cooldownSeconds: bigint;
    /** What one million shares redeem for now. */
    valuePerMillionShares: bigint;
    stakes: Array<{ address: Address; owner: Address; view: StakeView }>;
};

export type AdlRoundView = { address: Address; fields: Record<string, unknown> | null };

export type DashboardView = {
    programAddress: Address;
    slot: bigint;
    unixTimestamp: bigint;
    clearinghouses: Array<{ address: Address; data: Clearinghouse | null }>;
    clearinghouseAddress: Address | null;
    clearinghouse: Clearinghouse | null;
    collateral: CollateralView | null;
    markets: MarketView[];
    prices: MarketPrice[];
    accounts: AccountView[];
    adlQueues: AdlQueues | null;
    insurance: InsuranceView | null;
    /** `null`: the IDL has no AdlRound account. */
    adlRounds: AdlRoundView[] | null;
    /** Accounts of the program's types that did not decode (layout not matching the IDL). */
    undecodable: number;
};

function readFeed(address: Address, raw: RawSnapshot, guards: OracleGuardsLike | null): FeedReading | null {
    const feed = isProgramPriceFeed(raw.others.get(address), raw.programAddress);
    if (!feed) return null;
    const obs = observationOfFeed(feed);
    const validity = guards ? assess(obs, guards, raw.unixTimestamp, raw.slot) : obs.price > 0n ? 'valid' : 'non-positive';
    return {
        address,
        price: obs.price,
        validity,
        publishTime: feed.publishTime,
        ageSeconds: raw.unixTimestamp - feed.publishTime,
        feed,
    };
}

type OracleGuardsLike = Parameters<typeof assess>[1];

const guardsOf = (o: Market['oracle']): OracleGuardsLike => ({
    maxStalenessSlots: o.maxStalenessSlots,
    maxStalenessSeconds: o.maxStalenessSeconds,
    maxConfidenceBps: BigInt(o.maxConfidenceBps),
    maxTwapDivergenceBps: BigInt(o.maxTwapDivergenceBps),
});

function collateralView(ch: Clearinghouse, raw: RawSnapshot): CollateralView {
    const co = ch.collateralOracle;
    const state = ch.collateralOracleState;
    const fixed = co.mode === COLLATERAL_MODE.market && co.market.source === ORACLE_SOURCE.fixed;
    const redemptionAware = co.mode === COLLATERAL_MODE.redemptionAware;
    const marketPrint = co.market.source === ORACLE_SOURCE.manual ? readFeed(co.market.feed, raw, guardsOf(co.market)) : null;
    const attestedRate = redemptionAware ? readFeed(co.redemptionRateFeed, raw, null) : null;
    const healthFeed = redemptionAware ? isProgramPriceFeed(raw.others.get(co.redemptionHealthFeed), raw.programAddress) : null;
    return {
        mode: COLLATERAL_MODE_NAMES[co.mode] ?? `mode ${co.mode}`,
        fixed,
        redemptionAware,
        redemptionMode: redemptionAware ? (REDEMPTION_MODE_NAMES[state.redemptionMode] ?? `mode ${state.redemptionMode}`) : 'not used',
        brokenReasons: BROKEN_REASONS.filter(([bit]) => state.brokenReasons & bit).map(([, name]) => name),
        priceInForce: fixed ? co.market.fixedPrice : state.lastPrice,
        priceSource: fixed ? 'fixed price' : (COLLATERAL_PRICE_SOURCE_NAMES[state.priceSource] ?? `source ${state.priceSource}`),
        lastUpdateSlot: state.lastUpdateSlot,
        lastGoodUnix: state.lastGoodUnix,
        belowHardBandSeconds: state.belowHardBandSeconds,
        hardBandGraceSeconds: co.hardBandGraceSeconds,
        softBandBps: co.softBandBps,
        hardBandBps: co.hardBandBps,
        marketPrint,
        marketSource: ORACLE_SOURCE_NAMES[co.market.source] ?? `source ${co.market.source}`,
        attestedRate,
        redemptionEnabled: healthFeed ? healthFeed.redemptionEnabled !== 0 : null,
        reserveRatio: healthFeed ? healthFeed.reserveRatio : null,
    };
}

function oracleView(market: Market, raw: RawSnapshot, collateralUsd: bigint | null): OracleView {
    const o = market.oracle;
    const source = ORACLE_SOURCE_NAMES[o.source] ?? `source ${o.source}`;
    const toCollateral = (usd: bigint | null) => (usd !== null && collateralUsd && collateralUsd > 0n ? inCollateral(usd, collateralUsd) : null);
    if (o.source === ORACLE_SOURCE.fixed) {
        const price = toCollateral(o.fixedPrice);
        return { source, feed: null, usdPrice: o.fixedPrice, validity: 'fixed', publishTime: null, price, usable: price !== null };
    }
    if (o.source !== ORACLE_SOURCE.manual) {
        return { source, feed: o.feed, usdPrice: null, validity: 'not decoded here', publishTime: null, price: null, usable: false };
    }
    const reading = readFeed(o.feed, raw, guardsOf(o));
    if (!reading) {
        return { source, feed: o.feed, usdPrice: null, validity: 'feed missing', publishTime: null, price: null, usable: false };
    }
    const price = reading.validity === 'non-positive' ? null : toCollateral(reading.price);
    return {
        source,
        feed: o.feed,
        usdPrice: reading.price,
        validity: reading.validity,
        publishTime: reading.publishTime,
        price,
        usable: reading.validity === 'valid' && price !== null,
    };
}

function marketView(raw: RawAccount, market: Market, snapshot: RawSnapshot, ch: Clearinghouse, collateralUsd: bigint | null): MarketView {
    const oracle = oracleView(market, snapshot, collateralUsd);
    const bookRaw = snapshot.others.get(market.orderBook);
    const book = bookRaw && bookRaw.owner === snapshot.programAddress ? tryDecode(getOrderBookDecoder, bookRaw.data) : null;
    const spec = perpSpecOf(market);
    const fill = BigInt(ch.waterfall.maxFillDeviationBps);
    const perLot = fundingPerLot(market.markTwap, market.oracleTwap, BigInt(market.params.maxFundingRateBps), spec);
    // The rate as a share of the oracle TWAP: the clamped premium over the TWAP.
    const bound = (market.oracleTwap * BigInt(market.params.maxFundingRateBps)) / 10_000n;
    const premium = market.markTwap - market.oracleTwap;
    const clamped = premium < -bound ? -bound : premium > bound ? bound : premium;
    return {
        address: raw.address,
        market,
        status: MARKET_STATUS_NAMES[market.status] ?? `status ${market.status}`,
        spec,
        oracle,
        lastOracleSample: market.lastOracleSample,
        lastMarkSample: market.lastMarkSample,
        mark: book && oracle.price !== null ? markSample(book, market.params.tickSize, oracle.price, fill) : null,
        book,
        depth: book ? depth(book, snapshot.unixTimestamp) : null,
        fundingPerLot: perLot,
        fundingRateBps:
            market.oracleTwap > 0n && market.markTwap > 0n ? { numerator: clamped, denominator: market.oracleTwap } : null,
    };
}

function accountView(
    raw: RawAccount,
    account: MarginAccount,
    prices: readonly MarketPrice[],
    queues: AdlQueues,
    ch: Clearinghouse,
): AccountView {
    const input = accountInputOf(account);
    const held = openPositions(input);
    const unpricedMarkets = held.map((p) => p.marketIndex).filter((i) => !prices.some((m) => m.index === i));
    let h: Health | null = null;
    let risks: PositionRisk[] = [];
    if (unpricedMarkets.length === 0) {
        try {
            h = accountHealthAt(input, prices);
            risks = positionRisks(input, prices);
        } catch (e) {
            if (!(e instanceof MissingMarketPriceError)) throw e;
        }
    }
    const beingLiquidated = (account.statusFlags & ACCOUNT_FLAG_BEING_LIQUIDATED) !== 0;
    return {
        address: raw.address,
        account,
        input,
        health: h,
        unpricedMarkets,
        liquidatable: h ? isLiquidatable(h, beingLiquidated, BigInt(ch.waterfall.liquidationBufferBps)) : null,
        beingLiquidated,
        bankrupt: (account.statusFlags & ACCOUNT_FLAG_BANKRUPT) !== 0,
        coverage: h ? maintenanceCoverage(h) : null,
        positions: held.map((p) => ({
            marketIndex: p.marketIndex,
            baseLots: p.baseLots,
            quoteEntry: p.quoteEntry,
            openBidLots: p.openBidLots,
            openAskLots: p.openAskLots,
            risk: risks.find((r) => r.marketIndex === p.marketIndex) ?? null,
            adlScore: p.baseLots !== 0n ? adlScoreOf(input, p.marketIndex, prices) : null,
            adlLight: p.baseLots !== 0n ? adlLight(input, p.marketIndex, p.baseLots > 0n, prices, queues) : 0,
        })),
        adlEligibleSlot: account.liquidatableSinceSlot !== 0n ? account.liquidatableSinceSlot + ch.waterfall.adlGraceSlots : null,
    };
}

/** Everything the panels show, from one raw read. */
export function buildView(raw: RawSnapshot): DashboardView {
    let undecodable = 0;
    const decodeOr = <T>(getDecoder: () => { decode: (b: Uint8Array) => T }, a: RawAccount): T | null => {
        const v = tryDecode(getDecoder, a.data);
        if (v === null) undecodable += 1;
        return v;
    };
    const clearinghouses = raw.clearinghouses.map((c) => ({ address: c.address, data: decodeOr(getClearinghouseDecoder, c) }));
    const selected = clearinghouses.find((c) => c.address === raw.selected) ?? null;
    const ch = selected?.data ?? null;
    const base: DashboardView = {
        programAddress: raw.programAddress,
        slot: raw.slot,
        unixTimestamp: raw.unixTimestamp,
        clearinghouses,
        clearinghouseAddress: raw.selected,
        clearinghouse: ch,
        collateral: null,
        markets: [],
        prices: [],
        accounts: [],
        adlQueues: null,
        insurance: null,
        adlRounds: null,
        undecodable,
    };
    if (!ch || !raw.selected) return base;
    const collateral = collateralView(ch, raw);
    const collateralUsd = collateral.priceInForce > 0n ? collateral.priceInForce : null;
    const markets = raw.markets
        .map((m) => ({ m, market: decodeOr(getMarketDecoder, m) }))
        .filter((x): x is { m: RawAccount; market: Market } => x.market !== null)
        .map(({ m, market }) => marketView(m, market, raw, ch, collateralUsd))
        .sort((a, b) => a.market.index - b.market.index);
    const prices: MarketPrice[] = markets
        .filter((m) => m.oracle.usable && m.oracle.price !== null)
        .map((m) => ({
            index: m.market.index,
            spec: m.spec,
            cumulativeFundingPerLot: podI128(m.market.cumulativeFundingPerLot),
            price: m.oracle.price as bigint,
        }));
    const decodedAccounts = raw.marginAccounts
        .map((a) => ({ raw: a, account: decodeOr(getMarginAccountDecoder, a) }))
        .filter((x): x is { raw: RawAccount; account: MarginAccount } => x.account !== null);
    const queues = buildAdlQueues(
        decodedAccounts.map(({ raw: a, account }) => ({ address: a.address, account: accountInputOf(account) })),
        prices,
        addressBytes,
    );
    const accounts = decodedAccounts.map(({ raw: a, account }) => accountView(a, account, prices, queues, ch));
    const stakes = raw.stakes
        .map((s) => ({ raw: s, stake: decodeOr(getInsuranceStakeDecoder, s) }))
        .filter((x) => x.stake !== null)
        .map(({ raw: s, stake }) => ({
            address: s.address,
            owner: stake!.owner,
            view: stakeView(stake!, ch, raw.unixTimestamp),
        }));
    const vaultRaw = raw.others.get(ch.insuranceVault);
    const insurance: InsuranceView = {
        vault: ch.insuranceVault,
        vaultTokens: vaultRaw ? tokenAmount(vaultRaw.data) : null,
        balance: ch.insuranceBalance,
        totalShares: ch.insuranceTotalShares,
        paidTotal: ch.insurancePaidTotal,
        epoch: ch.insuranceShareEpoch,
        cooldownSeconds: ch.waterfall.insuranceUnstakeCooldownSeconds,
        valuePerMillionShares: redeemAmount(1_000_000n, ch.insuranceBalance, ch.insuranceTotalShares),
        stakes,
    };
    const adlEntry = IDL_ACCOUNTS.find((a) => a.name === 'AdlRound');
    // The round's layout is whatever the IDL says; rounds naming another clearinghouse are left out.
    const adlRounds =
        raw.adlRounds && adlEntry
            ? raw.adlRounds
                  .map((r) => {
                      const fields = tryDecode(adlEntry.getDecoder, r.data) as Record<string, unknown> | null;
                      if (fields === null) undecodable += 1;
                      return { address: r.address, fields };
                  })
                  .filter((r) => !r.fields || !('clearinghouse' in r.fields) || r.fields.clearinghouse === raw.selected)
            : null;
    return {
        ...base,
        collateral,
        markets,
        prices,
        accounts,
        adlQueues: queues,
        insurance,
        adlRounds,
        undecodable,
    };
}

