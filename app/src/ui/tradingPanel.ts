// The trading panel: who signs (a local keypair behind the localnet-only switch, or a wallet
// through the Wallet Standard on devnet), and the deposit / order / cancel / withdraw forms.
// Built once; `update` refreshes what depends on the latest read.

import type { Address, TransactionSigner } from '@solana/kit';
import type { Wallet } from '@wallet-standard/base';

import { ORDER_TYPE, SIDE_ASK, SIDE_BID } from '../lib/constants';
import type { ClusterInfo } from '../lib/connection';
import { describeError } from '../lib/errors';
import { generateKeypair, keypairFromJson, keypairToJson, loadStoredKeypair, storeKeypair, type StoredKeypair } from '../lib/localKeypair';
import { bandLimitTicks } from '../lib/mark';
import { associatedTokenAddress, marginAccountPda } from '../lib/pda';
import type { DashboardView } from '../lib/snapshot';
import { tokenAmount } from '../lib/snapshot';
import {
    buildCancel,
    buildDeposit,
    buildPlaceOrder,
    buildWithdraw,
    instructionNames,
    type Landed,
    type NamedInstruction,
} from '../lib/trading';
import { formatDecimal, formatPrice, parseDecimal, priceToTicks } from '../lib/units';
import { connectWallet, onWalletsChanged, solanaWallets, type SolanaChain, walletSigner } from '../lib/wallet';
import { addressCell, h, replace } from './dom';

export type TradingDeps = {
    view: () => DashboardView | null;
    cluster: () => ClusterInfo | null;
    rpcUrl: () => string;
    send: (signer: TransactionSigner, instructions: NamedInstruction[]) => Promise<Landed>;
    fetchAccount: (address: Address) => Promise<{ lamports: bigint; data: Uint8Array } | null>;
    airdrop: (address: Address, lamports: bigint) => Promise<void>;
    onError: (message: string) => void;
};

const field = (label: string, input: HTMLElement) => h('label', {}, h('span', {}, label), input);

export class TradingPanel {
    readonly element: HTMLElement;
    private local: StoredKeypair | null = null;
    private wallet: { wallet: Wallet; signer: TransactionSigner } | null = null;
    private readonly localSwitch = h('input', { type: 'checkbox', testid: 'localnet-switch' });
    private readonly localBox = h('div', { class: 'local-keypair', testid: 'local-keypair' });
    private readonly walletBox = h('div', { class: 'wallet', testid: 'wallet-box' });
    private readonly signerLine = h('p', { testid: 'signer' });
    private readonly result = h('div', { testid: 'trade-result', class: 'trade-result', role: 'status' });
    private readonly myOrders = h('div', { testid: 'my-orders' });
    private readonly subAccount = h('input', { type: 'number', min: 0, max: 65535, value: 0, testid: 'sub-account' });
    private readonly depositAmount = h('input', { type: 'text', inputmode: 'decimal', placeholder: '100', testid: 'deposit-amount' });
    private readonly withdrawAmount = h('input', { type: 'text', inputmode: 'decimal', placeholder: '50', testid: 'withdraw-amount' });
    private readonly orderMarket = h('select', { testid: 'order-market' });
    private readonly orderSide = h('select', { testid: 'order-side' }, h('option', { value: SIDE_BID }, 'buy'), h('option', { value: SIDE_ASK }, 'sell'));
    private readonly orderType = h(
        'select',
        { testid: 'order-type' },
        h('option', { value: ORDER_TYPE.limit }, 'limit'),
        h('option', { value: ORDER_TYPE.postOnly }, 'post-only'),
        h('option', { value: ORDER_TYPE.immediateOrCancel }, 'immediate-or-cancel'),
        h('option', { value: ORDER_TYPE.market }, 'market (worst price: oracle ± fill band)'),
    );
    private readonly orderPrice = h('input', { type: 'text', inputmode: 'decimal', placeholder: 'price per base unit', testid: 'order-price' });
    private readonly orderLots = h('input', { type: 'text', inputmode: 'numeric', placeholder: 'lots', testid: 'order-lots' });
    private readonly orderReduceOnly = h('input', { type: 'checkbox', testid: 'order-reduce-only' });
    private readonly orderExpiry = h('input', { type: 'text', inputmode: 'numeric', placeholder: 'seconds (empty: none)', testid: 'order-expiry' });
    private readonly cancelMarket = h('select', { testid: 'cancel-market' });
    private readonly cancelOrderId = h('input', { type: 'text', inputmode: 'numeric', placeholder: 'order id (empty: all)', testid: 'cancel-order-id' });
    private busy = false;

