#!/usr/bin/env node
// Generates the typed @solana/kit client in src/generated/ from the program's Anchor IDL.
//
//   node scripts/generate-client.mjs            write src/generated/
//   node scripts/generate-client.mjs --check    regenerate into a temporary folder and fail
//                                               (exit 1) when src/generated/ differs
//
// The IDL is ../idl/bulwark.json unless `--idl PATH` or the BULWARK_IDL environment variable
// names another one. The script is idempotent: rerun it whenever the IDL changes (new
// accounts such as an ADL round, new events, new errors) and commit the result.
//
// Versions: @codama/renderers-js 2.2 builds each instruction's extra-arguments struct with
// `structTypeNode`, which @codama/nodes 1.10 and later leave without a `fields` array when it
// is empty; the renderer then fails on the first instruction without extra arguments (all of
// Bulwark's). package.json therefore pins the Codama family to 1.9.0 through `overrides`
// (nodes-from-anchor 1.5.2 and renderers-core 1.3.10 are the releases built on it).

import { existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { rootNodeFromAnchor } from '@codama/nodes-from-anchor';
import { renderVisitor } from '@codama/renderers-js';
import { camelCase, createFromRoot, definedTypeNode, isNode, pascalCase, programNode } from 'codama';

const APP_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const GENERATED = 'src/generated';
const EXTRAS_FILE = 'bulwarkIdl.ts';
const DEFAULT_IDL = resolve(APP_DIR, '../idl/bulwark.json');

function parseArgs(argv) {
    const args = { check: false, idl: process.env.BULWARK_IDL ? resolve(process.env.BULWARK_IDL) : DEFAULT_IDL };
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === '--check') args.check = true;
        else if (argv[i] === '--idl') args.idl = resolve(argv[++i] ?? '');
        else throw new Error(`unknown argument ${argv[i]} (expected --check and/or --idl PATH)`);
    }
    return args;
}

/**
 * Codama (nodes-from-anchor 1.5) turns Anchor events into `eventNode`s and drops their structs
 * from the defined types, and renderers-js 2.2 renders no event nodes: without this step the
 * client would have no decoder for any event. Each event's struct (its data after the 8-byte
 * discriminator) becomes a defined type of the same name, so `get<Event>Decoder` is rendered
 * like any other type. The discriminators go into the extras file below.
 */
function withEventTypes(root) {
    const program = root.program;
    const taken = new Set(program.definedTypes.map((t) => t.name));
    const eventTypes = (program.events ?? [])
        .filter((event) => !taken.has(event.name))
        .map((event) => {
            const data = isNode(event.data, 'hiddenPrefixTypeNode') ? event.data.type : event.data;
            return definedTypeNode({ name: event.name, type: data, docs: event.docs ?? [] });
        });
    return { ...root, program: programNode({ ...program, definedTypes: [...program.definedTypes, ...eventTypes] }) };
}

/**
 * Bulwark's accounts are zero-copy (`#[account(zero_copy)]`, bytemuck `Pod`, `repr(C)`), but
 * Codama reads every struct as packed Borsh data. The two agree only when the C layout has no
 * implicit padding, which `Pod` guarantees today (and why 128-bit values are stored as two
 * u64 halves). This check keeps that assumption visible: a `bytemuck` type whose C layout would
 * pad (a field out of alignment, or a size that is not a multiple of its alignment) stops the
 * generation instead of producing decoders that read the wrong bytes.
 */
function checkZeroCopyLayouts(idl) {
    const types = new Map((idl.types ?? []).map((t) => [t.name, t]));
    const primitive = { bool: 1, u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, u64: 8, i64: 8, f64: 8, u128: 16, i128: 16 };
    const layout = (type) => {
        if (typeof type === 'string') {
            if (type === 'pubkey') return { size: 32, align: 1 };
            if (primitive[type]) return { size: primitive[type], align: primitive[type] };
            throw new Error(`zero-copy type uses ${type}, which has no fixed layout`);
        }
        if (type.array) {
            const inner = layout(type.array[0]);
            return { size: inner.size * type.array[1], align: inner.align };
        }
        if (type.defined) return structLayout(types.get(type.defined.name ?? type.defined));
        throw new Error(`zero-copy type uses ${JSON.stringify(type)}, which has no fixed layout`);
    };
    const structLayout = (def) => {
        if (!def || def.type.kind !== 'struct') throw new Error(`zero-copy type ${def?.name} is not a struct`);
        let offset = 0;
        let align = 1;
        for (const field of def.type.fields ?? []) {
            const f = layout(field.type);
            if (offset % f.align !== 0) {
                throw new Error(`${def.name}.${field.name} sits at offset ${offset}, not a multiple of its alignment ${f.align}: the C layout pads here and packed decoding would be wrong`);
            }
            offset += f.size;
            align = Math.max(align, f.align);
        }
        if (offset % align !== 0) throw new Error(`${def.name} is ${offset} bytes, not a multiple of its alignment ${align}: the C layout pads its tail`);
        return { size: offset, align };
    };
    for (const t of idl.types ?? []) if (t.serialization === 'bytemuck') structLayout(t);
}

