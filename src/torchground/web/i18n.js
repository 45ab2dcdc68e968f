// The page's labels in English or Japanese: the `web.*` keys of the catalogue, fetched
// from /api/i18n/<lang>. Elements name their label with data-i18n (text),
// data-i18n-title (tooltip) or data-i18n-aria (aria-label); templates use {name}.

export const LANGS = ["en", "ja"];
let table = {};
let current = "en";

/** The language to start in: the URL's, else the server's when chosen on purpose (serve --lang,
 * TORCHGROUND_LANG: the cookie tg_lang), else the browser's (ja* → ja), else en. */
export function initialLang(fromUrl) {
  if (LANGS.includes(fromUrl)) return fromUrl;
  const chosen = document.cookie.match(/(?:^|;\s*)tg_lang=(en|ja)(?:;|$)/);
  if (chosen) return chosen[1];
  const nav = (navigator.languages && navigator.languages[0]) || navigator.language || "en";
  return nav.toLowerCase().startsWith("ja") ? "ja" : "en";
}

export async function loadLang(lang) {
  const res = await fetch(`/api/i18n/${lang}`, { credentials: "same-origin" });
  if (!res.ok) throw new Error(`labels for ${lang}: HTTP ${res.status}`);
  table = await res.json();
  current = lang;
  document.documentElement.lang = lang;
}

export function lang() {
  return current;
}

/** The label `key` with {name} placeholders filled from params. */
export function t(key, params = {}) {
  const template = table[key];
  if (template === undefined) return key.replace(/^web\./, "");
  return template.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

/** Put every label into the elements under root. */
export function applyLabels(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", t(el.dataset.i18nAria));
}