    constructor(private readonly deps: TradingDeps) {
        this.localSwitch.addEventListener('change', () => void this.toggleLocal());
        const form = (testid: string, title: string, submitLabel: string, onSubmit: () => Promise<void>, ...fields: HTMLElement[]) =>
            h(
                'form',
                {
                    testid,
                    onsubmit: (e: Event) => {
                        e.preventDefault();
                        void this.run(onSubmit);
                    },
                },
                h('h3', {}, title),
                ...fields,
                h('button', { type: 'submit', testid: `${testid.replace(/-form$/, '')}-submit` }, submitLabel),
            );
        this.element = h(
            'section',
            { testid: 'trading-panel', class: 'wide' },
            h('h2', {}, 'Trade'),
            h(
                'div',
                { class: 'signers' },
                h(
                    'label',
                    { class: 'switch' },
                    this.localSwitch,
                    h('strong', {}, ' Local keypair — localnet only'),
                    h('small', {}, ' (kept in this browser; refused on public clusters)'),
                ),
                this.localBox,
                this.walletBox,
                this.signerLine,
                h('label', { class: 'switch' }, 'margin sub-account ', this.subAccount),
            ),
            h('div', { class: 'forms' },
                form('deposit-form', 'Deposit', 'Deposit', () => this.deposit(), field('amount', this.depositAmount)),
                form(
                    'order-form',
                    'Place order',
                    'Place order',
                    () => this.placeOrder(),
                    field('market', this.orderMarket),
                    field('side', this.orderSide),
                    field('type', this.orderType),
                    field('price', this.orderPrice),
                    field('lots', this.orderLots),
                    field('expires in', this.orderExpiry),
                    h('label', { class: 'switch' }, this.orderReduceOnly, ' reduce-only'),
                ),
                form('cancel-form', 'Cancel', 'Cancel', () => this.cancel(null), field('market', this.cancelMarket), field('order', this.cancelOrderId)),
                form('withdraw-form', 'Withdraw', 'Withdraw', () => this.withdraw(), field('amount', this.withdrawAmount)),
            ),
            this.myOrders,
            this.result,
        );
        onWalletsChanged(() => this.renderWallets());
        void loadStoredKeypair(localStorage).then((kp) => {
            this.local = kp;
            this.renderLocal();
        });
        this.renderWallets();
    }

    // ---- signers ---------------------------------------------------------------------------

    private isLocalCluster(): boolean {
        const c = this.deps.cluster();
        return c !== null && c.publicCluster === null;
    }

    private async toggleLocal(): Promise<void> {
        if (this.localSwitch.checked && !this.isLocalCluster()) {
            this.localSwitch.checked = false;
            const c = this.deps.cluster();
            this.say(
                c
                    ? `The local keypair is for localnet only, and this node is ${c.publicCluster}: connect a wallet instead.`
                    : 'Connect to a node first: the local keypair is enabled only once the node is known to be a local cluster.',
                true,
            );
        }
        this.renderLocal();
    }

