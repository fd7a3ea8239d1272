// The read-only panels, each a function of one DashboardView. Amounts are shown exactly
// (integer atoms formatted as decimals), never through floating point.

import type { AccountView, DashboardView, MarketView } from '../lib/snapshot';
import type { FeedItem } from '../lib/live';
import { summarizeAdlRound } from '../lib/adlRound';
import { REDEMPTION_MODE_NAMES } from '../lib/constants';
import { formatBpsRatio, formatDecimal, formatDuration, formatPrice, groupThousands } from '../lib/units';
import { addressCell, h, table } from './dom';

const PRICE = (p: bigint | null | undefined) => (p === null || p === undefined ? '—' : groupThousands(formatPrice(p)));
const amount = (v: bigint | null | undefined, decimals: number) =>
    v === null || v === undefined ? '—' : groupThousands(formatDecimal(v, decimals));
const lots = (v: bigint) => groupThousands(v.toString());

export function collateralDecimals(view: DashboardView): number {
    return view.clearinghouse?.collateralDecimals ?? 6;
}

// ---- markets ---------------------------------------------------------------------------------

function fundingCell(m: MarketView): HTMLElement {
    const period = formatDuration(m.market.params.fundingPeriodSeconds);
    if (!m.fundingRateBps) return h('span', { testid: 'funding-rate' }, `no TWAP yet (period ${period})`);
    const rate = formatBpsRatio(m.fundingRateBps.numerator, m.fundingRateBps.denominator);
    const samples = m.market.fundingSamples;
    return h(
        'span',
        {
            testid: 'funding-rate',
            title:
                `Mark TWAP over oracle TWAP, clamped to ${m.market.params.maxFundingRateBps} bps, as the next charge would ` +
                `be at the current TWAPs; positive: longs pay. ${samples} sample(s) this period (a period sampled fewer than 4 times charges none).`,
        },
        `${rate.startsWith('-') ? '' : '+'}${rate} / ${period}`,
        h('small', {}, ` (${m.fundingPerLot} atoms/lot)`),
    );
}

function oracleCell(m: MarketView): HTMLElement {
    const o = m.oracle;
    if (o.validity === 'not decoded here') {
        return h(
            'span',
            { testid: 'oracle-price', class: 'warn', title: `${o.source} accounts are not decoded by this page` },
            `last sampled ${PRICE(m.lastOracleSample)}`,
            h('small', {}, ` (${o.source}, not read here)`),
        );
    }
    const note = o.validity === 'valid' || o.validity === 'fixed' ? null : h('small', {}, ` (${o.validity})`);
    return h(
        'span',
        { testid: 'oracle-price', class: o.usable ? '' : 'warn', title: o.usdPrice !== null ? `USD ${PRICE(o.usdPrice)} from ${o.source}` : o.source },
        PRICE(o.price),
        note,
    );
}

export function marketsPanel(view: DashboardView): HTMLElement {
    const rows = view.markets.map((m) =>
        h(
            'tr',
            { testid: 'market-row', 'data-market-index': m.market.index },
            h('td', {}, `#${m.market.index} `, addressCell(m.address)),
            h('td', { testid: 'market-status', class: `status-${m.status}` }, m.status),
            h('td', {}, oracleCell(m)),
            h('td', {}, h('span', { testid: 'mark-price', title: 'mid of the best bid and ask, each clamped to the fill band; the oracle when one-sided' }, PRICE(m.mark))),
            h('td', {}, fundingCell(m)),
            h(
                'td',
                { testid: 'open-interest' },
                `${lots(m.market.openInterestLongLots)} lots`,
                h('small', {}, ` / cap ${lots(m.market.params.maxOpenInterestLots)}`),
            ),
            h('td', {}, `${m.market.params.initialMarginBps / 100}% / ${m.market.params.maintenanceMarginBps / 100}%`),
        ),
    );
    return h(
        'section',
        { testid: 'markets-panel', class: 'wide' },
        h('h2', {}, 'Markets'),
        h('p', { class: 'hint' }, 'Prices in collateral per whole base unit, from the oracle and the collateral price in force.'),
        table('markets-table', ['market', 'status', 'oracle', 'mark', 'funding (est.)', 'open interest', 'IM / MM'], rows, 'No markets listed in this clearinghouse.'),
    );
}

