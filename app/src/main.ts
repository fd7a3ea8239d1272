// The dashboard: connect to a node, check it is the right cluster, then keep the panels
// current (a live event feed when the node offers subscriptions, polling always underneath).

import './style.css';

import { type Address, address, createSolanaRpc, lamports, type Rpc as KitRpc, type SolanaRpcApi } from '@solana/kit';

import { IDL_PROGRAM_ADDRESS } from './generated/bulwarkIdl';
import {
    type ClusterInfo,
    clusterLabel,
    type ConnectionSettings,
    deriveWsUrl,
    KNOWN_CLUSTERS,
    settingsFromQuery,
    wrongClusterMessage,
} from './lib/connection';
import { describeError } from './lib/errors';
import { itemsFromLogs, type FeedItem, type FeedMode, startFeed, watchProgramAccounts } from './lib/live';
import { buildView, type DashboardView, fetchRaw } from './lib/snapshot';
import { sendInstructions } from './lib/trading';
import { h, replace } from './ui/dom';
import {
    adlPanel,
    bookPanel,
    collateralPanel,
    feedList,
    insurancePanel,
    marketsPanel,
    riskPanel,
    type RiskSortKey,
} from './ui/panels';
import { TradingPanel } from './ui/tradingPanel';

const PROGRAM = address(IDL_PROGRAM_ADDRESS);
const MAX_FEED_ITEMS = 200;
/** Between full reads; shorter while no subscription tells us when something happened. */
const POLL_MS = { subscribed: 15_000, polling: 4_000 };
/** A read still unanswered after this is abandoned (the next one starts afresh). */
const READ_TIMEOUT_MS = 20_000;

// Every method a node may offer (airdrops included: the node refuses those it does not serve).
type Rpc = KitRpc<SolanaRpcApi>;

const state = {
    settings: settingsFromQuery(location.search, location.href, {
        rpc: localStorage.getItem('bulwark.rpc') ?? undefined,
        ws: localStorage.getItem('bulwark.ws') ?? undefined,
    }) as ConnectionSettings,
    rpc: null as Rpc | null,
    cluster: null as ClusterInfo | null,
    view: null as DashboardView | null,
    sortKey: 'coverage' as RiskSortKey,
    feed: [] as FeedItem[],
    feedMode: 'stopped' as FeedMode,
    lastSwitch: null as FeedItem | null,
    stopFeed: null as (() => void) | null,
    timer: undefined as ReturnType<typeof setTimeout> | undefined,
    generation: 0,
    /** The connection (generation) whose read is in flight, if any. */
    reading: null as number | null,
    readAgain: false,
    /** Every read is numbered; only the latest one renders. */
    readSeq: 0,
};

// ---- layout ------------------------------------------------------------------------------------

const rpcInput = h('input', { type: 'text', size: 36, testid: 'rpc-url', value: state.settings.rpcUrl });
const wsInput = h('input', { type: 'text', size: 36, testid: 'ws-url', value: state.settings.wsExplicit ? state.settings.wsUrl : '', placeholder: `derived: ${state.settings.wsUrl}` });
const clearinghouseSelect = h('select', { testid: 'clearinghouse-select' });
const statusLine = h('p', { class: 'status', testid: 'connection-status' }, 'Not connected.');
const errorBanner = h('div', { class: 'error-banner', testid: 'error-banner', role: 'alert', hidden: true });
const panels = {
    markets: h('div'),
    book: h('div'),
    insurance: h('div'),
    risk: h('div'),
    adl: h('div'),
    collateral: h('div'),
};
const feedModeLine = h('p', { class: 'hint', testid: 'feed-mode' }, 'Feed not started.');
const feedBox = h('div');

const trading = new TradingPanel({
    view: () => state.view,
    cluster: () => state.cluster,
    rpcUrl: () => state.settings.rpcUrl,
    send: async (signer, instructions) => {
        if (!state.rpc) throw new Error('Not connected.');
        const landed = await sendInstructions(state.rpc, signer, instructions);
        // Events of our own transactions, whatever the feed can see of others'.
        addFeedItems(itemsFromLogs(landed.signature, null, false, landed.logs, PROGRAM));
        scheduleRefresh(0);
        return landed;
    },
    fetchAccount: async (a: Address) => {
        if (!state.rpc) return null;
        const { value } = await state.rpc.getAccountInfo(a, { encoding: 'base64' }).send();
        if (!value) return null;
        return { lamports: value.lamports, data: Uint8Array.from(atob(value.data[0]), (c) => c.charCodeAt(0)) };
    },
    airdrop: async (a, amount) => {
        if (!state.rpc) throw new Error('Not connected.');
        await state.rpc.requestAirdrop(a, lamports(amount)).send();
    },
    onError: (message) => showError(message),
});