    private renderLocal(): void {
        if (!this.localSwitch.checked) {
            replace(this.localBox);
            this.renderSigner();
            return;
        }
        const importBox = h('textarea', { rows: 2, placeholder: 'paste a Solana CLI keypair (JSON array of 64 numbers)', testid: 'keypair-import' });
        replace(
            this.localBox,
            this.local
                ? h('p', {}, 'address ', h('code', { testid: 'local-address' }, this.local.signer.address), ' ', h('span', { testid: 'local-balances' }))
                : h('p', {}, 'No local keypair yet.'),
            h('button', { type: 'button', testid: 'keypair-generate', onclick: () => void this.setLocal(generateKeypair()) }, 'New keypair'),
            ' ',
            h('button', { type: 'button', testid: 'keypair-import-button', onclick: () => void this.setLocal(keypairFromJson(importBox.value)) }, 'Use pasted keypair'),
            ' ',
            this.local
                ? h('button', { type: 'button', testid: 'airdrop', onclick: () => void this.run(() => this.airdrop()) }, 'Airdrop 1 SOL')
                : null,
            ' ',
            this.local
                ? h('button', { type: 'button', testid: 'keypair-export', onclick: () => this.exportLocal() }, 'Copy as CLI keypair')
                : null,
            importBox,
            this.local
                ? h('p', { class: 'hint' }, 'Collateral comes from the mint authority: ', h('code', {}, `bulwark mint-collateral 10000 --to ${this.local.signer.address}`))
                : null,
        );
        this.renderSigner();
        void this.refreshBalances();
    }

    private async setLocal(kp: Promise<StoredKeypair>): Promise<void> {
        try {
            this.local = await kp;
            storeKeypair(localStorage, this.local);
            this.renderLocal();
        } catch (e) {
            this.say(e instanceof Error ? e.message : String(e), true);
        }
    }

    private exportLocal(): void {
        if (!this.local) return;
        void navigator.clipboard?.writeText(keypairToJson(this.local.bytes));
        this.say('Keypair copied: save it as a file to use it with the bulwark CLI (--keypair).', false);
    }

    private walletChain(): SolanaChain | null {
        const c = this.deps.cluster();
        if (!c) return null;
        if (c.publicCluster === 'devnet') return 'solana:devnet';
        if (c.publicCluster === 'testnet') return 'solana:testnet';
        if (c.publicCluster === null) return 'solana:localnet';
        return null; // mainnet: this page trades on test clusters only
    }

    renderWallets(): void {
        const chain = this.walletChain();
        if (this.wallet) {
            replace(
                this.walletBox,
                h('p', {}, `${this.wallet.wallet.name}: `, h('code', { testid: 'wallet-address' }, this.wallet.signer.address), ' ',
                    h('button', { type: 'button', testid: 'wallet-disconnect', onclick: () => { this.wallet = null; this.renderWallets(); } }, 'Disconnect')),
            );
            this.renderSigner();
            return;
        }
        if (!chain) {
            replace(
                this.walletBox,
                h(
                    'p',
                    { class: 'hint', testid: 'wallet-unavailable' },
                    this.deps.cluster() ? 'Wallet trading is offered on devnet, testnet and local clusters only.' : 'Wallets are listed once the node is connected.',
                ),
            );
            this.renderSigner();
            return;
        }
        const wallets = solanaWallets(chain);
        replace(
            this.walletBox,
            wallets.length === 0
                ? h('p', { class: 'hint', testid: 'wallet-none' }, `No browser wallet offering ${chain} signing is installed.`)
                : h(
                      'p',
                      {},
                      ...wallets.map((w) =>
                          h('button', { type: 'button', testid: 'wallet-connect', 'data-wallet': w.name, onclick: () => void this.connect(w, chain) }, `Connect ${w.name}`),
                      ),
                  ),
        );
        this.renderSigner();
    }

    private async connect(wallet: Wallet, chain: SolanaChain): Promise<void> {
        try {
            const account = await connectWallet(wallet);
            this.wallet = { wallet, signer: walletSigner(wallet, account, chain) };
            this.renderWallets();
            void this.refreshBalances();
        } catch (e) {
            this.say(`Could not connect ${wallet.name}: ${e instanceof Error ? e.message : String(e)}`, true);
        }
    }

    /** The local keypair when its switch is on (local cluster), else the connected wallet. */
    signer(): TransactionSigner | null {
        if (this.localSwitch.checked && this.local && this.isLocalCluster()) return this.local.signer;
        return this.wallet?.signer ?? null;
    }

    private renderSigner(): void {
        const s = this.signer();
        replace(this.signerLine, s ? h('span', {}, 'Signing as ', addressCell(s.address, 'signer-address')) : h('span', { class: 'hint' }, 'No signer: enable the local keypair on localnet, or connect a wallet.'));
    }

