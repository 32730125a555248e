// 電源オン (Wake-on-LAN) on My office PCs: a button marked data-wake="/pcs/{id}/wake" asks the
// gateway to send the magic packet, then polls the same URL until the PC is online or 3 minutes
// have passed. The texts come translated in the button's data attributes. Clicks are caught on the
// document, because refresh.js renders the table again now and then.

const POLL_SECONDS = 5;
const TIMEOUT_SECONDS = 180;

function show(text, kind) {
  const status = document.getElementById('wake-status');
  if (!status) return;
  status.textContent = text;
  status.className = kind;
  status.hidden = false;
}

async function wake(button) {
  const url = button.dataset.wake;
  const texts = { ...button.dataset };
  button.disabled = true;
  const csrf = document.querySelector('input[name=csrf_token]')?.value ?? '';
  let answer;
  try {
    const response = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: '{}',
    });
    answer = await response.json();
  } catch {
    answer = { ok: false, message: texts.failed };
  }
  if (!answer.ok) {
    show(answer.message || texts.failed, 'error');
    button.disabled = false;
    return;
  }
  show(texts.waiting, 'waiting');
  const started = Date.now();
  const poll = async () => {
    try {
      const response = await fetch(url, { cache: 'no-store', credentials: 'same-origin' });
      if (response.ok && (await response.json()).online) {
        show(texts.online, 'ok');
        window.location.reload();
        return;
      }
    } catch {
      // the network is away for a moment; try again at the next tick
    }
    if (Date.now() - started > TIMEOUT_SECONDS * 1000) {
      show(texts.timeout, 'error');
      button.disabled = false;
      return;
    }
    setTimeout(poll, POLL_SECONDS * 1000);
  };
  setTimeout(poll, POLL_SECONDS * 1000);
}

document.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-wake]');
  if (button) wake(button);
});
