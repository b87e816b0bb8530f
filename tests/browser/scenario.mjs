// Drive the sisock web client in real headless Chromium (Debian's
// /usr/bin/chromium, through playwright-core; no browser download).
//
//   node tests/browser/scenario.mjs SCENARIO URL [--node NAME] [--hash H] [--artifacts DIR]
//
// Scenarios: lists, sensors-live, node-leaves, apex-day, bookmark (opens
// URL#H), reconnect (see below), alerts (alerts.mjs, with --hash alerts, --secret, --operator
// and --operator-secret),
// brewing (brewing.mjs, with --secret), pixels-legend (pixels.mjs, with --node), registry
// (registry.mjs, with --secret, --node and --group) and sidebar (sidebar.mjs, with --node,
// --group and --count), operator (users.mjs, with --user, --secret and --node). Prints one
// JSON object per line on stdout:
// progress lines {"step": ...} and, last, {"result": {...}} or
// {"error": "...", "partial": {...}} (exit status 1).
// node-leaves prints {"step": "listed"} once NAME is shown and then waits for
// a line on stdin (the test kills the node) before it waits for NAME to go;
// reconnect likewise waits for the test to stop and to restart the router.
// pixels reads the canvas of pixel node NAME back once drawn, then again
// after each frame number the test writes on stdin (it changes the display).
// Every wait is on a DOM state with a timeout; no fixed sleeps. Screenshots
// go to --artifacts (default test-artifacts/ at the repository root).

import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { scenarios as alerts } from "./alerts.mjs";
import { scenarios as brewing } from "./brewing.mjs";
import { scenarios as pixels } from "./pixels.mjs";
import { scenarios as registry } from "./registry.mjs";
import { scenarios as sidebar } from "./sidebar.mjs";
import { scenarios as users } from "./users.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const CHROMIUM = process.env.SISOCK_CHROMIUM || "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const TIMEOUT = 20000; // ms for any one DOM state

function options(argv) {
  const [scenario, url, ...rest] = argv;
  const opts = { scenario, url, node: null, hash: "", artifacts: join(ROOT, "test-artifacts") };
  for (let i = 0; i < rest.length; i += 2) opts[rest[i].replace(/^--/, "")] = rest[i + 1];
  if (!scenario || !url) {
    console.error("usage: node tests/browser/scenario.mjs SCENARIO URL [--node NAME] [--hash H] [--artifacts DIR]");
    process.exit(2);
  }
  return opts;
}

const say = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

/** The next line on stdin (the test's go-ahead after it did something). */
let stdinLines = null;
const waiting = [];
const queued = [];
function stdinLine() {
  if (!stdinLines) {
    stdinLines = createInterface({ input: process.stdin });
    stdinLines.on("line", (line) => (waiting.length ? waiting.shift()(line) : queued.push(line)));
  }
  return queued.length ? Promise.resolve(queued.shift()) : new Promise((r) => waiting.push(r));
}

/** A page of the web client with what a test wants to know about it. */
class Client {
  constructor(page, artifacts) {
    this.page = page;
    this.artifacts = artifacts;
    this.calls = []; // WAMP CALLs the page sent: {procedure, args}
    this.problems = []; // console errors and uncaught exceptions
    this.expected = []; // patterns of console errors a scenario causes on purpose
    page.on("console", (msg) => {
      if (msg.type() === "error" && !this.expected.some((re) => re.test(msg.text()))) {
        this.problems.push(`console: ${msg.text()}`);
      }
    });
    page.on("pageerror", (err) => this.problems.push(`pageerror: ${err.message}`));
    page.on("request", (request) => { // everything comes from the router: no CDN, no map tiles
      const url = new URL(request.url());
      if (/^(https?|wss?):$/.test(url.protocol) && this.origin && url.host !== this.origin) {
        this.problems.push(`request to another host: ${request.url()}`);
      }
    });
    page.on("websocket", (ws) => {
      ws.on("framesent", ({ payload }) => {
        try {
          const msg = JSON.parse(typeof payload === "string" ? payload : payload.toString());
          if (msg[0] === 48) this.calls.push({ procedure: msg[3], args: msg[4] || [] });
        } catch {
          // not JSON: the page would have to use another serializer
        }
      });
    });
  }

  async open(url) {
    this.origin = new URL(url).host;
    await this.page.goto(url, { waitUntil: "domcontentloaded", timeout: TIMEOUT });
  }

