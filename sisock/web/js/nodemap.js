// A map of located nodes (Leaflet, vendored from npm by web/build.mjs). No
// tile layer: the nodes are drawn over the world's countries (basemap.js,
// shipped with the page), so it works offline; one circle per node, on one
// canvas (a thousand stay fast), coloured by status, named in its tooltip,
// and a click selects the node.

/* global L */

import { addBaseLayer } from "./basemap.js";
import { el } from "./format.js";

/** Circle colour of a record: disabled, offline or live. */
function colour(record) {
  if (record.enabled === false) return "#8a8f98";
  if (record.connected === false) return "#c0392b";
  return "#1f8a4c";
}

export class NodeMap {
  /** @param {function} onSelect  called with a node's name when its circle is clicked */
  constructor(onSelect) {
    this.onSelect = onSelect;
    this.element = el("div", { class: "node-map", "data-testid": "node-map", "data-markers": "0" });
    this.map = null;
    this.layer = null;
  }

  /** Draw ``records`` ([{name, location: {lat, lon} | null, enabled?, connected?}]); fit the view to them. */
  show(records) {
    if (!window.L) {
      this.element.textContent = "the map library is missing: run node web/build.mjs";
      return;
    }
    if (!this.map) {
      this.map = L.map(this.element, { preferCanvas: true, attributionControl: false, zoomSnap: 0.25, maxZoom: 19,
        worldCopyJump: true });
      L.control.scale({ imperial: false }).addTo(this.map);
      addBaseLayer(this.map, this.element);
      this.layer = L.layerGroup().addTo(this.map);
    }
    this.layer.clearLayers();
    const located = records.filter((r) => r.location);
    for (const r of located) {
      L.circleMarker([r.location.lat, r.location.lon], { radius: 5, weight: 1, color: colour(r), fillOpacity: 0.8 })
        .bindTooltip(r.name)
        .on("click", () => this.onSelect(r.name))
        .addTo(this.layer);
    }
    this.element.dataset.markers = String(located.length);
    this.element.dataset.disabled = String(located.filter((r) => r.enabled === false).length);
    if (located.length) {
      this.map.invalidateSize();
      this.map.fitBounds(L.latLngBounds(located.map((r) => [r.location.lat, r.location.lon])).pad(0.1), { maxZoom: 17 });
    } else {
      this.map.setView([0, 0], 1);
    }
  }
}
