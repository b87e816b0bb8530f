// The WAMP side of the page: one autobahn-js connection as an anonymous
// consumer, reconnecting by itself, and the sisock wire contract on top.
//
// Wire contract (docs/wire.md):
//   BASE.consumer.get_data_node() -> [{name, description}, ...]
//   BASE.consumer.data_node_added / data_node_subtracted  events {name, description}
//   BASE.consumer.NAME.get_fields(start, end) -> [field, timeline]
//   BASE.consumer.NAME.get_data(field, start, end, min_stride) -> {data, timeline}
//   BASE.consumer.NAME.get_latest() -> {timeline: {t, data}}   (newer nodes only)
//   BASE.consumer.NAME.data  events {timeline, t: [...], data: {f: [...]}}
// Times are UNIX seconds UTC; 0 or negative is relative to now.

/* global autobahn */

export const NO_SUCH_PROCEDURE = "wamp.error.no_such_procedure";

/** Router URL of the page: ?url=... or ws(s)://<this host>/ws. */
export function routerUrl(loc = window.location) {
  const override = new URLSearchParams(loc.search).get("url");
  if (override) return override;
  return `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}/ws`;
}

/** A one-line message of a WAMP error (or any error). */
export function errorText(err) {
  if (err && err.error) {
    const detail = err.args && err.args.length ? `: ${err.args[0]}` : "";
    return `${err.error}${detail}`;
  }
  return String((err && err.message) || err);
}

/**
 * The sisock consumer connection.
 *
 * Subscriptions made with `subscribe` are remembered and made again on every
 * join, so a router restart needs nothing from the callers but a reload of
 * what they display (`onJoin`).
 */
export class Sisock {
  constructor({ url, realm = "sisock", base = "org.simonsobservatory", onState = () => {} }) {
    this.url = url;
    this.realm = realm;
    this.base = base;
    this.onState = onState;
    this.session = null;
    this.joins = 0;
    this.wanted = new Map(); // id -> {topic, handler, sub}
    this.nextId = 1;
    this.joinListeners = [];
    this.connection = new autobahn.Connection({
      url,
      realm,
      use_es6_promises: true,
      max_retries: -1, // keep trying for as long as the page is open
      initial_retry_delay: 1,
      max_retry_delay: 10,
      retry_delay_growth: 1.5,
      retry_delay_jitter: 0.1,
      retry_if_unreachable: true,
    });
    this.connection.onopen = (session) => this._opened(session);
    this.connection.onclose = (reason, details) => this._closed(reason, details);
  }

  /** Start connecting (state "connecting"). */
  start() {
    this.onState({ state: "connecting", url: this.url });
    this.connection.open();
  }

  /** Register ``fn(joinCount)``, called after every join once subscriptions are back. */
  onJoin(fn) {
    this.joinListeners.push(fn);
  }

  uri(suffix) {
    return `${this.base}.${suffix}`;
  }

  nodeUri(name, suffix) {
    return this.uri(`consumer.${name}.${suffix}`);
  }

  get connected() {
    return this.session !== null && this.session.isOpen;
  }

  async call(procedure, args = []) {
    if (!this.connected) throw new Error("not connected to the router");
    const result = await this.session.call(procedure, args);
    return result instanceof autobahn.Result ? result.args[0] : result;
  }

  /** Subscribe for the life of the page (across reconnects); returns an unsubscribe function. */
  subscribe(topic, handler) {
    const id = this.nextId++;
    const entry = { topic, handler, sub: null };
    this.wanted.set(id, entry);
    if (this.connected) this._subscribe(entry);
    return () => {
      this.wanted.delete(id);
      if (entry.sub && this.connected) this.session.unsubscribe(entry.sub).catch(() => {});
      entry.sub = null;
    };
  }

  _subscribe(entry) {
    const session = this.session;
    return session
      .subscribe(entry.topic, (args) => entry.handler(args[0]))
      .then((sub) => {
        if (session !== this.session || ![...this.wanted.values()].includes(entry)) {
          session.unsubscribe(sub).catch(() => {}); // unsubscribed or reconnected meanwhile
        } else {
          entry.sub = sub;
        }
      })
      .catch((err) => console.error(`subscribe ${entry.topic}: ${errorText(err)}`));
  }

  async _opened(session) {
    this.session = session;
    this.joins += 1;
    await Promise.all([...this.wanted.values()].map((entry) => this._subscribe(entry)));
    if (this.session !== session) return;
    this.onState({ state: "connected", url: this.url, session: session.id, joins: this.joins });
    for (const fn of this.joinListeners) {
      try {
        fn(this.joins);
      } catch (err) {
        console.error(err);
      }
    }
  }

  _closed(reason, details) {
    this.session = null;
    for (const entry of this.wanted.values()) entry.sub = null;
    if (details && details.will_retry) {
      this.onState({
        state: "reconnecting",
        url: this.url,
        reason: details.message || details.reason || reason,
        retryIn: details.retry_delay,
        attempt: details.retry_count,
      });
    } else {
      this.onState({ state: "closed", url: this.url, reason: (details && details.message) || reason });
    }
    return false; // let autobahn retry
  }

  // -- the sisock contract --------------------------------------------------
  getDataNode() {
    return this.call(this.uri("consumer.get_data_node"));
  }

  onNodesChanged({ added, subtracted }) {
    const a = this.subscribe(this.uri("consumer.data_node_added"), added);
    const s = this.subscribe(this.uri("consumer.data_node_subtracted"), subtracted);
    return () => {
      a();
      s();
    };
  }

  getFields(name, start, end) {
    return this.call(this.nodeUri(name, "get_fields"), [start, end]);
  }

  getData(name, fields, start, end, minStride = null) {
    return this.call(this.nodeUri(name, "get_data"), [fields, start, end, minStride]);
  }

  /** Latest block of each timeline, or null when the node has no ``get_latest``. */
  async getLatest(name) {
    try {
      return await this.call(this.nodeUri(name, "get_latest"));
    } catch (err) {
      if (err && err.error === NO_SUCH_PROCEDURE) return null;
      throw err;
    }
  }

  onLiveData(name, handler) {
    return this.subscribe(this.nodeUri(name, "data"), handler);
  }
}
