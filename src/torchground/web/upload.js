// A file posted to the server (a data file, a saved session): the answer's JSON, or null
// after telling the user what went wrong (the server's message is in the page's language).

import { lang } from "./i18n.js";

/** POST `body` to `path` (with the page's language); → the answer, or null after `toast(message)`. */
export async function postFile(path, body, toast) {
  let answer;
  try {
    const res = await fetch(`${path}?lang=${lang()}`, { method: "POST", body, credentials: "same-origin" });
    answer = await res.json();
  } catch (err) {
    toast(String(err));
    return null;
  }
  if (answer.error) {
    toast(answer.error);
    return null;
  }
  return answer;
}
