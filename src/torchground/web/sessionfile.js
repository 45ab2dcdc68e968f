// Saving and reopening the page's session (.tgsession files, docs/serve-protocol.md):
// "Save session" asks the server for the file ({"type": "save"} -> "saved", base64) and
// downloads it; "Open session" posts the chosen file to POST /api/session (checked there,
// answered with an id or a message) and asks the session to continue it ({"type": "open"}).

import { postFile } from "./upload.js";
import { t } from "./i18n.js";

export class SessionFile {
  /** hooks: send(msg), toast(text). */
  constructor(hooks) {
    this.hooks = hooks;
  }

  mount(saveButton, openButton, picker) {
    saveButton.addEventListener("click", () => this.hooks.send({ type: "save" }));
    openButton.addEventListener("click", () => picker.click());
    picker.addEventListener("change", async () => {
      const file = picker.files && picker.files[0];
      picker.value = "";
      if (file) await this.open(await file.arrayBuffer());
    });
  }

  /** The server's "saved" answer: the file downloaded under its name. */
  saved(msg) {
    const bytes = Uint8Array.from(atob(msg.bundle), (c) => c.charCodeAt(0));
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
    link.download = msg.name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
    this.hooks.toast(t("web.session_saved", { name: msg.name }));
  }

  async open(body) {
    const answer = await postFile("/api/session", body, this.hooks.toast);
    if (answer) this.hooks.send({ type: "open", id: answer.id });
  }
}
