// Colours and heat maps: the Playground's orange (−1) / light grey (0) / blue (+1) scale,
// and small canvases that draw the server's byte maps with one putImageData each.
//
// A map is {size: n, data: base64 of n·n bytes}, row 0 at the top (y = +6), byte b
// standing for b/127.5 − 1. Each HeatMap keeps its ImageData, a Uint32 view of its
// pixels and a byte buffer, so a frame costs one atob, one table look-up per pixel and
// one putImageData; the canvas is n×n pixels and CSS scales it.

export const ORANGE = [245, 147, 34]; // #f59322, −1
export const GREY = [232, 234, 235]; // #e8eaeb, 0
export const BLUE = [8, 119, 189]; // #0877bd, +1

/** [r, g, b] of value v (clipped to [-1, 1]) on the orange–grey–blue scale. */
export function rgbOf(v) {
  const x = v > 1 ? 1 : v < -1 ? -1 : v || 0;
  const [a, b, t] = x < 0 ? [GREY, ORANGE, -x] : [GREY, BLUE, x];
  return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * t));
}

// CSS colours for links and biases: 201 steps over [-1, 1], built once.
const CSS = Array.from({ length: 201 }, (_, i) => {
  const [r, g, b] = rgbOf(i / 100 - 1);
  return `rgb(${r},${g},${b})`;
});

/** CSS colour of value v on the scale (clipped to [-1, 1]; NaN → grey). */
export function cssColour(v) {
  if (!(v === v)) return CSS[100];
  const i = Math.round((v > 1 ? 1 : v < -1 ? -1 : v) * 100) + 100;
  return CSS[i];
}

// Heat maps are drawn lighter than the link colours (the Playground's alpha 160 over white).
function pixel([r, g, b], alpha = 160 / 255) {
  const mix = (c) => Math.round(255 - (255 - c) * alpha);
  return (255 << 24) | (mix(b) << 16) | (mix(g) << 8) | mix(r); // little-endian RGBA
}

const LUT = new Uint32Array(256);
const LUT_DISCRETE = new Uint32Array(256);
for (let b = 0; b < 256; b++) {
  const v = b / 127.5 - 1;
  LUT[b] = pixel(rgbOf(v));
  LUT_DISCRETE[b] = pixel(v >= 0 ? BLUE : ORANGE);
}

/** A canvas showing one map; redraws from its kept bytes when only the look changes. */
export class HeatMap {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { alpha: false });
    this.size = 0;
    this.filled = false;
  }

  _resize(n) {
    this.size = n;
    this.canvas.width = n;
    this.canvas.height = n;
    this.image = this.ctx.createImageData(n, n);
    this.pixels = new Uint32Array(this.image.data.buffer);
    this.bytes = new Uint8Array(n * n);
  }

  /** Decode `map` (once) and draw it; `discrete` thresholds at 0. */
  draw(map, discrete = false) {
    if (!map || !map.data) return;
    if (map.size !== this.size) this._resize(map.size);
    const text = atob(map.data);
    const bytes = this.bytes;
    const n = Math.min(text.length, bytes.length);
    for (let i = 0; i < n; i++) bytes[i] = text.charCodeAt(i);
    this.filled = true;
    this.redraw(discrete);
  }

  /** Draw `size`×`size` bytes of `bytes` from `offset` (a tile of the grid view's block of maps). */
  drawBytes(size, bytes, offset, discrete = false) {
    if (size !== this.size) this._resize(size);
    this.bytes.set(bytes.subarray(offset, offset + size * size));
    this.filled = true;
    this.redraw(discrete);
  }

  /** Draw the kept bytes again (after the discretize toggle). */
  redraw(discrete = false) {
    if (!this.filled) return;
    const lut = discrete ? LUT_DISCRETE : LUT;
    const px = this.pixels;
    const bytes = this.bytes;
    for (let i = 0, n = bytes.length; i < n; i++) px[i] = lut[bytes[i]];
    this.ctx.putImageData(this.image, 0, 0);
  }
}
