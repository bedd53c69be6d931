// A vector map drawn from coordinates alone (cameras, patrol units, paths, zones): no tiles and no
// internet, as many deployments have none. Equirectangular projection around the middle latitude,
// which is exact enough over a city district.
import { s, clear } from './ui.js';

const FONT = 16; // the labels' font size in map units (style.css: .map text)
const M_PER_DEG = 111320;

export class VectorMap {
  // width and height are in map units, whose 16 are a label's font size: a narrower map shows larger
  // labels and markers when drawn the same width on the screen (the patrol's phone).
  constructor({ width = 1000, height = 520, onClick } = {}) {
    this.w = width;
    this.h = height;
    this.svg = s('svg', { class: 'map', viewBox: `0 0 ${this.w} ${height}`, role: 'img', 'aria-label': 'map' });
    this.bounds = null;
    if (onClick) {
      this.svg.classList.add('drawing');
      this.svg.addEventListener('click', (e) => {
        const pt = this.svg.createSVGPoint();
        pt.x = e.clientX; pt.y = e.clientY;
        const p = pt.matrixTransform(this.svg.getScreenCTM().inverse());
        if (this.bounds) onClick(this.unproject(p.x, p.y));
      });
    }
  }

  // fit frames the given points (with a margin); the frame stays until fit is called again.
  fit(points) {
    const pts = points.filter((p) => p && Number.isFinite(p.lat) && Number.isFinite(p.lon));
    if (!pts.length) { this.bounds = null; return; }
    let minLat = Math.min(...pts.map((p) => p.lat)), maxLat = Math.max(...pts.map((p) => p.lat));
    let minLon = Math.min(...pts.map((p) => p.lon)), maxLon = Math.max(...pts.map((p) => p.lon));
    const minSpan = 0.002; // about 200 m, so one point still shows its surroundings
    if (maxLat - minLat < minSpan) { const c = (maxLat + minLat) / 2; minLat = c - minSpan / 2; maxLat = c + minSpan / 2; }
    if (maxLon - minLon < minSpan) { const c = (maxLon + minLon) / 2; minLon = c - minSpan / 2; maxLon = c + minSpan / 2; }
    const k = Math.cos(((minLat + maxLat) / 2) * Math.PI / 180);
    const spanX = (maxLon - minLon) * k, spanY = maxLat - minLat;
    const scale = Math.min(this.w / spanX, this.h / spanY) * 0.84;
    this.bounds = { k, scale, cLat: (minLat + maxLat) / 2, cLon: (minLon + maxLon) / 2 };
  }

  project(p) {
    const b = this.bounds;
    return [this.w / 2 + (p.lon - b.cLon) * b.k * b.scale, this.h / 2 - (p.lat - b.cLat) * b.scale];
  }

  unproject(x, y) {
    const b = this.bounds;
    return { lat: b.cLat - (y - this.h / 2) / b.scale, lon: b.cLon + (x - this.w / 2) / (b.k * b.scale) };
  }