document.querySelector<HTMLDivElement>('#app')!.replaceChildren(
    h(
        'header',
        {},
        h('h1', {}, 'Bulwark'),
        h(
            'form',
            {
                class: 'connection',
                testid: 'connection-form',
                onsubmit: (e: Event) => {
                    e.preventDefault();
                    applyConnectionForm();
                },
            },
            h('label', {}, 'RPC ', rpcInput),
            h('label', {}, 'WebSocket ', wsInput),
            h('label', {}, 'clearinghouse ', clearinghouseSelect),
            h('button', { type: 'submit', testid: 'connect-button' }, 'Connect'),
        ),
        statusLine,
    ),
    errorBanner,
    h(
        'main',
        {},
        panels.markets,
        panels.collateral,
        panels.book,
        panels.risk,
        panels.insurance,
        panels.adl,
        h('section', { testid: 'feed-panel' }, h('h2', {}, 'Events'), feedModeLine, feedBox),
        trading.element,
    ),
);

clearinghouseSelect.addEventListener('change', () => {
    state.settings.clearinghouse = (clearinghouseSelect.value || null) as Address | null;
    updateQuery();
    scheduleRefresh(0);
});

function applyConnectionForm(): void {
    const rpc = rpcInput.value.trim();
    const ws = wsInput.value.trim();
    state.settings = settingsFromQuery(`?${new URLSearchParams({ rpc, ...(ws ? { ws } : {}) })}`, location.href);
    state.settings.clearinghouse = null;
    localStorage.setItem('bulwark.rpc', rpc);
    if (ws) localStorage.setItem('bulwark.ws', ws);
    else localStorage.removeItem('bulwark.ws');
    wsInput.placeholder = `derived: ${deriveWsUrl(state.settings.rpcUrl)}`;
    updateQuery();
    void connect();
}

function updateQuery(): void {
    const params = new URLSearchParams(location.search);
    params.set('rpc', rpcInput.value.trim() || state.settings.rpcUrl);
    if (wsInput.value.trim()) params.set('ws', wsInput.value.trim());
    else params.delete('ws');
    if (state.settings.clearinghouse) params.set('clearinghouse', state.settings.clearinghouse);
    else params.delete('clearinghouse');
    history.replaceState(null, '', `?${params}`);
}

// ---- errors and status ---------------------------------------------------------------------------

function showError(message: string | null): void {
    errorBanner.hidden = message === null;
    replace(errorBanner, message ?? '');
}

function renderStatus(): void {
    const c = state.cluster;
    const v = state.view;
    replace(
        statusLine,
        c ? `${clusterLabel(c)} · program ${PROGRAM}` : 'Not connected.',
        v ? ` · slot ${v.slot} · read ${new Date().toLocaleTimeString()}` : '',
        v && v.undecodable ? h('span', { class: 'warn' }, ` · ${v.undecodable} account(s) do not decode with this IDL`) : '',
    );
}

// ---- connecting and refreshing -------------------------------------------------------------------

async function connect(): Promise<void> {
    const generation = ++state.generation;
    state.stopFeed?.();
    state.stopFeed = null;
    clearTimeout(state.timer);
    state.view = null;
    state.cluster = null;
    const rpc = createSolanaRpc(state.settings.rpcUrl) as Rpc;
    state.rpc = rpc;
    replace(statusLine, `Connecting to ${state.settings.rpcUrl}…`);
    try {
        const [genesisHash, program] = await Promise.all([
            rpc.getGenesisHash().send(),
            rpc.getAccountInfo(PROGRAM, { encoding: 'base64', dataSlice: { offset: 0, length: 0 } }).send(),
        ]);
        if (generation !== state.generation) return;
        state.cluster = {
            genesisHash,
            publicCluster: KNOWN_CLUSTERS[genesisHash] ?? null,
            programFound: program.value !== null,
            programExecutable: program.value?.executable ?? false,
        };
    } catch (e) {
        if (generation !== state.generation) return;
        showError(describeError(e, { rpcUrl: state.settings.rpcUrl, programAddress: PROGRAM }).message);
        renderStatus();
        // Try again: a node that is starting up answers a little later.
        state.timer = setTimeout(() => void connect(), POLL_MS.polling * 2);
        return;
    }
    renderStatus();
    trading.renderWallets();
    const wrong = wrongClusterMessage(state.cluster, PROGRAM);
    if (wrong) {
        showError(wrong);
        return;
    }
    showError(null);
    const stopFeed = startFeed(rpc, state.settings.wsUrl, PROGRAM, {
        items: (items) => {
            addFeedItems(items);
            if (items.length) scheduleRefresh(300);
        },
        mode: (mode, detail) => {
            state.feedMode = mode;
            replace(feedModeLine, `Feed: ${mode} — ${detail}`);
        },
    });
    // Accounts re-read as soon as one changes (a price publish emits no event); the timer stays.
    const stopWatch = watchProgramAccounts(
        state.settings.wsUrl,
        PROGRAM,
        () => scheduleRefresh(0),
        (reason) => console.info(`accounts re-read on a timer: ${reason}`),
    );
    state.stopFeed = () => {
        stopFeed();
        stopWatch();
    };
    await refresh(generation);
}

