// The state's programs page: every program's service area on one Leaflet map (vendored under
// static/vendor/), each in its own colour, and the directory's service places as dots. The data
// comes from the page (json_script, #programs-map-data); the table beside it holds everything
// the map shows, for the keyboard and screen readers. Tiles come from MAP_TILE_URL; without one
// the areas are drawn on a plain background (offline, tests).

function readData(element) {
  const source = document.getElementById(element.dataset.map);
  try {
    return JSON.parse(source?.textContent || "{}");
  } catch {
    return {};
  }
}

function name(path, label, slug) {
  if (!path) return;
  path.setAttribute("role", "img");
  path.setAttribute("aria-label", label);
  if (slug) path.dataset.program = slug;
}

export function drawProgramsMap(element) {
  const L = window.L;
  if (!element) return null;
  if (!L) {
    element.textContent = "The map could not be loaded; the table below lists every program.";
    return null;
  }
  const data = readData(element);
  const map = L.map(element, { keyboard: true, worldCopyJump: true });
  if (data.tile_url) {
    L.tileLayer(data.tile_url, { attribution: data.tile_attribution || "", maxZoom: 19 }).addTo(map);
  }
  element.setAttribute("role", "region");
  element.setAttribute("aria-label", "Map of the programs' service areas");
  const bounds = L.latLngBounds([]);
  const layers = [];
  const places = [];
  for (const area of data.areas || []) {
    const layer = L.geoJSON(area.area, {
      style: { color: area.colour, weight: 2, fillColor: area.colour, fillOpacity: 0.25 },
    });
    layer.eachLayer((shape) => {
      shape.bindTooltip(`${area.name}${area.open_now ? " (open now)" : " (closed now)"}`, { sticky: true });
    });
    layer.addTo(map);
    bounds.extend(layer.getBounds());
    layers.push([area, layer]);
  }
  for (const place of data.places || []) {
    const marker = L.circleMarker([place.latitude, place.longitude], {
      radius: 5,
      color: "#222",
      weight: 1,
      fillColor: "#fff",
      fillOpacity: 1,
    }).addTo(map);
    const who = place.program ? "" : " (statewide)";
    marker.bindTooltip(`${place.service}${who}: ${place.place}`);
    bounds.extend(marker.getLatLng());
    places.push([`${place.service}${who}: ${place.place}`, marker]);
  }
  if (bounds.isValid()) {
    map.fitBounds(bounds, { padding: [16, 16] });
  } else {
    map.setView([39.5, -98.35], 4);
  }
  // Leaflet draws the shapes once the map has a view: name them then.
  for (const [area, layer] of layers) {
    layer.eachLayer((shape) => name(shape.getElement?.(), `${area.name} service area`, area.slug));
  }
  for (const [label, marker] of places) name(marker.getElement?.(), label, "");
  element.dataset.drawn = layers.map(([area]) => area.slug).join(" ");
  return map;
}

drawProgramsMap(document.getElementById("programs-map"));
