// A vector map drawn from coordinates alone (cameras, patrol units, paths, zones): no tiles and no
// internet, as many deployments have none. Equirectangular projection around the middle latitude,
// which is exact enough over a city district.
import { s, clear } from './ui.js';

const W = 1000;
const M_PER_DEG = 111320;

export class VectorMap {
  constructor({ height = 520, onClick } = {}) {
    this.h = height;
    this.svg = s('svg', { class: 'map', viewBox: `0 0 ${W} ${height}`, role: 'img', 'aria-label': 'map' });
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
    const scale = Math.min(W / spanX, this.h / spanY) * 0.84;
    this.bounds = { k, scale, cLat: (minLat + maxLat) / 2, cLon: (minLon + maxLon) / 2 };
  }

  project(p) {
    const b = this.bounds;
    return [W / 2 + (p.lon - b.cLon) * b.k * b.scale, this.h / 2 - (p.lat - b.cLat) * b.scale];
  }

  unproject(x, y) {
    const b = this.bounds;
    return { lat: b.cLat - (y - this.h / 2) / b.scale, lon: b.cLon + (x - W / 2) / (b.k * b.scale) };
  }

  // render draws everything; fit is called first with all the points unless keepFrame is set.
  render({ cameras = [], units = [], path = [], zones = [], marks = [], highlightCamera, highlightUnit, keepFrame = false } = {}) {
    const svg = clear(this.svg);
    const all = [...cameras.map((c) => c.position), ...units.map((u) => u.position), ...path.map((p) => p.position),
      ...zones.flatMap((z) => z.points), ...marks.map((m) => m.position)].filter(Boolean);
    if (!keepFrame || !this.bounds) this.fit(all);
    if (!this.bounds) {
      svg.append(s('text', { x: W / 2, y: this.h / 2, 'text-anchor': 'middle' }, 'No positions configured for these cameras or units.'));
      return;
    }
    for (let x = 0; x <= W; x += 50) svg.append(s('line', { class: 'grid', x1: x, y1: 0, x2: x, y2: this.h }));
    for (let y = 0; y <= this.h; y += 50) svg.append(s('line', { class: 'grid', x1: 0, y1: y, x2: W, y2: y }));
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

    for (const c of cameras) {
      if (!c.position) continue;
      const [x, y] = this.project(c.position);
      const hi = c.id === highlightCamera;
      const col = c.online === false ? '#ff4d4f' : '#e6edf3';
      if (hi) svg.append(s('circle', { cx: x, cy: y, r: 18, fill: 'none', stroke: '#ff4d4f', 'stroke-width': 3 }));
      svg.append(s('rect', { class: 'camera', x: x - 6, y: y - 6, width: 12, height: 12, fill: col, transform: `rotate(45 ${x} ${y})` }));
      svg.append(s('text', { x: x + 10, y: y + 18 }, c.name || c.id));
    }

    for (const u of units) {
      if (!u.position) continue;
      const [x, y] = this.project(u.position);
      const col = { available: '#3ecf8e', busy: '#ff9f1a', offline: '#93a4b5' }[u.status] || '#93a4b5';
      if (u.id === highlightUnit) svg.append(s('circle', { cx: x, cy: y, r: 16, fill: 'none', stroke: col, 'stroke-width': 3 }));
      svg.append(s('circle', { class: 'unit', cx: x, cy: y, r: 8, fill: col, stroke: '#0b131b', 'stroke-width': 2 }));
      svg.append(s('text', { x: x + 12, y: y - 8, fill: col }, `${u.name || u.id} (${u.status})`));
    }

    const pathPts = path.filter((p) => p.position);
    if (pathPts.length > 1) {
      svg.append(s('polyline', { class: 'path', points: pathPts.map((p) => this.project(p.position).join(',')).join(' '),
        fill: 'none', stroke: '#4fb3f6', 'stroke-width': 3, 'stroke-linejoin': 'round', 'stroke-opacity': 0.9 }));
    }
    pathPts.forEach((p, i) => {
      const [x, y] = this.project(p.position);
      svg.append(s('circle', { class: 'path-point', cx: x, cy: y, r: 11, fill: '#4fb3f6', stroke: '#0b131b', 'stroke-width': 2 }));
      svg.append(s('text', { x, y: y + 4, 'text-anchor': 'middle', fill: '#04121d', 'font-weight': 700 }, String(i + 1)));
    });

    for (const m of marks) {
      if (!m.position) continue;
      const [x, y] = this.project(m.position);
      svg.append(s('circle', { class: 'mark', cx: x, cy: y, r: 9, fill: m.color || '#ff4d4f', stroke: '#fff', 'stroke-width': 2 }));
      if (m.label) svg.append(s('text', { x: x + 12, y: y + 4 }, m.label));
    }
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
