import { defineConfig } from 'vitest/config';

// bulwark-localnet answers JSON-RPC without CORS headers, so a page served by Vite cannot call
// it directly: the dev and preview servers forward /rpc (HTTP and WebSocket) to the node named
// by BULWARK_RPC_PROXY (default the localnet's http://127.0.0.1:8899). Use `?rpc=/rpc`.
const target = process.env.BULWARK_RPC_PROXY ?? 'http://127.0.0.1:8899';
const proxy = {
    '/rpc': { target, changeOrigin: true, ws: true, rewrite: (path: string) => path.replace(/^\/rpc/, '') || '/' },
};

export default defineConfig(({ mode }) => ({
    server: { proxy },
    preview: { proxy },
    define: {
        // The generated error module reads process.env.NODE_ENV, which browsers do not have.
        'process.env.NODE_ENV': JSON.stringify(mode === 'production' ? 'production' : 'development'),
    },
    build: { target: 'es2022', sourcemap: true },
    test: {
        include: ['src/**/*.test.ts'],
    },
}));
