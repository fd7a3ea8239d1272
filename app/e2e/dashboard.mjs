// The dashboard in a real browser (headless Chromium from the system, driven by playwright-core;
// no browser is downloaded), against bulwark-localnet:
//   1. start the node on free ports and serve the built app (`vite preview`, which forwards
//      /rpc, HTTP and WebSocket, to the node), open the page, wait for its live subscriptions;
//   2. while the page is open, run the README's walkthrough (scripts/localnet-demo.sh): deploy,
//      two users trade, BTC falls, the keeper liquidates;
//   3. check that the page shows what the `bulwark` CLI reads over RPC (an independent reader,
//      the Rust SDK): the oracle price, the trader's equity, the book, the insurance vault, and
//      the liquidation in the live event feed;
//   4. trade through the page's panel with a browser keypair (airdrop, deposit, an order that
//      the CLI then finds resting in the book, a refused withdrawal shown by its error's name);
//   5. stop the node: the page says so in a sentence and keeps its last read;
//   6. save screenshots.
// Exits non-zero on the first mismatch. Run by cli/tests/dashboard.rs; by hand:
//   BULWARK_BIN_DIR=<dir with bulwark, bulwark-localnet, bulwark-migrate, bulwark-keeper> \
//   node app/e2e/dashboard.mjs
// Environment: BULWARK_BIN_DIR (required), BULWARK_E2E_DIR (scratch, default a temp dir),
// BULWARK_SCREENSHOTS (default <scratch>/screenshots), CHROMIUM (default /usr/bin/chromium),
// BULWARK_SO (the program the node runs; native without it).

import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const app = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repo = resolve(app, '..');
const bin = process.env.BULWARK_BIN_DIR;
if (!bin) throw new Error('BULWARK_BIN_DIR must name the directory holding the workspace binaries');
const scratch = process.env.BULWARK_E2E_DIR || mkdtempSync(join(tmpdir(), 'bulwark-dashboard-'));
mkdirSync(scratch, { recursive: true });
const shots = resolve(process.env.BULWARK_SCREENSHOTS || join(scratch, 'screenshots'));
mkdirSync(shots, { recursive: true });
const demo = join(scratch, 'demo');
const PATH = `${bin}:${process.env.PATH}`;
const children = [];
const started = Date.now();

function log(message) {
    console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);
}

function fail(message) {
    throw new Error(message);
}

function check(condition, what) {
    if (!condition) fail(`FAILED: ${what}`);
    log(`ok: ${what}`);
}

const freePort = () =>
    new Promise((ok, err) => {
        const server = createServer();
        server.listen(0, '127.0.0.1', () => {
            const { port } = server.address();
            server.close(() => ok(port));
        });
        server.on('error', err);
    });

function startProcess(name, command, args, env, cwd = scratch) {
    const out = openSync(join(scratch, `${name}.log`), 'w');
    const child = spawn(command, args, { cwd, env: { ...process.env, PATH, ...env }, stdio: ['ignore', out, out] });
    children.push(child);
    return child;
}

function stopAll() {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
}
process.on('exit', stopAll);
for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
        stopAll();
        process.exit(1);
    });
}

async function until(what, probe, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    let last;
    while (Date.now() < deadline) {
        try {
            last = await probe();
            if (last) return last;
        } catch (e) {
            last = e;
        }
        await new Promise((r) => setTimeout(r, 250));
    }
    fail(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}

function logTail(name) {
    try {
        return readFileSync(join(scratch, `${name}.log`), 'utf8').split('\n').slice(-40).join('\n');
    } catch {
        return '';
    }
}

/** The `bulwark` CLI, as a user of the walkthrough's deployment; JSON when asked. */
function cli(args, { json = false } = {}) {
    const env = { ...process.env, PATH, BULWARK_CONFIG: join(demo, 'cli.toml'), ...deploymentEnv() };
    const out = execFileSync('bulwark', [...args, ...(json ? ['--json'] : [])], { cwd: demo, env, encoding: 'utf8' });
    return json ? JSON.parse(out) : out;
}

function deploymentEnv() {
    const file = join(demo, 'env.sh');
    if (!existsSync(file)) return {};
    const env = {};
    for (const line of readFileSync(file, 'utf8').split('\n')) {
        const m = /^export ([A-Z0-9_]+)='([^']*)'$/.exec(line);
        if (m) env[m[1]] = m[2];
    }
    return env;
}