// ---- book --------------------------------------------------------------------------------------

export function bookPanel(view: DashboardView): HTMLElement {
    const books = view.markets.map((m) => {
        if (!m.depth) {
            return h('div', { testid: 'book-depth', 'data-market-index': m.market.index }, h('h3', {}, `Market #${m.market.index}`), h('p', { class: 'empty' }, 'Order book account not found.'));
        }
        const tick = m.market.params.tickSize;
        const side = (levels: typeof m.depth.bids, name: 'bid' | 'ask') =>
            levels.map((l) =>
                h(
                    'tr',
                    { testid: 'book-level', 'data-side': name, class: name },
                    h('td', {}, PRICE(l.priceTicks * tick)),
                    h('td', {}, lots(l.baseLots)),
                    h('td', {}, lots(l.cumulativeLots)),
                    h('td', {}, l.orders),
                ),
            );
        const spread = m.depth.spreadTicks !== null ? PRICE(m.depth.spreadTicks * tick) : '—';
        return h(
            'div',
            { testid: 'book-depth', 'data-market-index': m.market.index, class: 'book' },
            h('h3', {}, `Market #${m.market.index}`, h('small', {}, ` spread ${spread}${m.depth.expiredOrders ? `, ${m.depth.expiredOrders} expired order(s) not shown` : ''}`)),
            h(
                'div',
                { class: 'book-sides' },
                table(`book-asks-${m.market.index}`, ['ask', 'lots', 'total', 'orders'], side([...m.depth.asks].reverse(), 'ask'), 'No asks.'),
                table(`book-bids-${m.market.index}`, ['bid', 'lots', 'total', 'orders'], side(m.depth.bids, 'bid'), 'No bids.'),
            ),
        );
    });
    return h('section', { testid: 'book-panel' }, h('h2', {}, 'Book depth'), ...(books.length ? books : [h('p', { class: 'empty' }, 'No markets.')]));
}

// ---- insurance ---------------------------------------------------------------------------------

export function insurancePanel(view: DashboardView): HTMLElement {
    const d = collateralDecimals(view);
    const ins = view.insurance;
    if (!ins) return h('section', { testid: 'insurance-panel' }, h('h2', {}, 'Insurance vault'), h('p', { class: 'empty' }, 'No clearinghouse loaded.'));
    const rows = ins.stakes.map((s) =>
        h(
            'tr',
            { testid: 'stake-row' },
            h('td', {}, addressCell(s.owner)),
            h('td', {}, lots(s.view.shares)),
            h('td', {}, amount(s.view.value, d)),
            h('td', { testid: 'stake-request' }, s.view.request === 'none' ? '—' : `${lots(s.view.requestShares)} shares, ${s.view.request}`),
            h(
                'td',
                {},
                s.view.request === 'cooling down'
                    ? `claimable in ${formatDuration(s.view.availableUnix - view.unixTimestamp)}`
                    : s.view.request === 'claimable'
                      ? `${amount(s.view.claimAmount, d)} until ${formatDuration(s.view.claimDeadlineUnix - view.unixTimestamp)} from now`
                      : s.view.request === 'lapsed'
                        ? 'claim window passed: request again'
                        : '',
            ),
        ),
    );
    return h(
        'section',
        { testid: 'insurance-panel' },
        h('h2', {}, 'Insurance vault'),
        h(
            'dl',
            {},
            h('dt', {}, 'balance (accounted)'),
            h('dd', { testid: 'insurance-balance' }, amount(ins.balance, d)),
            h('dt', {}, 'vault token account'),
            h('dd', { testid: 'insurance-vault-tokens' }, ins.vaultTokens === null ? 'not found' : amount(ins.vaultTokens, d), ' ', addressCell(ins.vault)),
            h('dt', {}, 'shares'),
            h('dd', {}, lots(ins.totalShares), ` (epoch ${ins.epoch})`),
            h('dt', {}, 'value of 1,000,000 shares'),
            h('dd', { testid: 'insurance-share-value' }, amount(ins.valuePerMillionShares, d)),
            h('dt', {}, 'paid out, all time'),
            h('dd', {}, amount(ins.paidTotal, d)),
            h('dt', {}, 'unstake cooldown'),
            h('dd', {}, formatDuration(ins.cooldownSeconds)),
        ),
        table('stakes-table', ['staker', 'shares', 'value now', 'unstake request', 'when'], rows, 'No stakes.'),
    );
}

