// Which node the dashboard talks to, and whether it is the cluster the IDL's program lives on.

import type { Address } from '@solana/kit';

export const DEFAULT_RPC_URL = 'http://127.0.0.1:8899';

/** Genesis hashes of the public clusters. */
export const KNOWN_CLUSTERS: Record<string, 'mainnet-beta' | 'devnet' | 'testnet'> = {
    '5eykt4UsFv8P8NJdTREpY1vzqKqZKvdpKuc147dw2N9d': 'mainnet-beta',
    EtWTRABZaYq6iMfeYKouRu166VU2xqa1wcaWoxPkrZBG: 'devnet',
    '4uhcVJyU9pJkvQyS88uRDiswHXSCkY3zQawwpjk2NsNY': 'testnet',
};

/** An absolute http(s) URL for `rpc` (a relative one, such as the dev proxy's `/rpc`, resolves against the page). */
export function absoluteUrl(rpc: string, base: string): string {
    return new URL(rpc, base).toString();
}

/**
 * The WebSocket URL for an RPC URL: ws(s) for http(s), and a validator's convention of the RPC
 * port + 1 (8899 → 8900). A URL without a port (a hosted RPC, or the dev proxy) keeps the
 * same host and path. `samePort` keeps the port (bulwark-localnet serves subscriptions on its
 * HTTP port as well as on the port + 1).
 */
export function deriveWsUrl(rpcUrl: string, samePort = false): string {
    const url = new URL(rpcUrl);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    if (url.port && !samePort) url.port = String(Number(url.port) + 1);
    return url.toString();
}

export type ConnectionSettings = { rpcUrl: string; wsUrl: string; wsExplicit: boolean; clearinghouse: Address | null };

/** Settings from the page's query (`?rpc=…&ws=…&clearinghouse=…`), else what was saved, else the defaults. */
export function settingsFromQuery(search: string, pageUrl: string, saved: Partial<Record<'rpc' | 'ws', string>> = {}): ConnectionSettings {
    const params = new URLSearchParams(search);
    const rpc = params.get('rpc') || saved.rpc || DEFAULT_RPC_URL;
    const rpcUrl = absoluteUrl(rpc, pageUrl);
    const wsParam = params.get('ws') || saved.ws || '';
    // A relative RPC URL goes through the page's own server (the dev proxy), which forwards
    // WebSocket upgrades on the same port.
    const viaPageServer = !/^[a-z]+:/i.test(rpc);
    return {
        rpcUrl,
        wsUrl: wsParam ? absoluteUrl(wsParam, pageUrl).replace(/^http/, 'ws') : deriveWsUrl(rpcUrl, viaPageServer),
        wsExplicit: Boolean(wsParam),
        clearinghouse: (params.get('clearinghouse') || null) as Address | null,
    };
}

export type ClusterInfo = {
    genesisHash: string;
    /** A public cluster's name, or `null` for a local or private one. */
    publicCluster: (typeof KNOWN_CLUSTERS)[string] | null;
    programFound: boolean;
    programExecutable: boolean;
};

export function clusterLabel(info: ClusterInfo): string {
    return info.publicCluster ?? `local or private cluster (genesis ${info.genesisHash.slice(0, 8)}…)`;
}

/** The sentence for a node where the IDL's program is missing; `null` when it is there. */
export function wrongClusterMessage(info: ClusterInfo, programAddress: string): string | null {
    if (info.programFound) return null;
    return (
        `No program at ${programAddress} on this node (${clusterLabel(info)}): either this is the wrong cluster ` +
        'or Bulwark is not deployed here at the address its IDL names.'
    );
}