const bytes = (list) => `new Uint8Array([${list.join(', ')}])`;
const quote = (text) => JSON.stringify(text);

/**
 * What the renderer does not emit in a form the dashboard can use: the discriminators of
 * every account and event next to their decoders (so logs and getProgramAccounts results can
 * be dispatched by their first 8 bytes, and an account added to the IDL later, such as an ADL
 * round, shows up without hand edits), and the error table with messages in every build
 * (the rendered error messages exist only outside production builds).
 */
function renderExtras(idl) {
    const accounts = (idl.accounts ?? []).map((a) => ({ name: a.name, discriminator: a.discriminator }));
    const events = (idl.events ?? []).map((e) => ({ name: e.name, discriminator: e.discriminator }));
    const errors = (idl.errors ?? []).map((e) => ({ code: e.code, name: e.name, msg: e.msg ?? '' }));
    const accountDecoders = accounts.map((a) => `get${pascalCase(a.name)}Decoder`);
    const eventDecoders = events.map((e) => `get${pascalCase(e.name)}Decoder`);
    const lines = [
        '/**',
        ' * Generated by scripts/generate-client.mjs from the Anchor IDL. Do not edit: rerun',
        ' * `npm run generate`.',
        ' */',
        '',
        "import type { Decoder } from '@solana/kit';",
        '',
    ];
    const importList = (names, from) => (names.length ? ['import {', ...names.map((n) => `    ${n},`), `} from '${from}';`] : []);
    lines.push(...importList(accountDecoders, './accounts'), ...importList(eventDecoders, './types'));
    lines.push(
        '',
        `export const IDL_PROGRAM_ADDRESS = ${quote(idl.address)};`,
        `export const IDL_PROGRAM_NAME = ${quote(idl.metadata?.name ?? '')};`,
        `export const IDL_PROGRAM_VERSION = ${quote(idl.metadata?.version ?? '')};`,
        '',
        'export type IdlEntry = {',
        '    name: string;',
        '    discriminator: Uint8Array;',
        '    // Decodes the whole data, discriminator included (accounts) or after it (events).',
        '    getDecoder: () => Decoder<object>;',
        '};',
        '',
        '/** Every account type of the IDL; decoders read the discriminator too. */',
        'export const IDL_ACCOUNTS: readonly IdlEntry[] = [',
        ...accounts.map(
            (a, i) =>
                `    { name: ${quote(a.name)}, discriminator: ${bytes(a.discriminator)}, getDecoder: ${accountDecoders[i]} },`,
        ),
        '];',
        '',
        '/** Every event of the IDL; decoders read the data after the 8-byte discriminator. */',
        'export const IDL_EVENTS: readonly IdlEntry[] = [',
        ...events.map(
            (e, i) =>
                `    { name: ${quote(e.name)}, discriminator: ${bytes(e.discriminator)}, getDecoder: ${eventDecoders[i]} },`,
        ),
        '];',
        '',
        'export type IdlError = { code: number; name: string; msg: string };',
        '',
        '/** The program\'s custom errors (codes from 6000), with the messages the program defines. */',
        'export const IDL_ERRORS: readonly IdlError[] = [',
        ...errors.map((e) => `    { code: ${e.code}, name: ${quote(e.name)}, msg: ${quote(e.msg)} },`),
        '];',
        '',
    );
    return lines.join('\n');
}