// ---- accounts at risk -------------------------------------------------------------------------

export type RiskSortKey = 'coverage' | 'equity' | 'maintenance' | 'liquidation' | 'adl';

function nearestLiquidationDistance(a: AccountView, view: DashboardView): number | null {
    // Relative distance from the oracle to the closest liquidation price, for ordering only.
    let best: number | null = null;
    for (const p of a.positions) {
        const price = view.markets.find((m) => m.market.index === p.marketIndex)?.oracle.price;
        const liq = p.risk?.liquidationPrice;
        if (!price || !liq) continue;
        const d = Math.abs(Number(((liq - price) * 1_000_000n) / price)) / 1_000_000;
        best = best === null ? d : Math.min(best, d);
    }
    return best;
}

function sortAccounts(accounts: AccountView[], key: RiskSortKey, view: DashboardView): AccountView[] {
    const unknownLast = (a: number | bigint | null, b: number | bigint | null, asc = true) => {
        if (a === null && b === null) return 0;
        if (a === null) return 1;
        if (b === null) return -1;
        return (a < b ? -1 : a > b ? 1 : 0) * (asc ? 1 : -1);
    };
    const maxLight = (a: AccountView) => Math.max(0, ...a.positions.map((p) => p.adlLight));
    const by: Record<RiskSortKey, (a: AccountView, b: AccountView) => number> = {
        coverage: (a, b) => unknownLast(a.coverage, b.coverage),
        equity: (a, b) => unknownLast(a.health?.equity ?? null, b.health?.equity ?? null),
        maintenance: (a, b) => unknownLast(a.health?.maintenanceRequirement ?? null, b.health?.maintenanceRequirement ?? null, false),
        liquidation: (a, b) => unknownLast(nearestLiquidationDistance(a, view), nearestLiquidationDistance(b, view)),
        adl: (a, b) => maxLight(b) - maxLight(a),
    };
    return [...accounts].sort(by[key]);
}

const light = (n: number) =>
    h('span', { class: `adl-light adl-${n}`, title: n ? `ADL indicator ${n} of 5 (5: first in line)` : 'not in the ADL queue' }, '●'.repeat(n) + '○'.repeat(5 - n));

