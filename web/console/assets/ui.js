// DOM helpers. Every text goes in through textContent or attribute setters, never as HTML, so data from
// the server (names, notes) cannot become markup.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';

export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof el[k] !== 'function' && !(el instanceof SVGElement)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function toast(msg, kind = 'info') {
  const t = h('div', { class: ['toast', kind] }, msg);
  document.getElementById('toasts').append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 9000 : 4000);
}

// Times are shown in the browser's time zone (named once in the header, see zoneName) on a 24-hour
// clock; today's times without the date, which an operator reads at a glance.
const clock = { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' };

export function fmtTime(t, now = new Date()) {
  if (!t) return '';
  const d = new Date(t);
  if (isNaN(d)) return '';
  if (d.toDateString() === now.toDateString()) return d.toLocaleTimeString(undefined, clock);
  const date = { day: '2-digit', month: 'short' };
  if (d.getFullYear() !== now.getFullYear()) date.year = 'numeric';
  return d.toLocaleString(undefined, { ...date, ...clock });
}

// fmtDate is a day, for expiry dates and the like.
export function fmtDate(t) {
  if (!t) return '';
  const d = new Date(t);
  if (isNaN(d)) return '';
  return d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: '2-digit' });
}

// zoneName names the time zone the console's times are in, e.g. "Europe/Brussels (UTC+1)".
export function zoneName(d = new Date()) {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';
  const off = -d.getTimezoneOffset();
  const sign = off < 0 ? '-' : '+';
  const hh = Math.floor(Math.abs(off) / 60), mm = Math.abs(off) % 60;
  const utc = off === 0 ? 'UTC' : `UTC${sign}${hh}${mm ? ':' + String(mm).padStart(2, '0') : ''}`;
  return zone === 'UTC' || zone === 'Etc/UTC' ? 'UTC' : `${zone} (${utc})`;
}

export function ago(t, now = Date.now()) {
  if (!t) return 'never';
  const s = Math.max(0, Math.round((now - new Date(t).getTime()) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function secondsText(sec) {
  if (sec < 0) return 'never';
  if (sec < 60) return `${sec.toFixed(sec < 10 ? 1 : 0)} s`;
  if (sec < 3600) return `${Math.round(sec / 60)} min`;
  return `${Math.round(sec / 3600)} h`;
}

export const categoryText = { at_risk: 'At risk', missing: 'Missing', suspect: 'Suspect' };
export const statusText = {
  open: 'Open', confirmed: 'Confirmed', dispatched: 'Dispatched', acknowledged: 'Acknowledged',
  on_scene: 'On scene', resolved: 'Resolved', dismissed: 'Dismissed',
};
export const ruleText = {
  watchlist_hit: 'Watch-list match', safe_zone_exit: 'Left safe zone', loitering: 'Loitering',
  camera_offline: 'Camera offline', camera_tampered: 'Camera tampered',
};

export function pct(x) { return `${(x * 100).toFixed(0)}%`; }

// toLocalInput formats a Date for <input type="datetime-local">.
export function toLocalInput(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function field(labelText, input) {
  return h('div', null, h('label', null, labelText, ' '), input);
}
