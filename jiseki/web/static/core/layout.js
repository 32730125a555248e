// Does the terminal's keyboard layout differ from the office PC's? Compares what the same
// physical keys type on both sides (navigator.keyboard.getLayoutMap() and KEYBOARD_LAYOUT).
// Never guesses a layout from the browser's language. Pure: node's tests check it.

// ¥ and \ are one key on JIS keyboards; fonts and layouts name it either way.
const same = (a, b) => a === b || (/^[\\¥]$/.test(a) && /^[\\¥]$/.test(b));

/**
 * The keys (DOM codes) that type different characters on the terminal and on the host, comparing
 * only keys both sides know. `terminalMap`: Map code -> character; `hostLayout`: KEYBOARD_LAYOUT;
 * `codeOfUsageId`: Map keyboard-page usage id -> DOM code.
 */
export function layoutDifferences(terminalMap, hostLayout, codeOfUsageId) {
  const differ = [];
  for (const { usage_id: usageId, codepoint } of hostLayout.keys) {
    const code = codeOfUsageId.get(usageId);
    if (code === undefined || !terminalMap.has(code)) continue;
    const terminal = String(terminalMap.get(code)).toLowerCase();
    const host = String.fromCodePoint(codepoint).toLowerCase();
    if (!same(terminal, host)) differ.push({ code, terminal, host });
  }
  return differ;
}

// Names a person knows a layout by, from the name the agent reports: XKB "model/layout(variant)"
// ("jp106/jp", "pc105/us") or a Windows keyboard layout id ("00000411"). Keys into the viewer's
// translated strings; an unknown layout is shown by its name.
const XKB_LAYOUTS = new Set(['jp', 'us', 'gb', 'de', 'fr', 'kr']);
const WINDOWS_LANGIDS = { '0411': 'jp', '0409': 'us', '0809': 'gb', '0407': 'de', '040c': 'fr', '0412': 'kr' };

/** { key: 'layout.jp', variant } for a layout we can name, or null. */
export function layoutLabel(name) {
  if (/^[0-9a-f]{8}$/i.test(name)) {
    const code = WINDOWS_LANGIDS[name.slice(4).toLowerCase()];
    return code && /^0000/.test(name) ? { key: `layout.${code}`, variant: '' } : null;
  }
  const m = /^(?:[\w-]+\/)?([a-z]+)(?:\(([\w-]+)\))?$/.exec(name);
  if (!m || !XKB_LAYOUTS.has(m[1])) return null;
  return { key: `layout.${m[1]}`, variant: m[2] ?? '' };
}
