// The alert wall: every alert the user may see, live from the stream, the most urgent and newest first.
import { api, hasRole } from '../api.js';
import { h, clear, toast, fmtTime, ago, categoryText, statusText, ruleText, pct } from '../ui.js';

const closedStatus = new Set(['resolved', 'dismissed']);
const sevRank = { critical: 0, high: 1, normal: 2, low: 3 };

// order puts open work first, then by severity, then newest.
export function order(a, b) {
  const ca = closedStatus.has(a.status), cb = closedStatus.has(b.status);
  if (ca !== cb) return ca ? 1 : -1;
  const sa = sevRank[a.severity] ?? 9, sb = sevRank[b.severity] ?? 9;
  if (sa !== sb) return sa - sb;
  return new Date(b.created) - new Date(a.created);
}

// actionsFor lists the lifecycle steps this user may take on an alert now.
export function actionsFor(a) {
  const out = [];
  const need = a.biometric && a.confirmations < a.confirmations_required;
  switch (a.status) {
    case 'open':
      if (hasRole('admin', 'operator', 'investigator')) out.push(['confirm', 'Confirm', '']);
      if (hasRole('admin', 'operator', 'investigator')) out.push(['dismiss', 'Dismiss (false)', 'ghost']);
      break;
    case 'confirmed':
      if (need && hasRole('admin', 'operator', 'investigator')) out.push(['confirm', 'Confirm (second person)', '']);
      if (hasRole('admin', 'operator')) out.push(['dispatch', 'Dispatch patrol', 'warn']);
      if (hasRole('admin', 'operator', 'investigator')) out.push(['dismiss', 'Dismiss (false)', 'ghost']);
      break;
    case 'dispatched':
      if (hasRole('admin', 'operator', 'patrol')) out.push(['ack', 'Acknowledge', '']);
      if (hasRole('admin', 'operator', 'patrol')) out.push(['resolve', 'Resolve', 'ghost']);
      break;
    case 'acknowledged':
      if (hasRole('admin', 'operator', 'patrol')) out.push(['on_scene', 'On scene', '']);
      if (hasRole('admin', 'operator', 'patrol')) out.push(['resolve', 'Resolve', 'ghost']);
      break;
    case 'on_scene':
      if (hasRole('admin', 'operator', 'patrol')) out.push(['resolve', 'Resolve', '']);
      break;
  }
  return out;
}

export async function act(a, action, { note, patrol } = {}) {
  const body = note || patrol ? { note: note || '', patrol: patrol || '' } : undefined;
  return api('POST', `/api/v1/alerts/${encodeURIComponent(a.id)}/${action}`, { body });
}

// actionButtons makes a button per allowed step; extra(action) may add a note or a chosen unit.
export function actionButtons(a, done, extra = () => ({})) {
  return actionsFor(a).map(([action, label, cls]) => {
    const b = h('button', { type: 'button', class: ['small', cls], dataset: { action } }, label);
    b.addEventListener('click', async (e) => {
      e.stopPropagation();
      b.disabled = true;
      try {
        const got = await act(a, action, extra(action));
        toast(`${got.title || 'Alert'}: ${statusText[got.status] || got.status}`);
        done(got);
      } catch (x) {
        toast(x.message, 'error');
        b.disabled = false;
      }
    });
    return b;
  });
}

// evidenceLine says how strong the evidence is and, for a face match, that a person must check it.
export function evidenceLine(a) {
  const parts = [];
  if (a.biometric) {
    parts.push(h('span', { class: 'score' }, `face similarity ${pct(a.score)}`,
      a.threshold ? ` (threshold ${pct(a.threshold)})` : ''));
    if (a.status === 'open' || (a.status === 'confirmed' && a.confirmations < a.confirmations_required)) {
      parts.push(h('div', { class: 'confirm-note' },
        `Biometric match: a person must compare the faces and confirm before dispatch (${a.confirmations} of ${a.confirmations_required} confirmations).`));
    }
  } else if (a.score > 0) {
    parts.push(h('span', { class: 'score' }, `evidence score ${pct(a.score)}`));
  }
  return parts;
}