  /** Wait until ``fn(arg)`` is truthy in the page; fails with ``what``. */
  async until(what, fn, arg = null, timeout = TIMEOUT) {
    try {
      const handle = await this.page.waitForFunction(fn, arg, { timeout, polling: 100 });
      return await handle.jsonValue();
    } catch (err) {
      throw new Error(`timed out after ${timeout / 1000} s waiting for ${what}`);
    }
  }

  connected(timeout = TIMEOUT) {
    return this.until("connection state 'connected'",
      () => document.querySelector('[data-testid="connection-state"]').dataset.state === "connected", null, timeout);
  }

  nodeNames() {
    return this.page.$$eval('[data-testid="node-item"]', (items) => items.map((i) => i.dataset.node));
  }

  waitNode(name, present = true) {
    return this.until(`node ${name} ${present ? "listed" : "gone from the list"}`,
      ([n, p]) => !!document.querySelector(`[data-testid="node-item"][data-node="${n}"]`) === p, [name, present]);
  }

  async select(name) {
    await this.waitNode(name);
    await this.page.click(`[data-testid="node-item"][data-node="${name}"] button`);
    await this.until(`the view of ${name}`,
      (n) => document.querySelector(`[data-testid="node-view"][data-node="${n}"]`), name);
  }

  /**
   * Wait for the chart of ``field`` to be drawn with at least ``min`` points
   * and ``appended`` points from live samples, and if ``span`` (seconds) is
   * given, with history loaded for a window that long (its stride times its
   * plot width); returns its state.
   */
  chart(field, min = 1, timeout = TIMEOUT, appended = 0, span = 0) {
    return this.until(`chart ${field} with at least ${min} points, ${appended} of them live`, ([f, m, a, s]) => {
      const c = document.querySelector(`[data-testid="chart-${f}"]`);
      const d = c && c.dataset;
      if (!c || d.state !== "ready" || +d.points < m || +d.appended < a) return null;
      if (s && Math.abs(+d.stride * +d.plotWidth - s) > 1e-3 * s) return null; // still the window before
      return { points: +d.points, appended: +d.appended, dropped: +d.dropped, last: +d.last,
        stride: +d.stride, plotWidth: +d.plotWidth, status: c.querySelector(".chart-status").textContent };
    }, [field, min, appended, span], timeout);
  }

  /**
   * Once frame ``seq`` or a later one is drawn: {seq, grid}, the colour of each cell's centre as the canvas
   * holds it, [row][column][r, g, b].
   */
  pixelGrid(seq) {
    return this.until(`the display drawn at frame ${seq}`, (want) => {
      const box = document.querySelector('[data-testid="pixel-display"]');
      const d = box && box.dataset;
      if (!d || d.state !== "ready" || +d.seq < want) return null;
      const ctx = box.querySelector("canvas").getContext("2d");
      const [cell, cellHeight] = [+d.cell, +d.cellHeight];
      const grid = [];
      for (let y = 0; y < +d.height; y++) {
        grid.push([]);
        for (let x = 0; x < +d.width; x++) {
          const [r, g, b] = ctx.getImageData(x * cell + (cell >> 1), y * cellHeight + (cellHeight >> 1), 1, 1).data;
          grid[y].push([r, g, b]);
        }
      }
      return { seq: +d.seq, grid };
    }, seq);
  }

  text(testid) {
    return this.page.textContent(`[data-testid="${testid}"]`);
  }

  getDataCalls(node) {
    return this.calls.filter((c) => c.procedure.endsWith(`.consumer.${node}.get_data`));
  }

  async shot(name) {
    mkdirSync(this.artifacts, { recursive: true });
    const path = join(this.artifacts, `${name}.png`);
    await this.page.screenshot({ path, fullPage: true });
    return path;
  }
}

