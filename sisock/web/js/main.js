// The sisock web client: connection state, node list, one node's view.
//
// Query options: ?url=ws://host:port/ws (default: this page's host, /ws),
// &realm=sisock, &base=org.simonsobservatory.
// The hash keeps what is shown, so a reload or a bookmark comes back to it:
// #node=sensors&range=15m&fields=cpu_percent,mem_percent
// (range: 15m, 1h, 24h, 7d, <n>s, day:YYYY-MM-DD, <start>-<end> in UNIX seconds),
// #registry for the registry panel (registry.js), #alerts for the alert panel (alertpanel.js).

import { AdminLogin } from "./admin.js";
import { AlertPanel } from "./alertpanel.js";
import { AlertFeed } from "./alerts.js";
import { AlertBell } from "./bell.js";
import { BREWING_NODE, BrewingPanel } from "./brewing.js";
import { utc } from "./format.js";
import { ActivityLog } from "./activity.js";
import { NodeList } from "./nodes.js";
import { NodeView } from "./nodeview.js";
import { PixelDisplay } from "./pixels.js";
import { RegistryPanel } from "./registry.js";
import { decode, day, encode, relative } from "./timerange.js";
import { errorText, routerUrl, Sisock } from "./wamp.js";

/** Where a node opens the first time: archives at a day that has data. */
const ARCHIVE_DAYS = { weather: "2017-07-15" };
/** Seconds between full re-reads of the node list (events keep it current between). */
const RESYNC = 30;
const $ = (id) => document.getElementById(id);

const params = new URLSearchParams(window.location.search);
const sisock = new Sisock({
  url: routerUrl(),
  realm: params.get("realm") || "sisock",
  base: params.get("base") || "org.simonsobservatory",
  onState: showConnection,
});
const admin = new AdminLogin({ url: sisock.url, realm: sisock.realm });
const log = new ActivityLog($("activity"));
const nodes = new NodeList($("node-list"), $("node-count"), $("node-message"), select, $("node-search"));
const remembered = new Map(); // node -> {range, charted}
let view = null;
const registry = new RegistryPanel(sisock, admin, { onOpen: (name) => select(name) });
const alerts = new AlertFeed(sisock);
const alertPanel = new AlertPanel(sisock, admin, alerts);
const bell = new AlertBell(alerts, () => showPanel(alertPanel.shown ? null : "alerts"));
/** The panels shown in place of the node's view, by their #address. */
const panels = { registry, alerts: alertPanel };
$("main").append(registry.element, alertPanel.element);
$("clock").before(bell.element);
$("open-registry").addEventListener("click", () => showPanel(registry.shown ? null : "registry"));

/** Show the panel ``name`` ("registry", "alerts") in place of the node's view, or (null) the view again. */
function showPanel(name) {
  for (const [key, panel] of Object.entries(panels)) {
    if (key === name) panel.show();
    else if (panel.shown) panel.hide();
  }
  $("open-registry").setAttribute("aria-pressed", String(name === "registry"));
  bell.pressed(name === "alerts");
  if (view) view.element.hidden = name !== null;
  $("placeholder").hidden = name !== null || view !== null;
  if (name) history.replaceState(null, "", `#${name}`);
  else writeHash();
}

// -- connection state ---------------------------------------------------------
let retryAt = null;

function showConnection(s) {
  const box = $("connection");
  box.dataset.state = s.state;
  document.body.dataset.connection = s.state;
  $("router-url").textContent = s.url;
  retryAt = s.state === "reconnecting" && s.retryIn != null ? Date.now() + s.retryIn * 1000 : null;
  const text = {
    connecting: "connecting…",
    connected: "connected",
    reconnecting: "reconnecting…",
    closed: "disconnected",
  }[s.state];
  $("connection-text").textContent = text;
  $("connection-detail").textContent = s.state === "reconnecting" || s.state === "closed" ? s.reason || "" : "";
  if (s.state === "connected") log.add(s.joins > 1 ? "reconnected to the router" : "connected to the router", "good");
  if (s.state === "reconnecting" && s.attempt <= 1) log.add(`lost the router (${s.reason || "closed"})`, "bad");
  tickConnection();
}

