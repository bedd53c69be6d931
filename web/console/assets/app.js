// The console's shell: session, navigation by role, the page router (location hash), and the alert
// stream that every page shares so a new critical alert is noticed wherever the operator is.
import { api, setSession, currentUser, onSessionExpired, csrfToken } from './api.js';
import { h, clear, toast, zoneName } from './ui.js';
import * as login from './pages/login.js';
import * as wall from './pages/wall.js';
import * as alert from './pages/alert.js';
import * as live from './pages/live.js';
import * as investigate from './pages/investigate.js';
import * as watchlist from './pages/watchlist.js';
import * as patrols from './pages/patrols.js';
import * as guardian from './pages/guardian.js';
import * as audit from './pages/audit.js';
import * as patrol from './pages/patrol.js';

const pages = { login, wall, alert, live, investigate, watchlist, patrols, guardian, audit, patrol };

const navByRole = {
  admin: ['wall', 'live', 'investigate', 'watchlist', 'patrols', 'audit'],
  operator: ['wall', 'live', 'watchlist', 'patrols'],
  investigator: ['wall', 'live', 'investigate', 'watchlist', 'patrols'],
  patrol: ['patrol', 'wall', 'patrols'],
  guardian: ['guardian'],
  auditor: ['audit'],
};
const navText = { patrol: 'Assignment', wall: 'Alerts', live: 'Live view', investigate: 'Investigation', watchlist: 'Watch list', patrols: 'Patrols', guardian: 'My family', audit: 'Audit log' };
const alertReaders = ['admin', 'operator', 'investigator', 'patrol', 'guardian'];

// Diagnostics for people and tests: live players, the stream, the page shown.
window.snowlight = { players: {}, stream: null, page: '' };

// AlertStream keeps one EventSource open and fans its events out to the pages that listen.
class AlertStream {
  constructor() {
    this.listeners = new Set();
    this.es = null;
    this.state = 'off';
    this.sound = false;
    this.audio = null;
  }

  start() {
    if (this.es) return;
    this.es = new EventSource('/api/v1/alerts/stream');
    this.setState('connecting');
    this.es.onopen = () => this.setState('live');
    this.es.onerror = () => this.setState(this.es && this.es.readyState === EventSource.CLOSED ? 'down' : 'reconnecting');
    const on = (type) => (e) => {
      let a;
      try { a = JSON.parse(e.data); } catch { return; }
      for (const fn of this.listeners) fn(type, a);
      if (type === 'alert' && a.severity === 'critical') this.cue(a);
      // Someone has taken the alert on: the banner has done its job.
      const b = document.getElementById('banner');
      if (type === 'update' && b.dataset.alert === a.id && a.status !== 'open') b.hidden = true;
    };
    this.es.addEventListener('alert', on('alert'));
    this.es.addEventListener('update', on('update'));
    // The server ends the stream with the login (logout elsewhere, password changed, account
    // disabled, session expired): ask for a login rather than reconnect.
    this.es.addEventListener('session_ended', () => sessionEnded());
  }

  stop() {
    if (this.es) this.es.close();
    this.es = null;
    this.setState('off');
  }

  // opened resolves once the stream is connected, so a page can list what exists without missing
  // anything created in between.
  opened(timeoutMs = 3000) {
    if (this.state === 'live') return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      const check = () => { if (this.state === 'live') { clearTimeout(t); resolve(); } else setTimeout(check, 30); };
      check();
    });
  }

  listen(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); }

  setState(st) {
    this.state = st;
    const el = document.getElementById('stream-state');
    el.hidden = st === 'off';
    el.textContent = { connecting: 'connecting…', live: '● live', reconnecting: 'reconnecting…', down: 'stream down' }[st] || st;
    el.className = 'pill ' + (st === 'live' ? 'live' : 'down');
  }

  cue(a) {
    const b = document.getElementById('banner');
    const close = h('button', { type: 'button', class: 'close small', title: 'hide' }, '×');
    close.addEventListener('click', (e) => { e.stopPropagation(); b.hidden = true; });
    const title = a.title || a.rule;
    const who = a.person_name && !title.includes(a.person_name) ? ` — ${a.person_name}` : '';
    clear(b).append(close, `New critical alert: ${title}${who} at ${a.camera_name || a.camera}. Click to open.`);
    b.hidden = false;
    b.dataset.alert = a.id;
    b.onclick = () => { b.hidden = true; location.hash = `#/alert/${encodeURIComponent(a.id)}`; };
    // Restart the flashing for each new alert.
    b.style.animation = 'none'; void b.offsetWidth; b.style.animation = '';
    document.title = '(!) Snowlight console';
    if (this.sound) this.beep();
  }

  beep() {
    try {
      this.audio = this.audio || new AudioContext();
      const o = this.audio.createOscillator(), g = this.audio.createGain();
      o.frequency.value = 880; g.gain.value = 0.15;
      o.connect(g).connect(this.audio.destination);
      o.start(); o.stop(this.audio.currentTime + 0.35);
    } catch { /* no audio device */ }
  }
}

