// The box in a list's header ticks or clears every row box of the page (the bulk action's form).
// Without JavaScript the rows are ticked one by one, or "all matching the search" is chosen.

document.addEventListener('change', (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || !box.dataset.selectAll) return;
  const rows = document.querySelectorAll(`input[type=checkbox][name=id][form="${box.dataset.selectAll}"]`);
  for (const row of rows) row.checked = box.checked;
});