function scheduleRefresh(delayMs: number): void {
    clearTimeout(state.timer);
    const generation = state.generation;
    state.timer = setTimeout(() => void refresh(generation), delayMs);
}

async function refresh(generation: number): Promise<void> {
    if (!state.rpc || generation !== state.generation) return;
    // One read at a time per connection: a change heard during a read is picked up by one more
    // read after it. A read of an earlier connection does not hold this one up.
    if (state.reading === generation) {
        state.readAgain = true;
        return;
    }
    state.reading = generation;
    state.readAgain = false;
    const seq = ++state.readSeq;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
        // A node that stops answering must not hold the guard forever: give up on the read (it
        // is then never rendered: only the latest read may draw).
        await Promise.race([
            readAndRender(state.rpc, generation, seq),
            new Promise<void>((resolve) => {
                timer = setTimeout(() => {
                    if (state.readSeq === seq) showError(`The node at ${state.settings.rpcUrl} did not answer within ${READ_TIMEOUT_MS / 1000} s.`);
                    resolve();
                }, READ_TIMEOUT_MS);
            }),
        ]);
    } finally {
        clearTimeout(timer);
        if (state.reading === generation) state.reading = null;
    }
    if (generation !== state.generation) return;
    renderStatus();
    const again = state.readAgain;
    state.readAgain = false;
    scheduleRefresh(again ? 0 : state.feedMode === 'subscription' ? POLL_MS.subscribed : POLL_MS.polling);
}

async function readAndRender(rpc: Rpc, generation: number, seq: number): Promise<void> {
    // A read overtaken by a later one (or by another connection) draws nothing.
    const stale = () => generation !== state.generation || seq !== state.readSeq;
    try {
        const raw = await fetchRaw(rpc, PROGRAM, state.settings.clearinghouse);
        if (stale()) return;
        state.view = buildView(raw);
        render();
        showError(
            state.view.clearinghouses.length === 0
                ? `The program at ${PROGRAM} has no clearinghouse on this node yet (run the migrations, or pass ?clearinghouse=ADDRESS).`
                : state.view.clearinghouse === null
                  ? `No clearinghouse at ${state.settings.clearinghouse}.`
                  : null,
        );
    } catch (e) {
        if (stale()) return;
        showError(
            `${describeError(e, { rpcUrl: state.settings.rpcUrl, programAddress: PROGRAM }).message}${state.view ? ' The panels show the last successful read.' : ''}`,
        );
    }
}

function addFeedItems(items: FeedItem[]): void {
    if (items.length === 0) return;
    const seen = new Set(state.feed.map((i) => `${i.signature}:${i.event.name}:${JSON.stringify(i.event, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}`));
    const fresh = items.filter((i) => !seen.has(`${i.signature}:${i.event.name}:${JSON.stringify(i.event, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}`));
    for (const item of fresh) if (item.event.name === 'CollateralModeChangedV1') state.lastSwitch = item;
    state.feed = [...fresh.reverse(), ...state.feed].slice(0, MAX_FEED_ITEMS);
    replace(feedBox, feedList(state.feed));
    if (state.view) replace(panels.collateral, collateralPanel(state.view, state.lastSwitch));
}

function render(): void {
    const v = state.view;
    if (!v) return;
    const current = clearinghouseSelect.value;
    replace(
        clearinghouseSelect,
        ...v.clearinghouses.map((c) =>
            h('option', { value: c.address }, `${c.address.slice(0, 8)}… id ${c.data?.id ?? '?'}${c.data ? `, ${c.data.marketCount} markets` : ''}`),
        ),
    );
    clearinghouseSelect.value = v.clearinghouseAddress ?? current;
    replace(panels.markets, marketsPanel(v));
    replace(panels.collateral, collateralPanel(v, state.lastSwitch));
    replace(panels.book, bookPanel(v));
    replace(panels.risk, riskPanel(v, state.sortKey, (key) => {
        state.sortKey = key;
        render();
    }));
    replace(panels.insurance, insurancePanel(v));
    replace(panels.adl, adlPanel(v));
    replace(feedBox, feedList(state.feed));
    trading.update(v);
}

void connect();
