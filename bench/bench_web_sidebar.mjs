// The web client's node list with many nodes, in headless Chromium:
//
//   node bench/bench_web_sidebar.mjs [--counts 1000,10000] [--repeats 5]
//
// Serves sisock/web/ itself on a free loopback port (no router: the list is
// given synthetic nodes, all in one dotted group "site" plus 3 of their own)
// and prints, for each count, the median over the repeats of the
// milliseconds from setAll() to the list drawn and laid out (two
// animation frames waited for included: the list draws at the next one), and the
// elements it made: the grouped list collapsed, its group opened (at most
// SHOWN nodes drawn), a search for one name, and beside them every node
// drawn as one button (the list as it was before the groups).

import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { dirname, extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const WEB = join(ROOT, "sisock", "web");
const CHROMIUM = process.env.SISOCK_CHROMIUM || "/usr/bin/chromium";
const TYPES = { ".js": "text/javascript", ".css": "text/css", ".html": "text/html" };
const PAGE = '<!doctype html><link rel="stylesheet" href="/style.css"><body><div class="layout"><nav class="sidebar"></nav></div>';

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

function serve() {
  const server = createServer(async (request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url, "http://x").pathname));
    try {
      if (!join(WEB, path).startsWith(WEB)) throw new Error("outside sisock/web");
      const body = path === "/" ? PAGE : await readFile(join(WEB, path));
      response.writeHead(200, { "content-type": TYPES[extname(path)] || "text/html" }).end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  return new Promise((r) => server.listen(0, "127.0.0.1", () => r(server)));
}

/** One run in the page: {grouped, open, search, flat} of {ms, elements} for ``n`` nodes. */
function once(page, n) {
  return page.evaluate(async (count) => {
    const { NodeList } = await import("/js/nodes.js");
    const sidebar = document.querySelector(".sidebar");
    const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    const nodes = Array.from({ length: count }, (_, i) => ({ name: `site.lamp${String(i).padStart(5, "0")}`,
      description: `street lamp ${i}` }));
    nodes.push(...["alpha", "beta", "gamma"].map((name) => ({ name, description: "" })));
    const out = {};
    const measure = async (what, list, act) => {
      const t0 = performance.now();
      await act();
      list.offsetHeight; // the layout counts too
      out[what] = { ms: performance.now() - t0, elements: list.querySelectorAll("*").length };
    };
    // grouped: collapsed, the group opened, a search
    const list = document.createElement("ul");
    const search = Object.assign(document.createElement("input"), { type: "search" });
    sidebar.replaceChildren(search, list);
    const nodeList = new NodeList(list, document.createElement("span"), document.createElement("p"), () => {}, search);
    await measure("grouped", list, async () => {
      nodeList.setAll(nodes);
      await frame();
    });
    await measure("open", list, async () => list.querySelector('[data-testid="node-group-toggle"]').click());
    await measure("search", list, async () => {
      search.value = `lamp${String(count - 1).padStart(5, "0")}`;
      search.dispatchEvent(new Event("input"));
      await frame();
    });
    // flat: every node one button, as the list drew them before the groups
    const flat = document.createElement("ul");
    flat.className = "node-list";
    sidebar.replaceChildren(flat);
    await measure("flat", flat, async () => {
      for (const { name, description } of nodes) {
        const li = document.createElement("li");
        li.className = "node";
        const button = document.createElement("button");
        for (const [cls, text] of [["dot", ""], ["name", name], ["desc", description]]) {
          const span = document.createElement("span");
          span.className = cls;
          span.textContent = text;
          button.append(span);
        }
        button.addEventListener("click", () => {});
        li.append(button);
        flat.append(li);
      }
      await frame();
    });
    sidebar.replaceChildren();
    return out;
  }, n);
}

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const counts = option("counts", "1000,10000").split(",").map(Number);
  const repeats = Number(option("repeats", "5"));
  const server = await serve();
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu"] });
  try {
    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    console.log(`median of ${repeats} runs; ms from setAll() to drawn and laid out, elements in the list`);
    console.log(["nodes", "what", "ms", "elements"].map((h, i) => h.padStart(i === 1 ? 34 : 9)).join(""));
    const names = { grouped: "grouped, collapsed", open: "grouped, group opened", search: "grouped, search for one name",
      flat: "every node drawn (before)" };
    for (const n of counts) {
      const runs = [];
      for (let i = 0; i < repeats; i++) runs.push(await once(page, n));
      for (const what of ["grouped", "open", "search", "flat"]) {
        const ms = median(runs.map((r) => r[what].ms));
        console.log(`${String(n).padStart(9)}${names[what].padStart(34)}${ms.toFixed(1).padStart(9)}` +
          `${String(runs[0][what].elements).padStart(9)}`);
      }
    }
  } finally {
    await browser.close();
    server.close();
  }
}

main();
