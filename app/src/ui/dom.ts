// A few lines of DOM building instead of a framework: panels are re-rendered whole on every
// refresh, and forms are built once so typing is never interrupted.

type Child = Node | string | number | bigint | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
        if (value === null || value === undefined || value === false) continue;
        if (key.startsWith('on') && typeof value === 'function') {
            el.addEventListener(key.slice(2).toLowerCase(), value as EventListener);
        } else if (key === 'testid') {
            el.dataset.testid = String(value);
        } else if (value === true) {
            el.setAttribute(key, '');
        } else {
            el.setAttribute(key, String(value));
        }
    }
    append(el, ...children);
    return el;
}

export function append(parent: Element, ...children: Child[]): void {
    for (const child of children) {
        if (child === null || child === undefined || child === false) continue;
        parent.append(child instanceof Node ? child : String(child));
    }
}

/** Replace `parent`'s content. */
export function replace(parent: Element, ...children: Child[]): void {
    parent.replaceChildren();
    append(parent, ...children);
}

/** A table with a header row and body rows. */
export function table(testid: string, headers: Array<string | Node>, rows: HTMLTableRowElement[], empty: string): HTMLElement {
    if (rows.length === 0) return h('p', { class: 'empty', testid: `${testid}-empty` }, empty);
    return h(
        'table',
        { testid },
        h('thead', {}, h('tr', {}, ...headers.map((x) => h('th', {}, x)))),
        h('tbody', {}, ...rows),
    );
}

export const shortAddress = (a: string): string => (a.length > 12 ? `${a.slice(0, 4)}…${a.slice(-4)}` : a);

/** An address shown short, with the whole address on hover and for copying. */
export const addressCell = (a: string, testid?: string) => h('span', { class: 'address', title: a, testid }, shortAddress(a));