    private async refreshBalances(): Promise<void> {
        const view = this.deps.view();
        const target = this.localBox.querySelector('[data-testid="local-balances"]');
        if (!this.local || !target || !view?.clearinghouse) return;
        try {
            const sol = await this.deps.fetchAccount(this.local.signer.address);
            const ata = await associatedTokenAddress(this.local.signer.address, view.clearinghouse.collateralMint);
            const token = await this.deps.fetchAccount(ata);
            const collateral = token ? tokenAmount(token.data) : null;
            target.textContent = `· ${formatDecimal(sol?.lamports ?? 0n, 9)} SOL · ${collateral === null ? 'no collateral token account' : `${formatDecimal(collateral, view.clearinghouse.collateralDecimals)} collateral in wallet`}`;
        } catch {
            target.textContent = '';
        }
    }

    // ---- forms -------------------------------------------------------------------------------

    /** Refresh what depends on the latest read: market choices, own orders, balances. */
    update(view: DashboardView): void {
        for (const select of [this.orderMarket, this.cancelMarket]) {
            const current = select.value;
            replace(select, ...view.markets.map((m) => h('option', { value: m.market.index }, `#${m.market.index} (${m.status})`)));
            if ([...select.options].some((o) => o.value === current)) select.value = current;
        }
        void this.renderMyOrders(view);
        void this.refreshBalances();
        this.renderSigner();
    }

    private async renderMyOrders(view: DashboardView): Promise<void> {
        const s = this.signer();
        if (!s || !view.clearinghouseAddress) return replace(this.myOrders);
        const margin = await marginAccountPda(view.clearinghouseAddress, s.address, this.subAccountId());
        const rows = view.markets.flatMap((m) =>
            m.book
                ? [...m.book.bids.slice(0, m.book.bidCount).map((o) => ({ o, side: 'buy' })), ...m.book.asks.slice(0, m.book.askCount).map((o) => ({ o, side: 'sell' }))]
                      .filter(({ o }) => o.maker === margin)
                      .map(({ o, side }) =>
                          h(
                              'li',
                              { testid: 'my-order', 'data-order-id': o.orderId.toString() },
                              `#${m.market.index} ${side} ${o.baseLots} lots at ${formatPrice(o.priceTicks * m.market.params.tickSize)} (id ${o.orderId}) `,
                              h('button', { type: 'button', testid: 'my-order-cancel', onclick: () => void this.run(() => this.cancel({ market: m.market.index, id: o.orderId })) }, 'cancel'),
                          ),
                      )
                : [],
        );
        replace(this.myOrders, rows.length ? h('div', {}, h('h3', {}, 'Your resting orders'), h('ul', {}, ...rows)) : null);
    }

    private subAccountId(): number {
        const n = Number(this.subAccount.value || '0');
        if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error('The sub-account id is a whole number from 0 to 65535.');
        return n;
    }

    private requireSigner(): TransactionSigner {
        const s = this.signer();
        if (!s) throw new Error('No signer: enable the local keypair (localnet) or connect a wallet.');
        return s;
    }

    private requireView(): DashboardView {
        const v = this.deps.view();
        if (!v?.clearinghouse) throw new Error('No clearinghouse is loaded yet.');
        return v;
    }

    private async deposit(): Promise<void> {
        const view = this.requireView();
        const amount = parseDecimal(this.depositAmount.value, view.clearinghouse!.collateralDecimals);
        if (amount <= 0n) throw new Error('Deposit a positive amount.');
        await this.submit(await buildDeposit(view, { owner: this.requireSigner(), amount, subAccountId: this.subAccountId() }));
    }

    private async withdraw(): Promise<void> {
        const view = this.requireView();
        const amount = parseDecimal(this.withdrawAmount.value, view.clearinghouse!.collateralDecimals);
        if (amount <= 0n) throw new Error('Withdraw a positive amount.');
        await this.submit(await buildWithdraw(view, { owner: this.requireSigner(), amount, subAccountId: this.subAccountId() }));
    }

