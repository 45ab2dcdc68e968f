// The output map's axes: five ticks along x (below the map) and y (left of it), in the data's
// own units (the Playground's [-6, 6] box, or a data file's extent).

/** Five evenly spaced values from lo to hi. */
export function ticks(lo, hi, n = 5) {
  return Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
}

function label(v) {
  const r = Math.abs(v) >= 100 ? v.toFixed(0) : Number(v.toPrecision(3)).toString();
  return r === "-0" ? "0" : r;
}

/** Put tick labels for x in [x0, x1] and y in [y0, y1] around `heat` (the map's box). */
export function drawAxes(heat, [x0, x1], [y0, y1]) {
  for (const old of heat.querySelectorAll(".tick")) old.remove();
  ticks(x0, x1).forEach((v, i) => {
    const el = document.createElement("span");
    el.className = "tick tick-x";
    el.style.left = `${(100 * i) / 4}%`;
    el.textContent = label(v);
    heat.append(el);
  });
  ticks(y0, y1).forEach((v, i) => {
    const el = document.createElement("span");
    el.className = "tick tick-y";
    el.style.bottom = `${(100 * i) / 4}%`;
    el.textContent = label(v);
    heat.append(el);
  });
}
