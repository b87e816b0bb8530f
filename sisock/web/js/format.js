// Formatting for the page: times always in UTC, numbers with their units.

const pad = (n, w = 2) => String(n).padStart(w, "0");

/** "2017-07-15 13:00:00" (UTC) from UNIX seconds; "" for null. */
export function utc(t, { seconds = true, date = true } = {}) {
  if (t === null || t === undefined || !Number.isFinite(t)) return "";
  const d = new Date(t * 1000);
  const day = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}` + (seconds ? `:${pad(d.getUTCSeconds())}` : "");
  return date ? `${day} ${time}` : time;
}

/** "2017-07-15" (UTC day) of UNIX seconds. */
export function utcDay(t) {
  return utc(t).slice(0, 10);
}

/** UNIX seconds of the start of a "YYYY-MM-DD" UTC day; NaN if malformed. */
export function parseDay(text) {
  return /^\d{4}-\d{2}-\d{2}$/.test(text) ? Date.parse(`${text}T00:00:00Z`) / 1000 : NaN;
}

/** UNIX seconds of a "YYYY-MM-DDTHH:MM[:SS]" read as UTC; NaN if malformed. */
export function parseUtc(text) {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text) ? Date.parse(`${text}Z`) / 1000 : NaN;
}

/** Value for an <input type="datetime-local"> showing UNIX seconds in UTC. */
export function toUtcInput(t) {
  return utc(t).replace(" ", "T");
}

/** "1 h", "15 min", "7 d" for a duration in seconds. */
export function duration(seconds) {
  const units = [[86400, "d"], [3600, "h"], [60, "min"], [1, "s"]];
  for (const [size, name] of units) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size} ${name}`;
  }
  return `${+seconds.toPrecision(3)} s`;
}

/** A number readable at a glance: 4-5 significant digits, exponent only when needed. */
export function number(v) {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e7 || a < 1e-3)) return v.toExponential(3);
  if (Number.isInteger(v)) return String(v);
  return String(+v.toPrecision(a >= 1000 ? 7 : 4));
}

const BINARY = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** Bytes with a binary prefix: 1536 -> "1.5 KiB". */
export function bytes(v) {
  let i = 0;
  while (Math.abs(v) >= 1024 && i < BINARY.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${+v.toFixed(v >= 100 || i === 0 ? 0 : 1)} ${BINARY[i]}`;
}

/** A field value with its units, as shown in the fields table. */
export function value(v, units = "", type = "number") {
  if (v === null || v === undefined) return "—";
  if (type === "bool" || typeof v === "boolean") return v ? "true" : "false";
  if (type === "string" || typeof v === "string") return String(v);
  if (units === "bytes") return bytes(v);
  if (units === "bytes/s") return `${bytes(v)}/s`;
  return units ? `${number(v)} ${units}` : number(v);
}

/** Axis tick label for a value in ``units`` (short: no units, they are on the axis). */
export function tick(v, units = "") {
  if (v === null || v === undefined) return "";
  if (units === "bytes" || units === "bytes/s") return bytes(v);
  return number(v);
}

/** ``draw`` wrapped to run at the next animation frame, once however often it is asked for before then. */
export function perFrame(draw) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      draw();
    });
  };
}

/** A DOM element: ``el("td", {class: "x", text: "y"}, child...)``; ``text`` sets textContent, other keys attributes. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}