export function riskPanel(view: DashboardView, sortKey: RiskSortKey, onSort: (key: RiskSortKey) => void): HTMLElement {
    const d = collateralDecimals(view);
    const header = (label: string, key: RiskSortKey) =>
        h('button', { type: 'button', class: sortKey === key ? 'sort active' : 'sort', testid: `sort-${key}`, onclick: () => onSort(key) }, label);
    const withPositions = view.accounts.filter((a) => a.positions.length > 0);
    const rows = sortAccounts(withPositions, sortKey, view).map((a) => {
        const positions = a.positions.filter((p) => p.baseLots !== 0n);
        return h(
            'tr',
            { testid: 'account-row', 'data-address': a.address, class: a.liquidatable ? 'liquidatable' : '' },
            h('td', {}, addressCell(a.address), h('br', {}), h('small', {}, 'owner ', addressCell(a.account.owner))),
            h('td', { testid: 'account-equity' }, a.health ? amount(a.health.equity, d) : `unpriced (market ${a.unpricedMarkets.join(', ')})`),
            h('td', { testid: 'account-maintenance' }, a.health ? amount(a.health.maintenanceRequirement, d) : '—'),
            h(
                'td',
                { testid: 'account-status' },
                a.liquidatable === null ? '—' : a.liquidatable ? 'liquidatable' : a.coverage !== null ? `${a.coverage.toFixed(2)}× maintenance` : 'no requirement',
                a.beingLiquidated ? h('small', {}, ' (being liquidated)') : null,
                a.adlEligibleSlot !== null ? h('small', {}, ` ADL from slot ${a.adlEligibleSlot}`) : null,
            ),
            h(
                'td',
                { testid: 'account-positions' },
                ...positions.map((p) =>
                    h(
                        'div',
                        { class: 'position' },
                        `#${p.marketIndex} ${p.baseLots > 0n ? 'long' : 'short'} ${lots(p.baseLots < 0n ? -p.baseLots : p.baseLots)} · liq `,
                        h('span', { testid: 'liquidation-price' }, PRICE(p.risk?.liquidationPrice)),
                        ' · bankr. ',
                        PRICE(p.risk?.bankruptcyPrice),
                        ' · ',
                        h('span', { testid: 'adl-light', 'data-light': p.adlLight }, light(p.adlLight)),
                    ),
                ),
                positions.length === 0 ? h('small', {}, 'resting orders only') : null,
            ),
        );
    });
    return h(
        'section',
        { testid: 'risk-panel', class: 'wide' },
        h('h2', {}, 'Accounts at risk'),
        h('p', { class: 'hint' }, 'Health with every held market at its validated oracle price, as the program values an account taking risk. Sort: ', header('coverage', 'coverage'), ' ', header('equity', 'equity'), ' ', header('maintenance', 'maintenance'), ' ', header('nearest liquidation', 'liquidation'), ' ', header('ADL light', 'adl')),
        table('risk-table', ['margin account', 'equity', 'maintenance', 'status', 'positions (liquidation / bankruptcy price, ADL)'], rows, 'No margin account holds a position or order.'),
    );
}

// ---- ADL -----------------------------------------------------------------------------------------

export function adlPanel(view: DashboardView): HTMLElement {
    const rounds =
        view.adlRounds === null
            ? h('p', { class: 'empty', testid: 'adl-rounds-absent' }, "This program's IDL has no AdlRound account: rounds are not shown. The queues below are computed from the margin accounts.")
            : view.adlRounds.length === 0
              ? h('p', { class: 'empty', testid: 'adl-rounds-empty' }, 'No ADL round open.')
              : h('div', { testid: 'adl-rounds' }, ...view.adlRounds.map((r) => adlRoundItem(r, view)));
    const targets = view.accounts
        .filter((a) => a.adlEligibleSlot !== null)
        .map((a) =>
            h(
                'tr',
                { testid: 'adl-target' },
                h('td', {}, addressCell(a.address)),
                h('td', {}, a.health ? amount(a.health.equity, collateralDecimals(view)) : '—'),
                h('td', {}, `${a.account.liquidatableSinceSlot}`),
                h('td', {}, a.adlEligibleSlot! <= view.slot ? 'past its grace: ADL may act' : `in ${a.adlEligibleSlot! - view.slot} slots`),
            ),
        );
    const queues = (view.adlQueues?.markets() ?? []).flatMap((index) =>
        [true, false].map((long) => {
            const q = view.adlQueues!.queueOf(index, long);
            return h(
                'div',
                { testid: 'adl-queue', 'data-market-index': index, 'data-side': long ? 'long' : 'short' },
                h('h3', {}, `Market #${index}, profitable ${long ? 'longs' : 'shorts'} (closed against ${long ? 'short' : 'long'} targets)`),
                q.length === 0
                    ? h('p', { class: 'empty' }, 'none')
                    : h('ol', {}, ...q.slice(0, 10).map((e) => h('li', {}, addressCell(e.marginAccount), ` ${lots(e.baseLots < 0n ? -e.baseLots : e.baseLots)} lots, score ${formatDecimal(e.score, 6)}`))),
            );
        }),
    );
    return h(
        'section',
        { testid: 'adl-panel' },
        h('h2', {}, 'Auto-deleveraging'),
        h('h3', {}, 'Rounds'),
        rounds,
        h('h3', {}, 'Accounts on the ADL grace clock'),
        table('adl-targets', ['margin account', 'equity', 'liquidatable since slot', 'ADL'], targets, 'No account has been seen liquidatable.'),
        ...queues,
    );
}