function tickConnection() {
  const text = $("connection-text");
  if (retryAt !== null) {
    const left = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
    text.textContent = left > 0 ? `reconnecting in ${left} s…` : "reconnecting…";
  }
  $("clock").textContent = `${utc(Date.now() / 1000)} UTC`;
}
setInterval(tickConnection, 1000);

// -- nodes ----------------------------------------------------------------------
let resyncTimer = null;

async function refreshNodes() {
  clearTimeout(resyncTimer);
  try {
    const list = await sisock.getDataNode();
    nodes.problem(null);
    const [added, removed] = nodes.setAll(list);
    added.forEach((name) => nodeCame(name, false));
    removed.forEach((name) => nodeLeft(name, false));
    resyncTimer = setTimeout(refreshNodes, RESYNC * 1000);
  } catch (err) {
    if (!sisock.connected) return; // the next join refreshes
    nodes.problem(`the hub does not answer (${errorText(err)}); retrying`);
    resyncTimer = setTimeout(refreshNodes, 5000);
  }
}

function nodeCame(name, logIt = true) {
  if (logIt) log.add(`node ${name} joined`, "good");
  if (view && view.name === name) {
    view.setOnline(true);
    view.reload(); // it (re)started: fill what it served while away
  }
}

function nodeLeft(name, logIt = true) {
  if (logIt) log.add(`node ${name} left`, "bad");
  if (view && view.name === name) view.setOnline(false, Date.now() / 1000);
}

sisock.onNodesChanged({
  added: (node) => {
    // also for a listed node: it joined again (after a hub or router restart)
    nodeCame(node.name, nodes.add(node));
  },
  subtracted: (node) => {
    if (nodes.remove(node.name)) nodeLeft(node.name);
  },
});

sisock.onJoin(async () => {
  if (registry.shown) registry.refresh();
  await refreshNodes();
  if (!view) return;
  view.setOnline(nodes.has(view.name));
  view.reload(); // fill what was missed while away
});

// -- the selected node ------------------------------------------------------------
function select(name, state = null) {
  if (registry.shown || alertPanel.shown) showPanel(null);
  if (view && view.name === name) return;
  if (view) view.close();
  const saved = state || remembered.get(name) || {};
  const range = saved.range || (ARCHIVE_DAYS[name] ? day(ARCHIVE_DAYS[name]) : relative(900));
  view = new NodeView(sisock, name, {
    description: nodes.description(name),
    range,
    charted: saved.charted || null,
    online: nodes.has(name) || !sisock.connected,
    onChange: (v) => {
      remembered.set(v.name, { range: v.range, charted: v.charted });
      writeHash();
    },
  });
  if (name === BREWING_NODE) view.attach(new BrewingPanel(sisock, admin, name));
  view.attach(new PixelDisplay(sisock, name)); // shown once the node answers get_state as a display
  nodes.select(name);
  $("placeholder").hidden = true;
  $("main").append(view.element);
  remembered.set(name, { range, charted: view.charted });
  writeHash();
  if (sisock.connected) view.reload();
}

function writeHash() {
  if (!view) return;
  const parts = [`node=${encodeURIComponent(view.name)}`, `range=${encodeURIComponent(encode(view.range))}`];
  if (view.charted) parts.push(`fields=${view.charted.map(encodeURIComponent).join(",")}`);
  history.replaceState(null, "", `#${parts.join("&")}`);
}

function readHash() {
  const panel = window.location.hash.slice(1);
  if (Object.hasOwn(panels, panel)) {
    showPanel(panel);
    return;
  }
  const hash = new URLSearchParams(window.location.hash.slice(1));
  const name = hash.get("node");
  if (!name) return;
  const fields = hash.get("fields");
  select(name, { range: decode(hash.get("range")), charted: fields === null ? null : fields.split(",").filter(Boolean) });
}

readHash();
sisock.start();
admin.restore(); // logged in earlier in this tab
