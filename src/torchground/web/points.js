// Data on canvases: the points over the output heat map (training points with a white
// rim, validation grey, test black, as in the Playground), and the data-set thumbnails
// from points the server makes with the data sets' own generators.

import { cssColour } from "./heatmap.js";

const RIM = { train: "#ffffff", val: "#777777", test: "#000000" };

/** Draw `data` ({train, val, test}: [[x1, x2, label], …]) on `canvas` (plane [-6, 6]²). */
export function drawPoints(canvas, data, show) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 300;
  const h = canvas.clientHeight || 300;
  if (canvas.width !== Math.round(w * dpr)) canvas.width = Math.round(w * dpr);
  if (canvas.height !== Math.round(h * dpr)) canvas.height = Math.round(h * dpr);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  if (!data) return;
  const r = Math.max(2, w / 100);
  for (const set of ["train", "val", "test"]) {
    if (!show[set] || !data[set]) continue;
    ctx.strokeStyle = RIM[set];
    ctx.lineWidth = 1;
    for (const [x1, x2, label] of data[set]) {
      const px = ((x1 + 6) / 12) * w;
      const py = ((6 - x2) / 12) * h;
      ctx.beginPath();
      ctx.arc(px, py, r, 0, 2 * Math.PI);
      ctx.fillStyle = cssColour(label);
      ctx.fill();
      ctx.stroke();
    }
  }
}

/**
 * Draw a data set's thumbnail on a small canvas: `points` ([[x1, x2, label], …] in
 * [-6, 6]²) are the server's (/api/meta, `thumbnails`), made by the data set's own
 * generator; regression values are drawn a little stronger to show on 48 pixels.
 */
export function drawThumbnail(canvas, points, problem) {
  const n = 48;
  canvas.width = n;
  canvas.height = n;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, n, n);
  if (!points) return;
  for (const [x, y, v] of points) {
    ctx.fillStyle = cssColour(problem === "regression" ? v * 1.5 : v);
    ctx.beginPath();
    ctx.arc(((x + 6) / 12) * n, ((6 - y) / 12) * n, 1.4, 0, 2 * Math.PI);
    ctx.fill();
  }
}