function adlRoundItem(r: { address: string; fields: Record<string, unknown> | null }, view: DashboardView): HTMLElement {
    const d = collateralDecimals(view);
    const s = r.fields ? summarizeAdlRound(r.fields) : null;
    if (!s) {
        return h(
            'div',
            { testid: 'adl-round', class: 'round' },
            addressCell(r.address),
            ' ',
            r.fields ? h('code', {}, describeFields(r.fields)) : h('em', {}, 'does not decode with the IDL layout'),
        );
    }
    const market = view.markets.find((m) => m.address === s.market);
    const phase = view.slot <= s.windowEndSlot ? `taking nominations until slot ${s.windowEndSlot}` : 'filling in score order';
    const side = s.targetLots > 0n ? 'long' : 'short';
    return h(
        'div',
        { testid: 'adl-round', class: 'round', 'data-target': s.target },
        h(
            'p',
            {},
            h('strong', {}, `Market ${market ? `#${market.market.index}` : s.market.slice(0, 8)}`),
            ' target ',
            addressCell(s.target),
            ` (${side} ${lots(s.targetLots < 0n ? -s.targetLots : s.targetLots)} at ${PRICE(s.price)}): `,
            h('span', { testid: 'adl-round-phase' }, phase),
        ),
        h(
            'p',
            { class: 'hint' },
            `${lots(s.remainingLots)} lots left; uncovered ${amount(s.uncoveredLeft, d)} of ${amount(s.uncovered, d)} ` +
                `(deficit ${amount(s.deficit, d)}, insurance ${amount(s.insurancePays, d)}); ${s.fillCount} fill(s), haircuts ${amount(s.haircutTotal, d)}` +
                (s.restartCount ? `; restarted ${s.restartCount}×` : ''),
        ),
        s.nominees.length
            ? h(
                  'ol',
                  { testid: 'adl-nominees' },
                  ...s.nominees.map((n) =>
                      h('li', {}, addressCell(n.marginAccount), ` score ${formatDecimal(n.score, 6)}`, n.deferred ? h('small', {}, ' (deferred: pays last)') : null),
                  ),
              )
            : h('p', { class: 'empty' }, 'No nominees yet.'),
    );
}

function describeFields(fields: Record<string, unknown>): string {
    return Object.entries(fields)
        .filter(([k]) => !/^(discriminator|padding\d*|reserved)$/.test(k))
        .map(([k, v]) => `${k}=${typeof v === 'object' && v !== null ? JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? x.toString() : x)) : String(v)}`)
        .join(' ');
}

// ---- collateral oracle ---------------------------------------------------------------------------

const modeName = (mode: unknown) => REDEMPTION_MODE_NAMES[Number(mode)] ?? `mode ${String(mode)}`;

export function collateralPanel(view: DashboardView, lastSwitch: FeedItem | null): HTMLElement {
    const c = view.collateral;
    if (!c) return h('section', { testid: 'collateral-panel' }, h('h2', {}, 'Collateral oracle'), h('p', { class: 'empty' }, 'No clearinghouse loaded.'));
    const reading = (r: typeof c.marketPrint, testid: string) =>
        r
            ? h('span', { testid }, `${PRICE(r.price)} USD`, h('small', {}, ` (${r.validity}, published ${formatDuration(r.ageSeconds)} ago)`))
            : h('span', { testid }, c.fixed ? '—' : `not decoded here (${c.marketSource})`);
    const healthy = c.redemptionMode === 'healthy';
    const switchData = lastSwitch && lastSwitch.event.name ? (lastSwitch.event as { data: Record<string, unknown> }).data : null;
    return h(
        'section',
        { testid: 'collateral-panel' },
        h('h2', {}, 'Collateral oracle'),
        h(
            'dl',
            {},
            h('dt', {}, 'pricing'),
            h('dd', { testid: 'collateral-mode' }, c.fixed ? 'fixed price' : c.mode),
            h('dt', {}, 'redemption'),
            h(
                'dd',
                { testid: 'redemption-mode', class: c.redemptionAware ? (healthy ? 'ok' : 'warn') : '' },
                c.redemptionMode,
                c.brokenReasons.length ? h('small', {}, ` (${c.brokenReasons.join(', ')})`) : null,
                c.redemptionEnabled !== null ? h('small', {}, ` · attested ${c.redemptionEnabled ? 'open' : 'suspended'}, reserves ${c.reserveRatio !== null ? formatPrice(c.reserveRatio) : '—'}`) : null,
            ),
            h('dt', {}, 'attested rate'),
            h('dd', {}, c.redemptionAware ? reading(c.attestedRate, 'attested-rate') : h('span', { testid: 'attested-rate' }, 'not used')),
            h('dt', {}, 'market print'),
            h('dd', {}, reading(c.marketPrint, 'market-print')),
            h('dt', {}, 'price in force'),
            h(
                'dd',
                { testid: 'collateral-price' },
                `${PRICE(c.priceInForce)} USD`,
                h('small', {}, c.fixed ? '' : ` (${c.priceSource}, recorded at slot ${c.lastUpdateSlot}; each priced transaction refreshes it first)`),
            ),
            c.redemptionAware ? h('dt', {}, 'below the hard band') : null,
            c.redemptionAware
                ? h('dd', {}, `${formatDuration(c.belowHardBandSeconds)} net of a ${formatDuration(c.hardBandGraceSeconds)} grace (bands: soft ${c.softBandBps} bps, hard ${c.hardBandBps} bps)`)
                : null,
            h('dt', {}, 'last mode switch'),
            h(
                'dd',
                { testid: 'collateral-last-switch' },
                switchData
                    ? `slot ${String(switchData.slot)}: ${modeName(switchData.previousMode)} → ${modeName(switchData.mode)} (seen in the event feed)`
                    : 'none seen since this page opened (the account keeps no switch time; switches arrive as CollateralModeChangedV1 events)',
            ),
        ),
    );
}

// ---- event feed ------------------------------------------------------------------------------------

export function feedList(items: readonly FeedItem[]): HTMLElement {
    if (items.length === 0) return h('p', { class: 'empty', testid: 'feed-empty' }, 'No events yet.');
    return h(
        'ol',
        { class: 'feed', testid: 'feed-list' },
        ...items.map((item) =>
            h(
                'li',
                { testid: 'feed-item', 'data-event': item.event.name ?? 'unknown', class: item.failed ? 'failed' : '' },
                h('strong', {}, item.event.name ?? `unknown event ${(item.event as { discriminatorHex: string }).discriminatorHex}`),
                item.slot !== null ? h('small', {}, ` slot ${item.slot}`) : null,
                item.failed ? h('small', {}, ' (transaction failed)') : null,
                ' ',
                item.event.name ? h('code', {}, describeFields((item.event as { data: Record<string, unknown> }).data)) : null,
                ' ',
                h('small', { class: 'signature', title: item.signature }, item.signature.slice(0, 10), '…'),
            ),
        ),
    );
}