/** Screenshot an element; panels are re-rendered when accounts change, so retry a detached one. */
async function shot(locator, path) {
    for (let attempt = 1; ; attempt++) {
        try {
            return await locator.screenshot({ path, timeout: 5_000 });
        } catch (e) {
            if (attempt >= 5) throw e;
            await new Promise((r) => setTimeout(r, 300));
        }
    }
}

/** Digits, dot and sign of a rendered number ("93,500" → "93500"). */
const plain = (text) => (text ?? '').replace(/[^0-9.\-]/g, '');

// ---- 1. node, app server, page
const program = process.env.BULWARK_SO ? ['--program', process.env.BULWARK_SO] : ['--native'];
// Free ports chosen by the node itself, read back from its first line.
startProcess('localnet', 'bulwark-localnet', ['--port', '0', ...program], {});
await until('the node', () => logTail('localnet').includes('listening'), 120_000);
const rpcUrl = /http:\/\/[^ ]+/.exec(logTail('localnet'))[0];
log(`node: ${rpcUrl}`);
const appPort = await freePort();
if (!existsSync(join(app, 'dist/index.html'))) fail('app/dist is missing: npm --prefix app run build');
startProcess('preview', process.execPath, [join(app, 'node_modules/vite/bin/vite.js'), 'preview', '--host', '127.0.0.1', '--port', String(appPort), '--strictPort'], { BULWARK_RPC_PROXY: rpcUrl }, app);
const pageUrl = `http://127.0.0.1:${appPort}/?rpc=/rpc`;
await until('the app server', async () => (await fetch(pageUrl)).ok, 60_000);

const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(e.message));
await page.goto(pageUrl);
const byTestId = (id) => page.locator(`[data-testid="${id}"]`);
const text = async (locator) => (await locator.first().textContent({ timeout: 5_000 }))?.trim() ?? '';

await until('the page connects', async () => (await text(byTestId('connection-status'))).includes('local or private cluster'));
check(true, `the page names the node a local cluster: ${await text(byTestId('connection-status'))}`);
await until('the live feed subscribes', async () => (await text(byTestId('feed-mode'))).includes('subscription'));
check(true, `event feed over the node's WebSocket: ${await text(byTestId('feed-mode'))}`);
await until('the page to say there is no clearinghouse yet', async () => (await text(byTestId('error-banner'))).includes('no clearinghouse'));
check(true, 'before the migrations the page says there is no clearinghouse yet');

// ---- 2. the walkthrough, with the page open
log('running scripts/localnet-demo.sh against the node');
const walkthrough = startProcess('walkthrough', 'bash', [join(repo, 'scripts/localnet-demo.sh')], {
    BULWARK_DEMO_NODE: 'use',
    BULWARK_DEMO_DIR: demo,
    BULWARK_RPC_URL: rpcUrl,
    BULWARK_CONFIG: join(demo, 'cli.toml'),
});
const code = await new Promise((r) => walkthrough.on('exit', r));
if (code !== 0) fail(`the walkthrough failed (${code}):\n${logTail('walkthrough')}`);
log('walkthrough done: the keeper liquidated the trader');
const env = deploymentEnv();
check(Boolean(env.BULWARK_CLEARINGHOUSE), `deployment ${env.BULWARK_CLEARINGHOUSE}`);

// ---- 3. what the page shows = what RPC reads say
const liquidations = page.locator('[data-testid="feed-item"][data-event="LiquidationV1"]');
await until('the liquidation in the live feed', async () => (await liquidations.count()) > 0, 30_000);
check(true, `the feed shows the keeper's liquidation (${await liquidations.count()} LiquidationV1 event(s))`);

const markets = cli(['markets'], { json: true });
const btc = markets.find((m) => m.index === 0);
await until('the oracle price', async () => plain(await text(page.locator('[data-testid="market-row"][data-market-index="0"] [data-testid="oracle-price"]'))).startsWith(plain(btc.oracle_price)));
check(true, `oracle price ${btc.oracle_price} on the page and over RPC`);

