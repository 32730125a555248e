// Keeps the parts of a page marked data-refresh="URL" current: every data-interval seconds the
// server renders the part again. Paused while the tab is hidden or the keyboard focus is inside
// the part (so nothing moves under the user's hands). Without JavaScript the page still works.

const MIN_INTERVAL = 5;

function start(el) {
  const url = el.dataset.refresh;
  const seconds = Math.max(MIN_INTERVAL, Number(el.dataset.interval) || 30);
  let timer = null;
  const tick = async () => {
    // Not while rows are ticked for a bulk action either: a new rendering would clear the boxes.
    const ticked = el.querySelector('input[type=checkbox]:checked');
    if (document.visibilityState === 'visible' && !el.contains(document.activeElement) && !ticked) {
      try {
        const response = await fetch(url, { cache: 'no-store', credentials: 'same-origin' });
        if (response.redirected || !response.ok) {
          clearInterval(timer); // logged out or no longer allowed: leave the page as it is
          return;
        }
        el.innerHTML = await response.text();
      } catch {
        // the network is away for a moment; try again at the next tick
      }
    }
  };
  timer = setInterval(tick, seconds * 1000);
}

document.querySelectorAll('[data-refresh]').forEach(start);
