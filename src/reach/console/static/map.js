// The location map: an SVG in Web Mercator with a graticule, the points of interest as dots
// and their radius drawn to scale. No tile server is needed; with one configured
// (``tiles``: an URL template with {z}/{x}/{y}) its tiles are drawn under the points.
// Keyboard: arrow keys pan, + and - zoom, Enter adds a point at the centre.

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const HEIGHT = 360;
const MAX_LATITUDE = 85.0511; // where Web Mercator's square world ends
const EARTH_CIRCUMFERENCE_KM = 40075.017;
const MAX_ZOOM = 12;
const TILE = 256;

function svg(tag, attributes = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

// Longitude/latitude to the world square [0, 1] x [0, 1] (y grows southwards).
export function project(latitude, longitude) {
  const phi = (Math.max(-MAX_LATITUDE, Math.min(MAX_LATITUDE, latitude)) * Math.PI) / 180;
  return {
    x: (longitude + 180) / 360,
    y: 0.5 - Math.log(Math.tan(Math.PI / 4 + phi / 2)) / (2 * Math.PI),
  };
}

export function unproject(x, y) {
  const longitude = x * 360 - 180;
  const latitude = (Math.atan(Math.sinh(Math.PI * (1 - 2 * y))) * 180) / Math.PI;
  return { latitude, longitude };
}

// A step of the graticule that keeps about 4 to 12 lines on screen.
function graticuleStep(zoom) {
  if (zoom <= 0) return 30;
  if (zoom <= 2) return 15;
  if (zoom <= 3) return 5;
  if (zoom <= 5) return 2;
  if (zoom <= 7) return 0.5;
  return 0.1;
}

const round = (value, decimals) => Math.round(value * 10 ** decimals) / 10 ** decimals;

export class LocationMap {
  // ``onAdd({latitude, longitude})`` is called when a point is added on the map.
  constructor(host, { label = "Map of the points of interest", tiles = null, onAdd = () => {} } = {}) {
    this.host = host;
    this.tiles = tiles;
    this.onAdd = onAdd;
    this.points = [];
    this.radiusKm = 0;
    this.zoom = 0;
    this.centre = { x: 0.5, y: 0.42 };
    this.root = svg("svg", {
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      role: "application",
      tabindex: "0",
      "aria-label": label,
      "aria-describedby": "map-hint",
      class: "map-canvas",
    });
    this.layers = {};
    for (const name of ["sea", "tiles", "graticule", "areas", "dots", "cross"]) {
      this.layers[name] = svg("g", { class: `map-${name}` });
      this.root.append(this.layers[name]);
    }
    this.layers.sea.append(svg("rect", { x: 0, y: 0, width: WIDTH, height: HEIGHT, class: "map-sea" }));
    const controls = document.createElement("div");
    controls.className = "map-controls";
    controls.append(
      this.button("+", "Zoom in", () => this.zoomBy(1)),
      this.button("−", "Zoom out", () => this.zoomBy(-1)),
      this.button("Show every point", null, () => this.fit()),
    );
    this.status = document.createElement("p");
    this.status.className = "hint map-status";
    this.status.setAttribute("aria-live", "polite");
    host.replaceChildren(this.root, controls, this.status);
    this.root.addEventListener("click", (event) => this.clicked(event));
    this.root.addEventListener("keydown", (event) => this.key(event));
    this.draw();
  }

  button(text, label, action) {
    const node = document.createElement("button");
    node.type = "button";
    node.className = "secondary";
    node.textContent = text;
    if (label) node.setAttribute("aria-label", label);
    node.addEventListener("click", action);
    return node;
  }

  // The world's size in pixels of the viewBox at the current zoom.
  get scale() {
    return WIDTH * 2 ** this.zoom;
  }

  toScreen(latitude, longitude) {
    const p = project(latitude, longitude);
    return {
      x: (p.x - this.centre.x) * this.scale + WIDTH / 2,
      y: (p.y - this.centre.y) * this.scale + HEIGHT / 2,
    };
  }

  fromScreen(x, y) {
    return unproject(
      this.centre.x + (x - WIDTH / 2) / this.scale,
      this.centre.y + (y - HEIGHT / 2) / this.scale,
    );
  }

  setPoints(points, radiusKm) {
    this.points = points;
    this.radiusKm = Number.isFinite(radiusKm) ? radiusKm : 0;
    this.draw();
  }

  zoomBy(steps) {
    this.zoom = Math.max(0, Math.min(MAX_ZOOM, this.zoom + steps));
    this.draw();
    this.status.textContent = `Zoom ${this.zoom}`;
  }

  pan(dx, dy) {
    const step = 0.25 / 2 ** this.zoom;
    this.centre = {
      x: (((this.centre.x + dx * step) % 1) + 1) % 1,
      y: Math.max(0, Math.min(1, this.centre.y + dy * step)),
    };
    this.draw();
  }

  // Centre on the points and zoom in as far as they all fit.
  fit() {
    const placed = this.points.filter((p) => Number.isFinite(p.latitude) && Number.isFinite(p.longitude));
    if (!placed.length) {
      this.zoom = 0;
      this.centre = { x: 0.5, y: 0.42 };
      this.draw();
      return;
    }
    const xs = placed.map((p) => project(p.latitude, p.longitude).x);
    const ys = placed.map((p) => project(p.latitude, p.longitude).y);
    const spanX = Math.max(...xs) - Math.min(...xs);
    const spanY = Math.max(...ys) - Math.min(...ys);
    this.centre = { x: (Math.max(...xs) + Math.min(...xs)) / 2, y: (Math.max(...ys) + Math.min(...ys)) / 2 };
    let zoom = 0;
    while (zoom < 8 && spanX * WIDTH * 2 ** (zoom + 1) < WIDTH * 0.8 && spanY * WIDTH * 2 ** (zoom + 1) < HEIGHT * 0.8) {
      zoom += 1;
    }
    this.zoom = zoom;
    this.draw();
  }

  clicked(event) {
    const matrix = this.root.getScreenCTM();
    if (!matrix) return;
    const at = new DOMPoint(event.clientX, event.clientY).matrixTransform(matrix.inverse());
    this.add(this.fromScreen(at.x, at.y));
  }

  add({ latitude, longitude }) {
    // A click is only so precise: four decimals (about 11 m).
    const wrapped = ((((longitude + 180) % 360) + 360) % 360) - 180;
    this.onAdd({ latitude: round(latitude, 4), longitude: round(wrapped, 4) });
  }

  key(event) {
    const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    if (moves[event.key]) {
      this.pan(...moves[event.key]);
    } else if (event.key === "+" || event.key === "=") {
      this.zoomBy(1);
    } else if (event.key === "-" || event.key === "_") {
      this.zoomBy(-1);
    } else if (event.key === "Enter" || event.key === " ") {
      this.add(this.fromScreen(WIDTH / 2, HEIGHT / 2));
    } else {
      return;
    }
    event.preventDefault();
  }

  draw() {
    this.drawTiles();
    this.drawGraticule();
    this.drawPoints();
    const cross = this.layers.cross;
    cross.replaceChildren(
      svg("path", { d: `M${WIDTH / 2 - 8} ${HEIGHT / 2}h16M${WIDTH / 2} ${HEIGHT / 2 - 8}v16`, class: "map-crosshair" }),
    );
  }

  drawTiles() {
    const layer = this.layers.tiles;
    layer.replaceChildren();
    if (!this.tiles) return;
    const z = Math.max(0, Math.min(19, Math.round(Math.log2(this.scale / TILE))));
    const count = 2 ** z;
    const size = this.scale / count;
    const left = this.centre.x * this.scale - WIDTH / 2;
    const top = this.centre.y * this.scale - HEIGHT / 2;
    const last = (edge) => Math.ceil(edge / size) - 1; // the tile ending at or after the edge
    for (let ty = Math.max(0, Math.floor(top / size)); ty <= Math.min(count - 1, last(top + HEIGHT)); ty += 1) {
      for (let tx = Math.floor(left / size); tx <= last(left + WIDTH); tx += 1) {
        const wrapped = ((tx % count) + count) % count;
        const href = this.tiles.replace("{z}", z).replace("{x}", wrapped).replace("{y}", ty);
        layer.append(
          svg("image", { href, x: tx * size - left, y: ty * size - top, width: size + 0.5, height: size + 0.5, class: "map-tile" }),
        );
      }
    }
  }

  drawGraticule() {
    const layer = this.layers.graticule;
    layer.replaceChildren();
    const step = graticuleStep(this.zoom);
    const north = this.fromScreen(0, 0).latitude;
    const south = this.fromScreen(0, HEIGHT).latitude;
    const west = this.fromScreen(0, 0).longitude;
    const east = this.fromScreen(WIDTH, 0).longitude;
    const lines = [];
    for (let lat = Math.ceil(south / step) * step; lat <= north; lat += step) {
      if (Math.abs(lat) > MAX_LATITUDE) continue;
      const y = this.toScreen(lat, 0).y;
      lines.push(svg("line", { x1: 0, x2: WIDTH, y1: y, y2: y, class: lat === 0 ? "map-line map-equator" : "map-line" }));
      lines.push(this.label(`${round(lat, 2)}°`, 4, y - 3));
    }
    for (let lon = Math.ceil(west / step) * step; lon <= east; lon += step) {
      const x = this.toScreen(0, lon).x;
      lines.push(svg("line", { x1: x, x2: x, y1: 0, y2: HEIGHT, class: lon === 0 ? "map-line map-equator" : "map-line" }));
      const shown = ((((lon + 180) % 360) + 360) % 360) - 180;
      lines.push(this.label(`${round(shown, 2)}°`, x + 3, HEIGHT - 4));
    }
    layer.append(...lines);
  }

  label(text, x, y) {
    const node = svg("text", { x, y, class: "map-label" });
    node.textContent = text;
    return node;
  }

  drawPoints() {
    const areas = this.layers.areas;
    const dots = this.layers.dots;
    areas.replaceChildren();
    dots.replaceChildren();
    this.points.forEach((point, index) => {
      // A point off the globe has no place on the map (the form shows why it is refused).
      if (!(Math.abs(point.latitude) <= 90 && Math.abs(point.longitude) <= 180)) return;
      const at = this.toScreen(point.latitude, point.longitude);
      // Repeated around the date line so a point stays visible wherever the view is.
      for (const shift of [-this.scale, 0, this.scale]) {
        const x = at.x + shift;
        const cos = Math.cos((Math.min(MAX_LATITUDE, Math.abs(point.latitude)) * Math.PI) / 180);
        const radius = (this.radiusKm / (EARTH_CIRCUMFERENCE_KM * cos)) * this.scale;
        const reach = Math.max(radius, 4);
        if (x < -reach || x > WIDTH + reach) continue;
        if (radius >= 2) areas.append(svg("circle", { cx: x, cy: at.y, r: radius, class: "map-area" }));
        const dot = svg("circle", { cx: x, cy: at.y, r: 4, class: "map-dot" });
        const title = svg("title");
        title.textContent = `${point.name || `Point ${index + 1}`}: ${point.latitude}, ${point.longitude}`;
        dot.append(title);
        dots.append(dot);
      }
    });
  }
}
