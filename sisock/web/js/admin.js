// The admin login of the page: a second WAMP connection as authid "admin"
// (WAMP-CRA, autobahn-js's auth_cra), for panels whose changes only admins
// may make. Reads stay on the anonymous consumer connection (wamp.js).
//
// The secret is what the user types (`sisock secrets` wrote it to the
// secrets file). It is never part of the page's source: it is kept in
// memory and in sessionStorage, so a reload of the tab stays logged in and
// closing the tab forgets it. A wrong secret is refused by the router and
// forgotten; `logout` closes the connection and forgets it too.
//
//   const admin = new AdminLogin({ url, realm });
//   admin.onChange((state) => ...);       // {state: "out"|"connecting"|"in"|"reconnecting", error}
//   panel.append(loginBox(admin).element); // the form: secret, log in, log out
//   await admin.call(procedure, args, kwargs);

/* global autobahn */

import { el } from "./format.js";
import { errorText } from "./wamp.js";

/** sessionStorage key of the secret (this tab only). */
const STORAGE_KEY = "sisock.admin.secret";
const AUTHID = "admin";

export class AdminLogin {
  /**
   * @param {object} options  {url, realm, storage (default: window.sessionStorage)}
   */
  constructor({ url, realm = "sisock", storage = window.sessionStorage }) {
    this.url = url;
    this.realm = realm;
    this.storage = storage;
    this.connection = null;
    this.session = null;
    this.state = { state: "out", error: null };
    this.listeners = [];
  }

  /** Register ``fn(state)``, called now and on every change of the login state; returns an unregister function. */
  onChange(fn) {
    this.listeners.push(fn);
    fn(this.state);
    return () => {
      this.listeners = this.listeners.filter((f) => f !== fn);
    };
  }

  /** Whether an admin session is open now. */
  get loggedIn() {
    return this.session !== null && this.session.isOpen;
  }

  /** Log in again with the secret this tab kept, if any (after a reload). */
  restore() {
    const secret = this.storage.getItem(STORAGE_KEY);
    return secret ? this.login(secret).catch(() => {}) : Promise.resolve();
  }

  /**
   * Open the admin connection with ``secret``; resolves once joined, rejects
   * with the router's reason (a wrong secret: wamp.error.not_authorized).
   */
  login(secret) {
    this.logout(false);
    this._set("connecting");
    return new Promise((resolve, reject) => {
      let joined = false;
      const connection = (this.connection = new autobahn.Connection({
        url: this.url,
        realm: this.realm,
        authid: AUTHID,
        authmethods: ["wampcra"],
        onchallenge: (session, method, extra) => sign(secret, method, extra),
        use_es6_promises: true,
        max_retries: -1,
        initial_retry_delay: 1,
        max_retry_delay: 10,
      }));
      connection.onopen = (session) => {
        if (connection !== this.connection) {
          connection.close(); // logged out while logging in
          return;
        }
        joined = true;
        this.session = session;
        this.storage.setItem(STORAGE_KEY, secret);
        this._set("in");
        resolve();
      };
      connection.onclose = (reason, details) => {
        this.session = null;
        if (connection !== this.connection) return true; // logged out or replaced
        if (joined && details && details.will_retry) {
          this._set("reconnecting"); // the router went away: back when it is
          return false;
        }
        const why = (details && (details.message || details.reason)) || reason;
        this.connection = null;
        if (!joined) this.storage.removeItem(STORAGE_KEY); // refused: forget it
        this._set("out", joined ? null : why);
        if (!joined) reject(new Error(`admin login refused: ${why}`));
        return true; // no retry after a refusal
      };
      connection.open();
    });
  }

  /** Close the admin connection and forget the secret. */
  logout(notify = true) {
    const connection = this.connection;
    this.connection = null;
    this.session = null;
    this.storage.removeItem(STORAGE_KEY);
    if (connection && connection.isOpen) connection.close(); // one still connecting stops at its next open or close
    if (notify) this._set("out");
  }

  /** Call ``procedure`` as admin; the first result (a one-value answer) or the whole Result. */
  async call(procedure, args = [], kwargs = {}) {
    if (!this.loggedIn) throw new Error("log in as admin first");
    const result = await this.session.call(procedure, args, kwargs);
    return result instanceof autobahn.Result ? result.args[0] : result;
  }

  _set(state, error = null) {
    this.state = { state, error };
    for (const fn of this.listeners) fn(this.state);
  }
}

/** The WAMP-CRA signature of ``extra.challenge`` (with the salted key when the router salts). */
function sign(secret, method, extra) {
  if (method !== "wampcra") throw new Error(`unexpected authentication method ${method}`);
  const key = extra.salt ? autobahn.auth_cra.derive_key(secret, extra.salt, extra.iterations, extra.keylen) : secret;
  return autobahn.auth_cra.sign(key, extra.challenge);
}

/**
 * The login form of ``admin``: a secret field and "log in" while logged out,
 * "admin" and "log out" while logged in, the refusal when there is one.
 * Returns {element, close}: close() stops it following the login.
 */
export function loginBox(admin) {
  const secret = el("input", { type: "password", autocomplete: "current-password", placeholder: "admin secret",
    "data-testid": "admin-secret", "aria-label": "admin secret" });
  const login = el("button", { type: "submit", "data-testid": "admin-login", text: "log in" });
  const logout = el("button", { type: "button", "data-testid": "admin-logout", text: "log out" });
  const status = el("span", { class: "admin-status", "data-testid": "admin-status", role: "status" });
  const form = el("form", { class: "admin-login", "data-testid": "admin-box" }, status, secret, login, logout);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const typed = secret.value;
    secret.value = "";
    if (typed) admin.login(typed).catch((err) => console.warn(errorText(err)));
  });
  logout.addEventListener("click", () => admin.logout());
  const close = admin.onChange(({ state, error }) => {
    form.dataset.state = state;
    const out = state === "out";
    secret.hidden = login.hidden = !out;
    logout.hidden = out;
    login.disabled = state === "connecting";
    status.textContent = {
      out: error ? `admin login refused (${error}); read-only` : "read-only; log in as admin to change",
      connecting: "logging in…",
      in: "admin",
      reconnecting: "admin (reconnecting…)",
    }[state];
    status.classList.toggle("error", out && !!error);
  });
  return { element: form, close };
}