async function generate(idlPath, packageDir) {
    const idl = JSON.parse(readFileSync(idlPath, 'utf8'));
    checkZeroCopyLayouts(idl);
    const codama = createFromRoot(withEventTypes(rootNodeFromAnchor(idl)));
    await codama.accept(
        renderVisitor(packageDir, {
            generatedFolder: GENERATED,
            deleteFolderBeforeRendering: true,
            // This package.json pins its own dependencies: the renderer must not rewrite it.
            syncPackageJson: false,
            // Import everything from @solana/kit (one dependency, one version).
            kitImportStrategy: 'rootOnly',
        }),
    );
    patchPluginReturnType(join(packageDir, GENERATED, 'programs', `${camelCase(idl.metadata?.name ?? 'program')}.ts`));
    writeFileSync(join(packageDir, GENERATED, EXTRAS_FILE), renderExtras(idl));
}

/**
 * renderers-js 2.2 annotates the program plugin's return type as `Omit<T, "x"> & { x: Plugin }`,
 * which @solana/kit's `extendClient` (returning `ExtendedClient<T, …>`, a mapped type) does not
 * satisfy for a generic `T`: the generated file fails `tsc --strict`. Dropping the annotation
 * lets TypeScript infer kit's own return type; nothing else changes. No node visitor can reach
 * this (it is the renderer's text, not the IDL's shape), so it is patched here, and the script
 * fails if the renderer's output no longer has the expected form.
 */
function patchPluginReturnType(file) {
    const source = readFileSync(file, 'utf8');
    const annotation = /\)\s*:\s*Omit<T, "(\w+)">\s*&\s*\{\s*\1: \w+\s*\}\s*=>\s*\{/g;
    const matches = source.match(annotation) ?? [];
    if (matches.length !== 1) {
        throw new Error(
            `${file}: expected one plugin return-type annotation to patch, found ${matches.length}; ` +
                'the renderer changed, revisit patchPluginReturnType in scripts/generate-client.mjs',
        );
    }
    writeFileSync(file, source.replace(annotation, ') => {'));
}

function listFiles(dir) {
    if (!existsSync(dir)) return [];
    const out = [];
    const walk = (d) => {
        for (const entry of readdirSync(d)) {
            const path = join(d, entry);
            if (statSync(path).isDirectory()) walk(path);
            else out.push(relative(dir, path));
        }
    };
    walk(dir);
    return out.sort();
}

function compareTrees(expectedDir, actualDir) {
    const expected = listFiles(expectedDir);
    const actual = listFiles(actualDir);
    const actualSet = new Set(actual);
    const expectedSet = new Set(expected);
    const changed = [];
    const missing = [];
    const extra = [];
    for (const file of expected) {
        if (!actualSet.has(file)) missing.push(file);
        else if (!readFileSync(join(expectedDir, file)).equals(readFileSync(join(actualDir, file)))) changed.push(file);
    }
    for (const file of actual) if (!expectedSet.has(file)) extra.push(file);
    return { changed, missing, extra };
}

async function main() {
    const args = parseArgs(process.argv.slice(2));
    if (!existsSync(args.idl)) throw new Error(`no IDL at ${args.idl}`);
    const idlShown = args.idl === DEFAULT_IDL ? '../idl/bulwark.json' : args.idl;
    if (!args.check) {
        await generate(args.idl, APP_DIR);
        console.log(`generated ${GENERATED}/ from ${idlShown} (${listFiles(join(APP_DIR, GENERATED)).length} files)`);
        return;
    }
    const scratch = mkdtempSync(join(tmpdir(), 'bulwark-client-'));
    try {
        mkdirSync(join(scratch, 'src'), { recursive: true });
        await generate(args.idl, scratch);
        const { changed, missing, extra } = compareTrees(join(scratch, GENERATED), join(APP_DIR, GENERATED));
        const stale = changed.length + missing.length + extra.length;
        if (stale === 0) {
            console.log(`${GENERATED}/ is up to date with ${idlShown}`);
            return;
        }
        const show = (label, files) => files.forEach((f) => console.error(`  ${label} ${GENERATED}/${f}`));
        console.error(`${GENERATED}/ is stale: it does not match what ${idlShown} generates (${stale} files).`);
        show('changed:', changed);
        show('missing:', missing);
        show('not generated any more:', extra);
        const command =
            args.idl === DEFAULT_IDL
                ? 'npm --prefix app run generate'
                : `npm --prefix app run generate -- --idl ${args.idl}`;
        console.error(`Fix: run \`${command}\` and commit app/${GENERATED}/.`);
        process.exitCode = 1;
    } finally {
        rmSync(scratch, { recursive: true, force: true });
    }
}

main().catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 2;
});
