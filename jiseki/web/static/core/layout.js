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
