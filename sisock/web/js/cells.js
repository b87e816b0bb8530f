// How a field's value is shown in a table cell: a number with its units, a
// colour as a swatch and #rrggbb, a long string (a frame as hex, JSON) cut
// to a readable length with its size, whole in the cell's tooltip.

import { el, value as formatValue } from "./format.js";

/** Units of a number that is a colour 0xRRGGBB (the pixel node's pNNNN fields). */
export const COLOUR_UNITS = "0xRRGGBB";
/** Characters of a string shown in a cell; a longer one is cut. */
const SHOWN = 24;
/** Characters of a string kept in the tooltip. */
const TOOLTIP = 2000;

/** "#rrggbb" of a colour packed as the integer 0xRRGGBB. */
export function colourHex(v) {
  return `#${((v >>> 0) & 0xffffff).toString(16).padStart(6, "0")}`;
}

/** The text a value reads as in a cell (what `showValue` writes, without the swatch). */
export function valueText(v, units = "", type = "number") {
  if (units === COLOUR_UNITS && typeof v === "number") return colourHex(v);
  const text = formatValue(v, units, type);
  return text.length > SHOWN ? `${text.slice(0, SHOWN)}… (${text.length} characters)` : text;
}

/**
 * Show value ``v`` of a field ({units, type}) in ``cell`` (a no-op if it shows it already): its text, a
 * colour swatch before a colour, the whole of a cut string in the tooltip.
 */
export function showValue(cell, v, { units = "", type = "number" } = {}) {
  const text = valueText(v, units, type);
  const colour = units === COLOUR_UNITS && typeof v === "number";
  if (cell.dataset.shown === text && cell.childNodes.length) return;
  cell.dataset.shown = text;
  cell.replaceChildren(...(colour ? [el("span", { class: "swatch", "data-testid": "swatch",
    style: `background: ${text}` })] : []), text);
  const whole = typeof v === "string" && text !== v ? v : "";
  cell.title = whole.length > TOOLTIP ? `${whole.slice(0, TOOLTIP)}…` : whole;
}
