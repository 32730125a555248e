// Clipboard sharing, only in the directions the session's policy allows (the gateway and the
// agent enforce the policy again; this side just does not offer what would be dropped).
// Terminal → PC: when the page gains focus, the terminal's clipboard text is sent if it changed.
// PC → terminal: text the PC copied is written to the terminal's clipboard.

export class ClipboardShare {
  constructor(mode, send) {
    this.toHost = mode === 'to_host' || mode === 'both';
    this.toTerminal = mode === 'to_terminal' || mode === 'both';
    this.send = send;
    this.lastSent = null;
    this.lastReceived = null;
  }

  async onFocus() {
    if (!this.toHost || !navigator.clipboard?.readText) return;
    try {
      const text = await navigator.clipboard.readText();
      if (text && text !== this.lastSent && text !== this.lastReceived) {
        this.lastSent = text;
        this.send({ type: 'CLIPBOARD', text });
      }
    } catch {
      // Permission refused or the page not focused: nothing is shared.
    }
  }

  async fromHost(text) {
    if (!this.toTerminal || !navigator.clipboard?.writeText) return;
    this.lastReceived = text;
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Not focused or not permitted: the text is not written anywhere else.
    }
  }
}