// -- scenarios ------------------------------------------------------------------
const scenarios = {
  /** The page connects and lists the stack's nodes. */
  async lists(c, out) {
    await c.connected();
    out.connection = await c.text("connection-state");
    out.routerUrl = await c.text("router-url");
    await c.waitNode("weather");
    await c.waitNode("sensors");
    out.nodes = await c.nodeNames();
    out.groups = await c.page.$$eval('[data-testid="node-group"]',
      (groups) => Object.fromEntries(groups.map((g) => [g.dataset.group, +g.dataset.count])));
    out.count = await c.text("node-count");
    out.screenshot = await c.shot("web-nodes");
  },

  /**
   * The display of pixel node NAME is drawn at once from get_state; then, twice, the test changes it and
   * writes the number of the frame it expects on stdin: the canvas is read back once that frame is drawn.
   */
  async pixels(c, out) {
    await c.connected();
    await c.select(out.node);
    out.drawn = [await c.pixelGrid(0)];
    for (const step of ["initial", "filled"]) {
      say({ step });
      out.drawn.push(await c.pixelGrid(+(await stdinLine())));
    }
    out.caption = await c.text("pixel-caption");
    // the fields table: each pixel's colour as a swatch and #rrggbb, the frame's hex cut, the page no wider
    out.pixelValue = await c.until("pixel 1 green (#00ff00) in the fields table", () => {
      const cell = document.querySelector('[data-testid="value-p0001"]');
      const swatch = cell && cell.querySelector('[data-testid="swatch"]');
      return cell && cell.textContent === "#00ff00"
        ? { text: cell.textContent, swatch: swatch && getComputedStyle(swatch).backgroundColor } : null;
    });
    out.frameValue = await c.text("value-frame");
    out.widths = await c.page.evaluate(() => ({ page: document.documentElement.scrollWidth, window: window.innerWidth }));
    out.getState = c.calls.filter((call) => call.procedure.endsWith(`.consumer.${out.node}.get_state`)).length;
    out.screenshot = await c.shot("web-pixels");
  },

  /** A sensors chart shows history, then grows with live events; values update. */
  async "sensors-live"(c, out) {
    await c.connected();
    await c.select("sensors");
    out.range = await c.text("range-label");
    const first = await c.chart("cpu_percent");
    out.first = first;
    // Three more points from live samples. Once the window is full as many
    // slide out on the left, so the count grows only while the history is
    // shorter than the window: `dropped` says how many went.
    out.grown = await c.chart("cpu_percent", 1, 30000, first.appended + 3);
    out.growShot = await c.shot("web-sensors-live");
    out.value = await c.until("a live cpu_percent value", () => {
      const v = document.querySelector('[data-testid="value-cpu_percent"]');
      return v && v.textContent !== "—" ? v.textContent : null;
    });
    // a second chart from the fields table, then another range
    await c.page.check('[data-testid="chart-toggle-mem_percent"]');
    out.memory = await c.chart("mem_percent");
    await c.page.click('[data-testid="range-1h"]');
    out.hourRange = await c.text("range-label");
    out.hour = await c.chart("cpu_percent", 1, TIMEOUT, 0, 3600);
    out.getData = c.getDataCalls("sensors").map((call) => call.args);
    out.procedures = c.calls.map((call) => call.procedure);
    out.hash = await c.page.evaluate(() => window.location.hash);
    out.connection = await c.page.getAttribute('[data-testid="connection-state"]', "data-state");
    out.screenshot = await c.shot("web-sensors");
  },

  /** NODE is listed; after the go-ahead on stdin (the test kills it) it leaves the list. */
  async "node-leaves"(c, out) {
    await c.connected();
    await c.select(out.node);
    out.before = await c.nodeNames();
    say({ step: "listed" });
    await stdinLine();
    await c.waitNode(out.node, false);
    out.after = await c.nodeNames();
    out.banner = await c.until("the banner saying the node left", () => {
      const view = document.querySelector('[data-testid="node-view"]');
      const banner = document.querySelector('[data-testid="node-banner"]');
      return view.dataset.online === "false" && !banner.hidden ? banner.textContent : null;
    });
    out.activity = await c.text("activity-log");
    out.screenshot = await c.shot("web-node-left");
  },

  /** A reloaded page comes back to what its address says (URL given with a #node=... hash). */
  async bookmark(c, out) {
    await c.connected();
    out.title = await c.text("node-title");
    out.range = await c.text("range-label");
    out.charts = await c.page.$$eval('[data-testid="charts"] .chart', (cs) => cs.map((x) => x.dataset.field));
    for (const field of out.charts) out[field] = await c.chart(field);
    out.values = await c.until("latest values in the table", () => {
      const cells = [...document.querySelectorAll('[data-testid^="value-"]')];
      return cells.length && cells.every((cell) => cell.textContent !== "—") ? cells.length : null;
    });
  },

  /** The router goes away and comes back (the test restarts it): the page says so and recovers. */
  async reconnect(c, out) {
    c.expected.push(/^WebSocket connection to .* failed/); // while the router is down
    await c.connected();
    await c.page.evaluate(() => {
      const box = document.querySelector('[data-testid="connection-state"]');
      window.seenStates = [box.dataset.state];
      new MutationObserver(() => window.seenStates.push(box.dataset.state))
        .observe(box, { attributes: true, attributeFilter: ["data-state"] });
    });
    await c.select("weather");
    out.before = await c.chart("temperature", 24);
    say({ step: "connected" });
    await stdinLine(); // router stopped
    out.reconnecting = await c.until("connection state 'reconnecting'", () => {
      const box = document.querySelector('[data-testid="connection-state"]');
      return box.dataset.state === "reconnecting" ? box.textContent.replace(/\s+/g, " ").trim() : null;
    });
    out.reconnectingShot = await c.shot("web-reconnecting");
    say({ step: "reconnecting" });
    await stdinLine(); // router started again
    await c.connected(30000); // the next retry is at most 10 s away
    await c.waitNode("weather");
    out.after = await c.chart("temperature", 24, 30000);
    out.states = await c.page.evaluate(() => window.seenStates);
    out.activity = await c.text("activity-log");
  },

  /** The weather node opens at the APEX day 2017-07-15; the date picker moves days. */
  async "apex-day"(c, out) {
    await c.connected();
    await c.select("weather");
    out.day = await c.page.inputValue('[data-testid="day-input"]');
    out.range = await c.text("range-label");
    out.temperature = await c.chart("temperature");
    // the values come with their own get_data calls, beside the charts' history
    out.value = await c.until("the temperature value", () => {
      const text = document.querySelector('[data-testid="value-temperature"]').textContent;
      return text !== "—" ? text : null;
    });
    out.at = await c.text("at-temperature");
    out.dayCalls = c.getDataCalls("weather").map((call) => call.args);
    out.screenshot = await c.shot("web-apex");
    // next day with the picker, then back by typing the date
    await c.page.click('[data-testid="day-next"]');
    await c.until("range 2017-07-16", () => document.querySelector('[data-testid="range-label"]').textContent.startsWith("2017-07-16"));
    out.nextDay = await c.chart("temperature");
    await c.page.fill('[data-testid="day-input"]', "2017-07-15");
    await c.until("range 2017-07-15", () => document.querySelector('[data-testid="range-label"]').textContent.startsWith("2017-07-15"));
    out.back = await c.chart("temperature");
    // a custom range, typed in UTC: 06:00 to 12:00 holds six hourly samples
    await c.page.click('[data-testid="range-custom"]');
    await c.page.fill('[data-testid="from-input"]', "2017-07-15T06:00:00");
    await c.page.fill('[data-testid="to-input"]', "2017-07-15T12:00:00");
    await c.page.click('[data-testid="apply-custom"]');
    await c.until("the custom range", () => document.querySelector('[data-testid="range-label"]').textContent.startsWith("2017-07-15 06:00:00 to"));
    out.custom = await c.chart("temperature");
    out.customLabel = await c.text("range-label");
    out.customHash = await c.page.evaluate(() => window.location.hash);
  },

  ...alerts,
  ...brewing,
  ...pixels,
  ...registry,
  ...sidebar,
  ...users,
};

async function main() {
  const opts = options(process.argv.slice(2));
  const run = scenarios[opts.scenario];
  if (!run) {
    say({ error: `unknown scenario ${opts.scenario}; known: ${Object.keys(scenarios).join(", ")}` });
    process.exit(2);
  }
  const out = { node: opts.node };
  let browser = null;
  let client = null;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true, timeout: 30000 });
    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    client = new Client(page, opts.artifacts);
    await client.open(opts.hash ? `${opts.url}#${opts.hash}` : opts.url);
    await run(client, out, { ...opts, say, next: stdinLine });
    out.problems = client.problems;
    say({ result: out });
  } catch (err) {
    if (client) {
      out.problems = client.problems;
      try {
        out.screenshot = await client.shot(`web-${opts.scenario}-failure`);
      } catch {
        // the page may be gone
      }
    }
    say({ error: err.message, partial: out });
    process.exitCode = 1;
  } finally {
    if (browser) await browser.close().catch(() => {});
  }
}

main().then(() => process.exit()); // stdout is a pipe: written synchronously on Linux
