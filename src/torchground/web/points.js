// Data on canvases: the points over the output heat map (training points with a white
// rim, validation grey, test black, as in the Playground), and the six data-set
// thumbnails, drawn from a fixed pseudo-random stream so they look the same every time.

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

// A small deterministic generator (mulberry32) for the thumbnails.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(rand) {
  const u = 1 - rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

// name → list of [x, y, value] in [-6, 6]².
const SAMPLES = {
  circle(rand) {
    return Array.from({ length: 120 }, (_, i) => {
      const r = i % 2 ? 3.5 + 1.5 * rand() : 2.5 * rand();
      const a = 2 * Math.PI * rand();
      return [r * Math.sin(a), r * Math.cos(a), i % 2 ? -1 : 1];
    });
  },
  xor(rand) {
    return Array.from({ length: 120 }, () => {
      let x = 10 * rand() - 5;
      let y = 10 * rand() - 5;
      x += x > 0 ? 0.3 : -0.3;
      y += y > 0 ? 0.3 : -0.3;
      return [x, y, x * y >= 0 ? 1 : -1];
    });
  },
  gauss(rand) {
    return Array.from({ length: 120 }, (_, i) => {
      const c = i % 2 ? -2 : 2;
      return [c + gaussian(rand) * 0.8, c + gaussian(rand) * 0.8, i % 2 ? -1 : 1];
    });
  },
  spiral(rand) {
    const out = [];
    for (let k = 0; k < 2; k++) {
      for (let i = 0; i < 60; i++) {
        const r = (5 * i) / 60;
        const t = (1.75 * 2 * Math.PI * i) / 60 + k * Math.PI;
        out.push([r * Math.sin(t) + 0.2 * (rand() - 0.5), r * Math.cos(t) + 0.2 * (rand() - 0.5), k ? -1 : 1]);
      }
    }
    return out;
  },
  "reg-plane"(rand) {
    return Array.from({ length: 150 }, () => {
      const x = 12 * rand() - 6;
      const y = 12 * rand() - 6;
      return [x, y, (x + y) / 10];
    });
  },
  "reg-gauss"(rand) {
    const centres = [[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]];
    return Array.from({ length: 150 }, () => {
      const x = 12 * rand() - 6;
      const y = 12 * rand() - 6;
      let best = 0;
      for (const [cx, cy, s] of centres) {
        const v = s * Math.max(0, 1 - Math.hypot(x - cx, y - cy) / 2);
        if (Math.abs(v) > Math.abs(best)) best = v;
      }
      return [x, y, best];
    });
  },
};

/** Draw the thumbnail of data set `name` on a small canvas. */
export function drawThumbnail(canvas, name) {
  const make = SAMPLES[name];
  const n = 48;
  canvas.width = n;
  canvas.height = n;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, n, n);
  if (!make) return;
  for (const [x, y, v] of make(rng(7))) {
    ctx.fillStyle = cssColour(name.startsWith("reg-") ? v * 1.5 : v);
    ctx.beginPath();
    ctx.arc(((x + 6) / 12) * n, ((6 - y) / 12) * n, 1.4, 0, 2 * Math.PI);
    ctx.fill();
  }
}