const trader = cli(['positions', '--keypair', join(demo, 'trader.json')], { json: true });
const traderRow = page.locator(`[data-testid="account-row"][data-address="${trader.margin_account}"]`);
await until("the trader's equity", async () => plain(await text(traderRow.locator('[data-testid="account-equity"]'))) === plain(trader.equity));
check(true, `trader ${trader.margin_account.slice(0, 8)}… equity ${trader.equity} on the page and over RPC; liquidatable ${trader.liquidatable}`);
const traderLots = trader.positions.find((p) => p.market === 0).base_lots;
check(traderLots > 0 && traderLots < 90, `the liquidation sold part of the long: ${traderLots} of 90 lots left`);
check((await text(traderRow.locator('[data-testid="account-positions"]'))).includes(String(traderLots)), 'the risk panel shows the lots left');

const book = cli(['book', '--market', '0'], { json: true });
const bid = book.bids[0];
const bidRow = page.locator('[data-testid="book-depth"][data-market-index="0"] [data-testid="book-level"][data-side="bid"]').first();
await until('the best bid', async () => {
    const price = plain(await text(bidRow.locator('td').nth(0)));
    const lots = plain(await text(bidRow.locator('td').nth(1)));
    return price === plain(bid.price) && lots === String(bid.lots);
});
check(true, `best bid ${bid.lots} lots at ${bid.price} on the page and over RPC`);

const insurance = cli(['insurance', 'show', '--keypair', join(demo, 'maker.json')]);
const vault = /insurance vault\s+(\S+)/.exec(insurance)?.[1];
check(plain(await text(byTestId('insurance-balance'))) === plain(vault), `insurance vault ${vault} on the page and over RPC`);
check((await text(byTestId('collateral-mode'))).length > 0, `collateral oracle: ${await text(byTestId('collateral-mode'))} / ${await text(byTestId('redemption-mode'))}`);

await page.screenshot({ path: join(shots, 'dashboard.png'), fullPage: true });
await shot(byTestId('feed-list'), join(shots, 'feed.png'));
await shot(byTestId('risk-panel'), join(shots, 'accounts-at-risk.png'));

// ---- 4. trading through the panel with a browser keypair
await byTestId('localnet-switch').check();
await byTestId('keypair-generate').click();
const me = await until('a local keypair', async () => text(byTestId('local-address')));
log(`browser keypair ${me}`);
const result = byTestId('trade-result');
await byTestId('airdrop').click();
await until('the airdrop', async () => (await text(result)).includes('Airdropped'));
cli(['mint-collateral', '1000', '--to', me, '--keypair', join(demo, 'admin.json')]);
await byTestId('deposit-amount').fill('500');
await byTestId('deposit-submit').click();
// Each wait names its own instruction: the result line still shows the previous action's.
await until('the deposit', async () => /^Confirmed: .*Deposit/.test(await text(result)), 30_000);
check(true, `deposit through the page: ${(await text(result)).slice(0, 60)}…`);

await byTestId('order-market').selectOption('0');
await byTestId('order-side').selectOption('0'); // buy
await byTestId('order-type').selectOption('1'); // post-only
await byTestId('order-price').fill('92000');
await byTestId('order-lots').fill('5');
await byTestId('order-submit').click();
await until('the order', async () => /^Confirmed: .*PlaceOrder/.test(await text(result)), 30_000);
const after = cli(['book', '--market', '0'], { json: true });
check(after.bids.some((l) => plain(l.price) === '92000' && l.lots === 5), 'the CLI finds the page\'s order resting: 5 lots bid at 92000');
await until('the order in "your resting orders"', async () => (await byTestId('my-order').count()) === 1);
check((await text(byTestId('my-order'))).includes('5 lots at 92000'), `the panel lists it: ${await text(byTestId('my-order'))}`);

await byTestId('withdraw-amount').fill('100000');
await byTestId('withdraw-submit').click();
await until('the refusal', async () => (await text(result)).includes('InsufficientCollateral'), 30_000);
check(true, `a refused withdrawal is named: ${(await text(result)).split('\n')[0].slice(0, 120)}`);
await shot(byTestId('trading-panel'), join(shots, 'trade.png'));

check(pageErrors.length === 0, `no uncaught page errors${pageErrors.length ? `: ${pageErrors.join('; ')}` : ''}`);

// ---- the node goes away: a sentence, and the last good read stays on screen
children[0].kill('SIGTERM');
await until('the node-down message', async () => /RPC node/.test(await text(byTestId('error-banner'))), 45_000);
check(true, `node stopped: ${await text(byTestId('error-banner'))}`);
check((await byTestId('market-row').count()) === 1, 'the panels keep the last successful read');
await browser.close();
stopAll();
log(`dashboard: all checks passed; screenshots in ${shots}`);