  // render draws everything. The frame fits focus when given (e.g. an alert's camera, the person's path
  // and the assigned unit), else every point; it stays as it is with keepFrame. Units and cameras
  // outside the frame are drawn at its edge, pointing the way, with their distance from origin (the
  // frame's centre by default). lines join two points with a dashed line (e.g. a dispatched unit and the
  // alert's camera).
  render({ cameras = [], units = [], path = [], zones = [], marks = [], lines = [], focus, origin, highlightCamera, highlightUnit, keepFrame = false } = {}) {
    const svg = clear(this.svg);
    const all = [...cameras.map((c) => c.position), ...units.map((u) => u.position), ...path.map((p) => p.position),
      ...zones.flatMap((z) => z.points), ...marks.map((m) => m.position)].filter(Boolean);
    if (!keepFrame || !this.bounds) this.fit(focus && focus.some(Boolean) ? focus : all);
    if (!this.bounds) {
      svg.append(s('text', { x: this.w / 2, y: this.h / 2, 'text-anchor': 'middle' }, 'No positions configured for these cameras or units.'));
      return;
    }
    const from = origin || this.unproject(this.w / 2, this.h / 2);
    // Labels keep clear of every marker, not only of the labels placed before them.
    this.placed = [...cameras, ...units, ...path].filter((x) => x.position).map((x) => {
      const [px, py] = this.project(x.position);
      return { x0: px - 9, y0: py - 9, x1: px + 9, y1: py + 9 };
    });
    for (let x = 0; x <= this.w; x += 50) svg.append(s('line', { class: 'grid', x1: x, y1: 0, x2: x, y2: this.h }));
    for (let y = 0; y <= this.h; y += 50) svg.append(s('line', { class: 'grid', x1: 0, y1: y, x2: this.w, y2: y }));
    this.scaleBar(svg);

    for (const z of zones) {
      if (!z.points.length) continue;
      const pts = z.points.map((p) => this.project(p).join(',')).join(' ');
      const attrs = { points: pts, fill: z.color || '#3ecf8e', 'fill-opacity': 0.12, stroke: z.color || '#3ecf8e', 'stroke-width': 2, 'stroke-dasharray': '6 4' };
      svg.append(z.points.length > 2 ? s('polygon', attrs) : s('polyline', { ...attrs, fill: 'none' }));
      for (const p of z.points) {
        const [x, y] = this.project(p);
        svg.append(s('circle', { cx: x, cy: y, r: 3, fill: z.color || '#3ecf8e' }));
      }
      if (z.label) {
        const [x, y] = this.project(z.points[0]);
        svg.append(s('text', { x: x + 6, y: y - 6, fill: z.color || '#3ecf8e' }, z.label));
      }
    }

    for (const l of lines) {
      if (!l.from || !l.to) continue;
      const [x1, y1] = this.project(l.from), [x2, y2] = this.project(l.to);
      svg.append(s('line', { class: 'link', x1, y1, x2, y2, stroke: l.color || '#ff9f1a', 'stroke-width': 2.5, 'stroke-dasharray': '8 5' }));
    }

    for (const c of cameras) {
      if (!c.position) continue;
      const hi = c.id === highlightCamera;
      const col = c.online === false ? '#ff4d4f' : '#e6edf3';
      const [x, y] = this.project(c.position);
      if (!this.inside(x, y)) { this.offFrame(svg, c.position, from, `${c.name || c.id}`, col); continue; }
      if (hi) svg.append(s('circle', { cx: x, cy: y, r: 18, fill: 'none', stroke: '#ff4d4f', 'stroke-width': 3 }));
      svg.append(s('rect', { class: 'camera', x: x - 6, y: y - 6, width: 12, height: 12, fill: col, transform: `rotate(45 ${x} ${y})` }));
      this.label(svg, x, y, c.name || c.id);
    }

    for (const u of units) {
      if (!u.position) continue;
      const col = { available: '#3ecf8e', busy: '#ff9f1a', offline: '#93a4b5' }[u.status] || '#93a4b5';
      const label = `${u.name || u.id} (${u.status})`;
      const [x, y] = this.project(u.position);
      if (!this.inside(x, y)) { this.offFrame(svg, u.position, from, label, col, 'unit'); continue; }
      if (u.id === highlightUnit) svg.append(s('circle', { cx: x, cy: y, r: 16, fill: 'none', stroke: col, 'stroke-width': 3 }));
      svg.append(s('circle', { class: 'unit', cx: x, cy: y, r: 8, fill: col, stroke: '#0b131b', 'stroke-width': 2 }));
      this.label(svg, x, y, label, { fill: col });
    }

    const pathPts = path.filter((p) => p.position);
    if (pathPts.length > 1) {
      svg.append(s('polyline', { class: 'path', points: pathPts.map((p) => this.project(p.position).join(',')).join(' '),
        fill: 'none', stroke: '#4fb3f6', 'stroke-width': 3, 'stroke-linejoin': 'round', 'stroke-opacity': 0.9 }));
    }
    // A person who passes one camera twice gets both numbers at one point: "2,4".
    const at = new Map();
    pathPts.forEach((p, i) => {
      const k = `${p.position.lat},${p.position.lon}`;
      at.set(k, [...(at.get(k) || []), i + 1]);
    });
    for (const nums of at.values()) {
      const p = pathPts[nums[0] - 1];
      const [x, y] = this.project(p.position);
      const text = nums.join(',');
      const r = Math.max(11, 4 + 4 * text.length);
      nums.forEach(() => svg.append(s('circle', { class: 'path-point', cx: x, cy: y, r, fill: '#4fb3f6', stroke: '#0b131b', 'stroke-width': 2 })));
      svg.append(s('text', { x, y: y + 5, 'text-anchor': 'middle', class: 'path-label' }, text));
    }

    for (const m of marks) {
      if (!m.position) continue;
      const [x, y] = this.project(m.position);
      svg.append(s('circle', { class: 'mark', cx: x, cy: y, r: 9, fill: m.color || '#ff4d4f', stroke: '#fff', 'stroke-width': 2 }));
      if (m.label) this.label(svg, x, y, m.label);
    }
  }