function card(a, fresh, redraw) {
  const closed = closedStatus.has(a.status);
  const snap = a.snapshot && a.snapshot.url
    ? h('img', { class: 'snap', src: a.snapshot.url, alt: 'snapshot', loading: 'lazy' })
    : h('div', { class: 'snap none' }, a.snapshot && a.snapshot.pending ? 'snapshot uploading…'
      : Date.now() - new Date(a.created) < 30e3 && !['camera_offline', 'camera_tampered'].includes(a.rule) ? 'taking the snapshot…' : 'no snapshot');
  const title = a.title || ruleText[a.rule] || a.rule;
  // Titles usually name the person already; the line below adds what they do not say.
  const plain = (x) => x.toLowerCase().replace(/[^a-z]/g, '');
  const cat = categoryText[a.category] || a.category || '';
  const who = [a.person_name && !title.includes(a.person_name) ? a.person_name : '',
    cat && !plain(title).includes(plain(cat)) ? cat : ''].filter(Boolean).join(' · ');
  const c = h('article', { class: ['card', `sev-${a.severity}`, closed && 'closed', fresh && 'fresh'], dataset: { id: a.id, status: a.status } },
    h('div', { class: 'head' }, snap,
      h('div', null,
        h('div', { class: 'title' }, title),
        who ? h('div', null, who) : null,
        // A person's alert follows them: its camera is where they were seen last.
        h('div', { class: 'meta' }, `${a.person_id ? 'last seen at ' : ''}${a.camera_name || a.camera}${a.area ? ' · ' + a.area : ''}`),
        h('div', { class: 'meta', title: new Date(a.created).toString() }, `${fmtTime(a.created)} (${ago(a.created)})`),
        h('div', null, h('span', { class: ['status', a.status] }, statusText[a.status] || a.status),
          ' ', h('span', { class: 'pill' }, a.severity),
          a.patrol ? h('span', { class: 'meta' }, ` · unit ${a.patrol}`) : null))),
    evidenceLine(a),
    h('div', { class: 'actions' }, actionButtons(a, redraw),
      h('a', { href: `#/alert/${encodeURIComponent(a.id)}`, class: 'open-detail' }, 'Evidence and details →')));
  return c;
}

export async function render(main, { stream }) {
  const alerts = new Map();
  const fresh = new Set();
  const showClosed = h('input', { type: 'checkbox', id: 'show-closed' });
  const counts = h('span', { class: 'muted', id: 'wall-counts' });
  const grid = h('div', { class: 'wall', id: 'wall' });
  const err = h('p', { class: 'error-text', hidden: true });
  main.append(h('div', { class: 'row' }, h('h1', { class: 'col' }, 'Alerts'),
    h('label', null, showClosed, ' show resolved and dismissed'), counts), err, grid);

  const merge = (a) => {
    const old = alerts.get(a.id);
    if (!old || new Date(a.updated) >= new Date(old.updated)) alerts.set(a.id, a);
  };
  const draw = () => {
    const list = [...alerts.values()].sort(order);
    const open = list.filter((a) => !closedStatus.has(a.status));
    counts.textContent = `${open.length} open · ${list.length - open.length} closed`;
    clear(grid);
    const shown = showClosed.checked ? list : open;
    if (!shown.length) grid.append(h('p', { class: 'muted' }, 'No open alerts. New alerts appear here as they happen.'));
    for (const a of shown) grid.append(card(a, fresh.has(a.id), (got) => { merge(got); draw(); }));
  };
  showClosed.addEventListener('change', draw);

  const off = stream.listen((type, a) => {
    merge(a);
    if (type === 'alert') {
      fresh.add(a.id);
      setTimeout(() => { fresh.delete(a.id); }, 15000);
    }
    draw();
  });
  // Listen first, then list: an alert raised in between arrives on the stream.
  await stream.opened();
  try {
    const r = await api('GET', '/api/v1/alerts?limit=300');
    r.alerts.forEach(merge);
  } catch (x) {
    err.textContent = `Could not load the alerts: ${x.message}`;
    err.hidden = false;
  }
  draw();
  const tick = setInterval(draw, 30000);
  return () => { off(); clearInterval(tick); };
}
