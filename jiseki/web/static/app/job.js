// A background job's page: polls /admin/jobs/{id}/progress and moves the progress bar; when the job
// has ended, the page is loaded again to show what it did. Without JavaScript, reloading does the same.

const POLL_MS = 1000;

function start(panel) {
  const url = panel.dataset.progress;
  const bar = document.getElementById('job-progress');
  const percent = document.getElementById('job-percent');
  const done = document.getElementById('job-done');
  const tick = async () => {
    try {
      const response = await fetch(url, { cache: 'no-store', credentials: 'same-origin' });
      if (response.redirected || !response.ok) {
        return; // logged out or no longer allowed: leave the page as it is
      }
      const job = await response.json();
      bar.max = Math.max(job.total, 1);
      bar.value = job.done;
      percent.textContent = `${job.percent}%`;
      done.textContent = job.done.toLocaleString();
      if (job.state === 'done' || job.state === 'failed') {
        window.location.reload();
        return;
      }
    } catch {
      // the network is away for a moment; try again
    }
    setTimeout(tick, POLL_MS);
  };
  setTimeout(tick, POLL_MS);
}

const panel = document.getElementById('job');
if (panel) {
  start(panel);
}
