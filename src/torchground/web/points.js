// Data on canvases: the points over the output heat map (training points with a white
// rim, validation grey, test black, as in the Playground), and the data-set thumbnails
// from points the server makes with the data sets' own generators.

import { cssColour } from "./heatmap.js";
import { CLASS_COLOURS } from "./owndata.js";

const RIM = { train: "#ffffff", val: "#777777", test: "#000000" };

/**
 * Draw `data` ({train, val, test}: [[x1, x2, label], …]) on `canvas`: the plane [-6, 6]², or
 * `view.box` (a data file's extent); K classes (`view.classes` > 2) in their class colours.
 * `pending` ([[x1, x2, class index]]) are clicked points not yet trained on (drawn larger).
 */
export function drawPoints(canvas, data, show, view = null, pending = []) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 300;
  const h = canvas.clientHeight || 300;
  if (canvas.width !== Math.round(w * dpr)) canvas.width = Math.round(w * dpr);
  if (canvas.height !== Math.round(h * dpr)) canvas.height = Math.round(h * dpr);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const [bx0, bx1, by0, by1] = (view && view.box) || [-6, 6, -6, 6];
  const many = view && view.classes > 2;
  const colour = (label) => (many ? CLASS_COLOURS[label] || "#000" : cssColour(label));
  const r = Math.max(2, w / 100);
  for (const set of ["train", "val", "test"]) {
    if (!data || !show[set] || !data[set]) continue;
    ctx.strokeStyle = RIM[set];
    ctx.lineWidth = 1;
    for (const [x1, x2, label] of data[set]) {
      const px = ((x1 - bx0) / (bx1 - bx0)) * w;
      const py = ((by1 - x2) / (by1 - by0)) * h;
      ctx.beginPath();
      ctx.arc(px, py, r, 0, 2 * Math.PI);
      ctx.fillStyle = colour(label);
      ctx.fill();
      ctx.stroke();
    }
  }
  ctx.strokeStyle = "#000000";
  for (const [a, b, k] of pending) {
    ctx.beginPath();
    ctx.arc(((a - bx0) / (bx1 - bx0)) * w, ((by1 - b) / (by1 - by0)) * h, r * 1.6, 0, 2 * Math.PI);
    ctx.fillStyle = CLASS_COLOURS[k] || "#000";
    ctx.fill();
    ctx.stroke();
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
  const many = problem === "classification" && points.some((p) => p[2] > 1); // K classes: indices 0 … K-1
  for (const [x, y, v] of points) {
    ctx.fillStyle = many ? CLASS_COLOURS[v] || "#000" : cssColour(problem === "regression" ? v * 1.5 : v);
    ctx.beginPath();
    ctx.arc(((x + 6) / 12) * n, ((6 - y) / 12) * n, 1.4, 0, 2 * Math.PI);
    ctx.fill();
  }
}
