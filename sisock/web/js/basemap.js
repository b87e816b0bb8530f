// The offline base layer of the node map: the world's countries from
// Natural Earth (world-atlas's TopoJSON at 1:50m, converted with
// topojson-client), both vendored from npm by web/build.mjs. No tile is
// ever fetched: the page works without the internet.

/* global L, topojson */

/** The TopoJSON file in sisock/web/vendor/. */
const ATLAS = "vendor/countries-50m.json";
/** Leaflet pane of the base layer: under the markers' overlay pane (z-index 400). */
const PANE = "base";

let loading = null;

/**
 * ``ring`` ([[lon, lat], ...]) without jumps across the antimeridian: a point more than 180 degrees
 * of longitude from the one before is moved by 360, so Leaflet, which draws on a plane, draws no
 * line around the world (the atlas is cut for spherical projections).
 */
function unwrap(ring) {
  let shift = 0;
  return ring.map(([lon, lat], i) => {
    if (i > 0) {
      const step = lon - ring[i - 1][0];
      if (step > 180) shift -= 360;
      else if (step < -180) shift += 360;
    }
    return [lon + shift, lat];
  });
}

/** The polygons of ``geometry`` (Polygon or MultiPolygon) with each ring unwrapped. */
function unwrapped(geometry) {
  if (geometry.type === "Polygon") return { ...geometry, coordinates: geometry.coordinates.map(unwrap) };
  if (geometry.type === "MultiPolygon") {
    return { ...geometry, coordinates: geometry.coordinates.map((polygon) => polygon.map(unwrap)) };
  }
  return geometry;
}

/** GeoJSON FeatureCollection of the countries, read once per page. */
function countries() {
  if (!loading) {
    loading = fetch(ATLAS).then((response) => {
      if (!response.ok) throw new Error(`${ATLAS}: HTTP ${response.status}; run node web/build.mjs`);
      return response.json();
    }).then((topology) => {
      const world = topojson.feature(topology, topology.objects.countries);
      world.features.forEach((f) => (f.geometry = f.geometry && unwrapped(f.geometry)));
      return world;
    });
  }
  return loading;
}

/**
 * Draw the countries under everything else on Leaflet ``map``; sets ``element.dataset.base`` to
 * "ready" (with ``data-base-features``, their count) or "missing" (and says why in the console).
 */
export async function addBaseLayer(map, element) {
  map.createPane(PANE).style.zIndex = "250";
  element.dataset.base = "loading";
  try {
    if (!window.topojson) throw new Error("topojson-client is missing: run node web/build.mjs");
    const world = await countries();
    L.geoJSON(world, {
      pane: PANE,
      renderer: L.canvas({ pane: PANE }),
      interactive: false,
      style: { color: "#5b6d80", weight: 0.8, fillColor: "#2b3a4a", fillOpacity: 1 }, // land on the sea of .node-map
    }).addTo(map);
    element.dataset.base = "ready";
    element.dataset.baseFeatures = String(world.features.length);
  } catch (err) {
    element.dataset.base = "missing";
    console.warn(`node map without a base layer: ${err.message}`);
  }
}