const stream = new AlertStream();
window.snowlight.stream = stream;
let cleanup = null;

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [pathPart, query = ''] = raw.split('?');
  const [name, ...rest] = pathPart.split('/');
  return { name: name || '', args: rest.map(decodeURIComponent), query: new URLSearchParams(query) };
}

function home(user) { return (navByRole[user.role] || ['wall'])[0]; }

async function route() {
  const user = currentUser();
  let { name, args, query } = parseHash();
  if (!user) name = 'login';
  else if (!name || name === 'login' || !pages[name]) name = home(user);
  else if (name !== 'alert' && !(navByRole[user.role] || []).includes(name)) name = home(user);
  if (cleanup) { try { cleanup(); } catch { /* page already gone */ } cleanup = null; }
  renderNav(name);
  const main = clear(document.getElementById('main'));
  document.documentElement.dataset.page = name;
  window.snowlight.page = name;
  try {
    cleanup = (await pages[name].render(main, { args, query, stream, user, loggedIn })) || null;
  } catch (e) {
    main.append(h('p', { class: 'error-text' }, e.message || String(e)));
  }
}

function renderNav(current) {
  const user = currentUser();
  const top = document.getElementById('top');
  top.hidden = !user;
  if (!user) return;
  const nav = clear(document.getElementById('nav'));
  for (const p of navByRole[user.role] || []) {
    nav.append(h('a', { href: `#/${p}`, class: p === current || (current === 'alert' && p === 'wall') ? 'here' : '' }, navText[p]));
  }
  document.getElementById('who').textContent = `${user.name} (${user.role})`;
  const zone = document.getElementById('zone');
  zone.textContent = `times in ${zoneName()}`;
  zone.title = 'Every time in the console is shown in this time zone (the browser\'s).';
}

function loggedIn(user, csrf) {
  setSession(user, csrf);
  if (alertReaders.includes(user.role)) stream.start();
  document.getElementById('sound').hidden = !alertReaders.includes(user.role);
  if (parseHash().name === 'login' || !location.hash) location.hash = `#/${home(user)}`;
  else route();
}

async function logout() {
  try { await api('POST', '/api/v1/logout'); } catch { /* the session may be gone already */ }
  setSession(null, '');
  stream.stop();
  location.hash = '#/login';
  route();
}

function sessionEnded() {
  if (!currentUser()) return;
  setSession(null, '');
  stream.stop();
  toast('Your session has ended: log in again.', 'error');
  location.hash = '#/login';
  route();
}

async function boot() {
  onSessionExpired(sessionEnded);
  document.getElementById('logout').addEventListener('click', logout);
  const sound = document.getElementById('sound');
  sound.addEventListener('click', () => {
    stream.sound = !stream.sound;
    sound.textContent = stream.sound ? 'Sound on' : 'Sound off';
    if (stream.sound) stream.beep(); // a click is the gesture browsers need before playing sound
  });
  document.getElementById('banner').hidden = true;
  window.addEventListener('hashchange', route);
  // Leaving the console ends its live sessions on the server at once rather than at their timeout.
  window.addEventListener('pagehide', () => { if (cleanup) { try { cleanup(); } catch { /* gone */ } cleanup = null; } });
  window.addEventListener('focus', () => { document.title = 'Snowlight console'; });
  // Without the CSRF cookie there is no session to resume: show the login at once rather than ask.
  if (!csrfToken()) { route(); return; }
  try {
    const me = await api('GET', '/api/v1/me');
    loggedIn(me.user, me.csrf);
  } catch {
    route();
  }
}

boot();
