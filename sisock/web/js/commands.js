// One node in the registry panel: its commands as forms built from its
// get_api answer, and its latest numeric values, kept live from its topic.
//
// get_api and the values are read on the consumer connection; a command is
// sent on the login's connection (the router lets only admins and operators
// call consumer.NAME.command), so without such a login every send button is
// disabled.

import { showValue } from "./cells.js";
import { el, utc } from "./format.js";
import { errorText } from "./wamp.js";

/** A parameter's input: a select for a bool, a number field for int/float, a text field otherwise. */
function paramInput(command, p) {
  const id = `command-${command}-${p.name}`;
  const kind = String(p.type || "");
  let input;
  if (kind.includes("bool")) {
    input = el("select", { "data-testid": id, name: p.name },
      ...(p.required ? [] : [el("option", { value: "", text: `(default: ${p.default})` })]),
      el("option", { value: "true", text: "true" }), el("option", { value: "false", text: "false" }));
  } else {
    const numeric = kind.includes("float") || kind.includes("int");
    input = el("input", { "data-testid": id, name: p.name, type: numeric ? "number" : "text",
      placeholder: p.required ? "required" : `default: ${p.default}` });
    if (numeric) input.step = "any";
  }
  input.dataset.kind = kind.includes("bool") ? "bool" : kind.includes("float") || kind.includes("int") ? "number" : "text";
  return el("label", { title: p.description || p.name }, el("span", { text: p.name }), input);
}

/** The keyword arguments a form's inputs give (empty inputs left out: the handler's default). */
function formArgs(form) {
  const kwargs = {};
  for (const input of form.querySelectorAll("input, select")) {
    if (input.value === "") continue;
    const kind = input.dataset.kind;
    kwargs[input.name] = kind === "bool" ? input.value === "true" : kind === "number" ? Number(input.value) : input.value;
  }
  return kwargs;
}

export class NodeCommands {
  /**
   * @param {Sisock} sisock  the consumer connection
   * @param {AdminLogin} admin  the admin login
   * @param {string} name  the node
   */
  constructor(sisock, admin, name) {
    this.sisock = sisock;
    this.admin = admin;
    this.name = name;
    this.fields = {}; // field -> {units, type, ...} from get_api
    this.values = el("dl", { class: "detail-values", "data-testid": "detail-values" });
    this.forms = el("div", { class: "command-forms", "data-testid": "command-forms" });
    this.message = el("p", { class: "muted", "data-testid": "detail-message", text: "loading its commands…" });
    this.element = el("section", { class: "node-detail", "data-testid": "node-detail", "data-node": name },
      el("h3", { text: name }), this.message, this.values, this.forms);
    this.offLive = sisock.onLiveData(name, (block) => this._show(block.data, block.t[block.t.length - 1]));
    this.offLogin = admin.onChange(() => this._enable());
    this._load();
  }

  close() {
    this.offLive();
    this.offLogin();
    this.element.remove();
  }

  async _load() {
    try {
      const [api, latest] = await Promise.all([
        this.sisock.call(this.sisock.nodeUri(this.name, "get_api")), this.sisock.getLatest(this.name)]);
      this.message.textContent = api.description || "";
      this.fields = api.fields || {};
      for (const block of Object.values(latest || {})) this._show(block.data, block.t[block.t.length - 1]);
      this.forms.replaceChildren(...api.commands.map((c) => this._form(c)));
      if (!api.commands.length) this.message.textContent += " (no commands)";
      this._enable();
    } catch (err) {
      this.message.textContent = `could not read its API: ${errorText(err)}`;
    }
  }

  /** Show the numeric values of a block ({field: [v, ...]}) recorded at ``t``. */
  _show(data, t) {
    for (const [field, values] of Object.entries(data)) {
      const v = values[values.length - 1];
      if (typeof v !== "number" && typeof v !== "string") continue;
      let dd = this.values.querySelector(`[data-testid="detail-value-${CSS.escape(field)}"]`);
      if (!dd) {
        dd = el("dd", { "data-testid": `detail-value-${field}` });
        this.values.append(el("dt", { text: field }), dd);
      }
      showValue(dd, v, this.fields[field]); // with its units; a long string cut, whole in the tooltip
      dd.dataset.value = String(v);
      if (dd.textContent === String(v) || typeof v === "number") dd.title = `at ${utc(t)} UTC`;
    }
  }

  _form(command) {
    const result = el("output", { class: "command-result", "data-testid": `command-result-${command.name}` });
    const send = el("button", { type: "submit", "data-admin": "", "data-testid": `command-send-${command.name}`,
      text: command.name });
    const form = el("form", { class: "command-form", "data-testid": `command-form-${command.name}`,
      title: command.description }, send, ...command.parameters.map((p) => paramInput(command.name, p)), result);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!this.admin.mayCommand) return;
      result.textContent = "…";
      try {
        const answer = await this.admin.call(this.sisock.nodeUri(this.name, "command"), [command.name], formArgs(form));
        result.textContent = JSON.stringify(answer);
        result.classList.remove("error");
      } catch (err) {
        result.textContent = errorText(err);
        result.classList.add("error");
      }
    });
    return form;
  }

  _enable() {
    for (const button of this.forms.querySelectorAll("[data-admin]")) button.disabled = !this.admin.mayCommand;
  }
}
