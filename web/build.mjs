// Copy the browser libraries the web client uses from node_modules/ into
// sisock/web/vendor/, so the router serves everything itself (no CDN, no
// bundler) and a wheel built afterwards carries them as package data.
//
//   npm ci && node web/build.mjs      (what `make up` / `make test` run)
//
// sisock/web/vendor/ is generated and git-ignored; the versions are the ones pinned
// in package-lock.json. Exits non-zero with a sentence if a file is missing.

import { copyFileSync, mkdirSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const MODULES = join(ROOT, "node_modules");
const VENDOR = join(ROOT, "sisock", "web", "vendor");

// [package, file in the package, name in sisock/web/vendor/]
const FILES = [
  ["autobahn-browser", "autobahn.min.js", "autobahn.min.js"],
  ["autobahn-browser", "LICENSE", "autobahn.LICENSE"],
  ["uplot", "dist/uPlot.iife.min.js", "uPlot.iife.min.js"],
  ["uplot", "dist/uPlot.min.css", "uPlot.min.css"],
  ["uplot", "LICENSE", "uPlot.LICENSE"],
  ["leaflet", "dist/leaflet.js", "leaflet.js"],
  ["leaflet", "dist/leaflet.css", "leaflet.css"],
  ["leaflet", "LICENSE", "leaflet.LICENSE"],
  ["topojson-client", "dist/topojson-client.min.js", "topojson-client.min.js"],
  ["topojson-client", "LICENSE", "topojson-client.LICENSE"],
  ["world-atlas", "countries-50m.json", "countries-50m.json"], // Natural Earth 1:50m, the node map's base layer
  ["world-atlas", "LICENSE", "world-atlas.LICENSE"],
];

mkdirSync(VENDOR, { recursive: true });
const versions = {};
for (const [pkg, file, target] of FILES) {
  const source = join(MODULES, pkg, file);
  if (!existsSync(source)) {
    console.error(`web/build.mjs: ${relative(ROOT, source)} is missing; run \`npm ci\` in ${ROOT} first`);
    process.exit(1);
  }
  copyFileSync(source, join(VENDOR, target));
  versions[pkg] = JSON.parse(readFileSync(join(MODULES, pkg, "package.json"), "utf8")).version;
}
writeFileSync(join(VENDOR, "versions.json"), JSON.stringify(versions, null, 2) + "\n");
console.log(`web/build.mjs: vendored ${Object.entries(versions).map(([p, v]) => `${p} ${v}`).join(", ")} into sisock/web/vendor/`);