    private async placeOrder(): Promise<void> {
        const view = this.requireView();
        const marketIndex = Number(this.orderMarket.value);
        const market = view.markets.find((m) => m.market.index === marketIndex);
        if (!market) throw new Error('Choose a market.');
        const side = Number(this.orderSide.value);
        const orderType = Number(this.orderType.value);
        const tick = market.market.params.tickSize;
        let priceTicks: bigint;
        if (this.orderPrice.value.trim()) {
            priceTicks = priceToTicks(this.orderPrice.value, tick);
        } else if (orderType === ORDER_TYPE.market) {
            if (market.oracle.price === null) throw new Error("The market's oracle price is not available here: give a worst price.");
            // The fill band's edge through the oracle (`band_limit_ticks`): no fill can be worse.
            priceTicks = bandLimitTicks(market.oracle.price, tick, BigInt(view.clearinghouse!.waterfall.maxFillDeviationBps), side === SIDE_ASK);
        } else {
            throw new Error('A price is required for this order type.');
        }
        const lots = BigInt(parseDecimal(this.orderLots.value, 0));
        if (lots <= 0n) throw new Error('Order a positive number of lots.');
        const expiresIn = this.orderExpiry.value.trim() ? parseDecimal(this.orderExpiry.value, 0) : 0n;
        if (expiresIn < 0n) throw new Error('The expiry is a number of seconds from now.');
        await this.submit(
            await buildPlaceOrder(view, {
                authority: this.requireSigner(),
                subAccountId: this.subAccountId(),
                marketIndex,
                side,
                orderType,
                priceTicks,
                baseLots: lots,
                reduceOnly: this.orderReduceOnly.checked,
                expiryUnix: expiresIn > 0n ? view.unixTimestamp + expiresIn : 0n,
                clientOrderId: 0n,
            }),
        );
    }

    private async cancel(target: { market: number; id: bigint } | null): Promise<void> {
        const view = this.requireView();
        const marketIndex = target?.market ?? Number(this.cancelMarket.value);
        const orderId = target ? target.id : this.cancelOrderId.value.trim() ? parseDecimal(this.cancelOrderId.value, 0) : null;
        await this.submit(await buildCancel(view, { authority: this.requireSigner(), subAccountId: this.subAccountId(), marketIndex, orderId }));
    }

    private async airdrop(): Promise<void> {
        if (!this.local) throw new Error('No local keypair.');
        await this.deps.airdrop(this.local.signer.address, 1_000_000_000n);
        this.say(`Airdropped 1 SOL to ${this.local.signer.address}.`, false);
        void this.refreshBalances();
    }

    private lastInstructions: NamedInstruction[] = [];

    private async submit(instructions: NamedInstruction[]): Promise<void> {
        this.lastInstructions = instructions;
        const landed = await this.deps.send(this.requireSigner(), instructions);
        this.say(`Confirmed: ${instructions.map((i) => i.name).join(' + ')} — ${landed.signature}`, false, landed.signature);
    }

    private async run(action: () => Promise<void>): Promise<void> {
        if (this.busy) return;
        this.busy = true;
        this.element.classList.add('busy');
        this.lastInstructions = [];
        try {
            await action();
        } catch (e) {
            const view = this.deps.view();
            const described = describeError(e, {
                rpcUrl: this.deps.rpcUrl(),
                programAddress: view?.programAddress ?? '',
                instructionNames: instructionNames(this.lastInstructions),
            });
            this.say(described.message, true, undefined, described.logs);
            this.deps.onError(described.message);
        } finally {
            this.busy = false;
            this.element.classList.remove('busy');
        }
    }

    private say(message: string, isError: boolean, signature?: string, logs?: readonly string[]): void {
        replace(
            this.result,
            h('p', { class: isError ? 'error' : 'ok', testid: isError ? 'trade-error' : 'trade-ok', 'data-signature': signature }, message),
            logs?.length ? h('details', {}, h('summary', {}, 'program logs'), h('pre', { testid: 'trade-logs' }, logs.join('\n'))) : null,
        );
    }
}
