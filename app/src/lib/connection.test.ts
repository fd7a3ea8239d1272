import { describe, expect, it } from 'vitest';

import { deriveWsUrl, settingsFromQuery, wrongClusterMessage } from './connection';

describe('connection settings', () => {
    it('derives the WebSocket URL from the RPC URL', () => {
        expect(deriveWsUrl('http://127.0.0.1:8899')).toBe('ws://127.0.0.1:8900/');
        expect(deriveWsUrl('http://127.0.0.1:8899', true)).toBe('ws://127.0.0.1:8899/');
        expect(deriveWsUrl('https://api.devnet.solana.com')).toBe('wss://api.devnet.solana.com/');
    });

    it('reads ?rpc= and ?ws=, resolving a relative URL against the page', () => {
        const page = 'http://localhost:5173/';
        expect(settingsFromQuery('', page)).toMatchObject({ rpcUrl: 'http://127.0.0.1:8899/', wsUrl: 'ws://127.0.0.1:8900/', wsExplicit: false });
        // Through the dev proxy: same origin, same port for the socket.
        expect(settingsFromQuery('?rpc=/rpc', page)).toMatchObject({ rpcUrl: 'http://localhost:5173/rpc', wsUrl: 'ws://localhost:5173/rpc' });
        expect(settingsFromQuery('?rpc=http://10.0.0.5:8899&ws=ws://10.0.0.5:8899&clearinghouse=Abc', page)).toMatchObject({
            wsUrl: 'ws://10.0.0.5:8899/',
            wsExplicit: true,
            clearinghouse: 'Abc',
        });
        expect(settingsFromQuery('', page, { rpc: 'https://api.devnet.solana.com' }).rpcUrl).toBe('https://api.devnet.solana.com/');
    });

    it('says when the program is not on the node', () => {
        const base = { genesisHash: 'EtWTRABZaYq6iMfeYKouRu166VU2xqa1wcaWoxPkrZBG', publicCluster: 'devnet' as const, programExecutable: false };
        expect(wrongClusterMessage({ ...base, programFound: true }, 'P')).toBeNull();
        expect(wrongClusterMessage({ ...base, programFound: false }, 'Prog')).toBe(
            'No program at Prog on this node (devnet): either this is the wrong cluster or Bulwark is not deployed here at the address its IDL names.',
        );
    });
});
