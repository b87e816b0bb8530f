// The login of the page: a second WAMP connection as a user (WAMP-CRA,
// autobahn-js's auth_cra), for panels whose changes only some roles may
// make. Reads stay on the anonymous consumer connection (wamp.js).
//
// The user is the shared "admin" (its secret from `sisock secrets`) or a
// named user (`sisock user add NAME --role ROLE`, whose salted secret the
// router's challenge says how to derive). The role comes back from the
// router (the join's authrole): an admin may change everything, an
// operator may send commands but not enable, disable or manage (`mayCommand`,
// `isAdmin`). The secret is never part of the page's source: it is kept in
// memory and in sessionStorage, so a reload of the tab stays logged in and
// closing the tab forgets it. A wrong secret is refused by the router and
// forgotten; `logout` closes the connection and forgets it too.
//
//   const admin = new AdminLogin({ url, realm });
//   admin.onChange((state) => ...);       // {state: "out"|"connecting"|"in"|"reconnecting", error}
//   panel.append(loginBox(admin).element); // the form: user, secret, log in, log out
//   await admin.call(procedure, args, kwargs);

/* global autobahn */

import { el } from "./format.js";
import { errorText } from "./wamp.js";

/** sessionStorage keys of the secret and the user (this tab only). */
const STORAGE_KEY = "sisock.admin.secret";
const USER_KEY = "sisock.admin.user";
/** The shared admin's authid, the user name the form proposes. */
const AUTHID = "admin";
/** The roles that may send node commands (the router's table, sisock.router.auth). */
const COMMANDERS = ["admin", "operator"];

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
    this.role = null; // the router's authrole of the open session (WELCOME details), else null
    this.user = null; // the authid of the open session, else null
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

  /** Whether the open session may send node commands (an admin or an operator). */
  get mayCommand() {
    return this.loggedIn && COMMANDERS.includes(this.role);
  }

  /** Whether the open session is an admin's (enable, disable, users: everything). */
  get isAdmin() {
    return this.loggedIn && this.role === "admin";
  }

  /** Log in again as the user with the secret this tab kept, if any (after a reload). */
  restore() {
    const secret = this.storage.getItem(STORAGE_KEY);
    const user = this.storage.getItem(USER_KEY) || AUTHID;
    return secret ? this.login(secret, user).catch(() => {}) : Promise.resolve();
  }

  /**
   * Open the connection as ``user`` (default the shared "admin") with ``secret``;
   * resolves once joined, rejects with the router's reason (a wrong secret or a
   * removed user: wamp.error.not_authorized).
   */
  login(secret, user = AUTHID) {
    this.logout(false);
    this._set("connecting");
    return new Promise((resolve, reject) => {
      let joined = false;
      const connection = (this.connection = new autobahn.Connection({
        url: this.url,
        realm: this.realm,
        authid: user,
        authmethods: ["wampcra"],
        onchallenge: (session, method, extra) => sign(secret, method, extra),
        use_es6_promises: true,
        max_retries: -1,
        initial_retry_delay: 1,
        max_retry_delay: 10,
      }));
      connection.onopen = (session, details) => {
        if (connection !== this.connection) {
          connection.close(); // logged out while logging in
          return;
        }
        joined = true;
        this.session = session;
        this.role = details.authrole;
        this.user = details.authid || user;
        this.storage.setItem(STORAGE_KEY, secret);
        this.storage.setItem(USER_KEY, user);
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
        if (!joined) { // refused: forget it
          this.storage.removeItem(STORAGE_KEY);
          this.storage.removeItem(USER_KEY);
        }
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
    this.role = null;
    this.user = null;
    this.storage.removeItem(STORAGE_KEY);
    this.storage.removeItem(USER_KEY);
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

/** Who is logged in, for the form: "admin" (the shared admin), else "NAME (ROLE)". */
function whoText(admin) {
  return admin.user === AUTHID ? AUTHID : `${admin.user} (${admin.role})`;
}

/**
 * The login form of ``admin``: a user field (default "admin"), a secret field
 * and "log in" while logged out, who is logged in and "log out" while logged
 * in, the refusal when there is one.
 * Returns {element, close}: close() stops it following the login.
 */
export function loginBox(admin) {
  const user = el("input", { type: "text", autocomplete: "username", value: AUTHID, placeholder: "user",
    "data-testid": "admin-user", "aria-label": "user", size: "8" });
  const secret = el("input", { type: "password", autocomplete: "current-password", placeholder: "secret",
    "data-testid": "admin-secret", "aria-label": "secret" });
  const login = el("button", { type: "submit", "data-testid": "admin-login", text: "log in" });
  const logout = el("button", { type: "button", "data-testid": "admin-logout", text: "log out" });
  const status = el("span", { class: "admin-status", "data-testid": "admin-status", role: "status" });
  const form = el("form", { class: "admin-login", "data-testid": "admin-box" }, status, user, secret, login, logout);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const typed = secret.value;
    secret.value = "";
    const name = user.value.trim() || AUTHID;
    if (typed) admin.login(typed, name).catch((err) => console.warn(errorText(err)));
  });
  logout.addEventListener("click", () => admin.logout());
  const close = admin.onChange(({ state, error }) => {
    form.dataset.state = state;
    const out = state === "out";
    user.hidden = secret.hidden = login.hidden = !out;
    logout.hidden = out;
    login.disabled = state === "connecting";
    status.textContent = {
      out: error ? `login refused (${error}); read-only` : "read-only; log in to change",
      connecting: "logging in…",
      in: state === "in" ? whoText(admin) : "",
      reconnecting: `${whoText(admin)} (reconnecting…)`,
    }[state];
    status.classList.toggle("error", out && !!error);
  });
  return { element: form, close };
}

/**
 * The login form of a panel, there only while the panel is shown (one form on the page at a time):
 * ``attach()`` appends a `loginBox` of ``admin`` to ``parent``, ``detach()`` closes and removes it.
 */
export class PanelLogin {
  constructor(admin, parent) {
    this.admin = admin;
    this.parent = parent;
    this.box = null;
  }

  attach() {
    if (this.box) return;
    this.box = loginBox(this.admin);
    this.parent.append(this.box.element);
  }

  detach() {
    if (!this.box) return;
    this.box.close();
    this.box.element.remove();
    this.box = null;
  }
}