  inside(x, y) { return x >= 0 && x <= this.w && y >= 0 && y <= this.h; }

  // label places text near (x, y) where it overlaps no label placed before (nearby cameras and units
  // would otherwise print over each other), trying right, above, left and below in turn.
  label(svg, x, y, text, attrs = {}) {
    const w = text.length * FONT * 0.56, hgt = FONT;
    const tries = [[10, 18, 'start'], [12, -8, 'start'], [-10, 18, 'end'], [-12, -8, 'end'], [0, 30, 'middle'], [0, -16, 'middle']];
    const box = ([dx, dy, anchor]) => {
      const x0 = anchor === 'start' ? x + dx : anchor === 'end' ? x + dx - w : x + dx - w / 2;
      return { x0, y0: y + dy - hgt, x1: x0 + w, y1: y + dy + 3 };
    };
    const free = (b) => b.x0 >= 0 && b.x1 <= this.w && b.y0 >= 0 && b.y1 <= this.h &&
      !this.placed.some((o) => b.x0 < o.x1 && o.x0 < b.x1 && b.y0 < o.y1 && o.y0 < b.y1);
    const pick = tries.find((t) => free(box(t))) || tries[0];
    this.placed.push(box(pick));
    svg.append(s('text', { ...attrs, x: x + pick[0], y: y + pick[1], 'text-anchor': pick[2] }, text));
  }

  // offFrame draws a point outside the frame as an arrow at the edge, in its direction from the centre,
  // labelled with its distance from origin.
  offFrame(svg, pos, origin, label, col, cls = 'off') {
    const [x, y] = this.project(pos);
    const cx = this.w / 2, cy = this.h / 2, inset = 16;
    const dx = x - cx, dy = y - cy;
    const k = Math.min((this.w / 2 - inset) / Math.abs(dx || 1e-9), (this.h / 2 - inset) / Math.abs(dy || 1e-9));
    const ex = cx + dx * k, ey = cy + dy * k;
    const ang = Math.atan2(dy, dx) * 180 / Math.PI;
    svg.append(s('polygon', { class: `${cls} off-frame`, points: '10,0 -6,-7 -6,7', fill: col, transform: `translate(${ex} ${ey}) rotate(${ang})` }));
    const m = distance(origin, pos);
    const text = `${label} · ${m >= 1000 ? (m / 1000).toFixed(1) + ' km' : Math.round(m) + ' m'} away`;
    const right = ex > this.w / 2;
    svg.append(s('text', { x: ex + (right ? -14 : 14), y: ey + (ey < this.h / 2 ? 22 : -12), 'text-anchor': right ? 'end' : 'start', fill: col }, text));
  }

  scaleBar(svg) {
    const mPerPx = M_PER_DEG / this.bounds.scale;
    const steps = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000];
    const m = steps.find((v) => v / mPerPx >= 80) || steps[steps.length - 1];
    const px = m / mPerPx, x0 = 20, y0 = this.h - 20;
    svg.append(s('line', { x1: x0, y1: y0, x2: x0 + px, y2: y0, stroke: '#93a4b5', 'stroke-width': 3 }));
    svg.append(s('text', { x: x0, y: y0 - 8, fill: '#93a4b5' }, m >= 1000 ? `${m / 1000} km` : `${m} m`));
  }
}

// distance is the great-circle distance between two points in metres.
export function distance(a, b) {
  const rad = Math.PI / 180, R = 6371000;
  const dLat = (b.lat - a.lat) * rad, dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(h)));
}
