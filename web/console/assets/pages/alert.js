// Alert detail: the evidence side by side, the clip, the map and the lifecycle, for the human who
// decides.
import { api, hasRole, withCase } from '../api.js';
import { h, clear, fmtTime, ago, categoryText, statusText, ruleText, pct, secondsText, field } from '../ui.js';
import { VectorMap } from '../map.js';
import { actionButtons, evidenceLine } from './wall.js';

export async function render(main, { args, stream }) {
  const id = args[0] || '';
  const head = h('div', { id: 'alert-head' });
  const actions = h('div', { class: 'actions row', id: 'alert-actions' });
  const evidence = h('div', { class: 'panel', id: 'alert-evidence' });
  const clipBox = h('div', { class: 'panel', id: 'alert-clip' });
  const map = new VectorMap({ height: 420 });
  const mapBox = h('div', { class: 'panel' }, h('h2', null, 'Map'), map.svg, h('p', { class: 'muted', id: 'map-legend' },
    '◆ camera (red: offline, ring: this alert) · ● patrol unit (green available, orange busy, grey offline; dashed line: the unit sent) · numbered: recent path · green dashes: safe zone · arrows at the edge: further away'));
  const history = h('div', { class: 'panel', id: 'alert-history' });
  const sightings = h('div', { class: 'panel', id: 'alert-sightings' });
  // Where else the person went is a trajectory query: only investigators and admins may ask, each
  // time with a case number and a reason that the server records, as on the Investigation page.
  const pathBox = h('form', { class: 'panel', id: 'alert-path', hidden: true });
  main.append(h('p', null, h('a', { href: '#/wall' }, '← all alerts')), head, actions,
    h('div', { class: 'row' }, h('div', { class: 'col' }, evidence, clipBox), h('div', { class: 'col' }, mapBox, pathBox, history)), sightings);

  let d = null;
  let clipShown = '';
  let units = [];
  let cameras = [];
  let clipTimer = 0;
  let zone = null; // the person's safe zone, for a safe-zone alert
  let path = []; // the person's path, once asked for with a case
  const unitSelect = h('select', { id: 'dispatch-unit' });

  const load = async () => {
    try {
      d = await api('GET', `/api/v1/alerts/${encodeURIComponent(id)}`);
    } catch (x) {
      clear(head).append(h('p', { class: 'error-text', id: 'alert-error' }, x.message));
      return;
    }
    if (hasRole('admin', 'operator', 'investigator', 'patrol')) {
      try { units = (await api('GET', '/api/v1/patrols')).patrols; } catch { units = []; }
    }
    if (hasRole('admin', 'operator', 'investigator') && !cameras.length) {
      try { cameras = (await api('GET', '/api/v1/cameras')).cameras; } catch { cameras = []; }
    }
    // A safe-zone alert is read against the zone: draw it.
    if (d.rule === 'safe_zone_exit' && d.person_id && zone === null && hasRole('admin', 'operator', 'investigator')) {
      try { zone = (await api('GET', `/api/v1/persons/${encodeURIComponent(d.person_id)}`)).safe_zone || []; } catch { zone = []; }
    }
    draw();
  };

  const draw = () => {
    clear(head).append(
      h('h1', null, d.title || ruleText[d.rule] || d.rule),
      h('div', null, h('span', { class: ['status', d.status], id: 'alert-status', dataset: { status: d.status } }, statusText[d.status] || d.status),
        ' ', h('span', { class: 'pill' }, d.severity), ' ',
        d.person_name ? `${d.person_name}${d.category ? ' (' + (categoryText[d.category] || d.category) + ')' : ''} · ` : '',
        `${d.camera_name || d.camera}${d.area ? ' · ' + d.area : ''} · ${fmtTime(d.created)} (${ago(d.created)})`,
        d.patrol ? ` · assigned to unit ${d.patrol}` : ''),
      ...evidenceLine(d));

    clear(unitSelect).append(h('option', { value: '' }, 'nearest available unit'),
      ...units.filter((u) => u.status === 'available').map((u) => h('option', { value: u.id }, `${u.name} (${u.area || 'no area'})`)));
    const btns = actionButtons(d, () => load(), (action) => (action === 'dispatch' && unitSelect.value ? { patrol: unitSelect.value } : {}));
    clear(actions).append(...btns);
    if (btns.some((b) => b.dataset.action === 'dispatch')) actions.append(h('label', null, 'unit ', unitSelect));

    clear(evidence).append(h('h2', null, 'Evidence'));
    if (d.biometric) {
      evidence.append(h('div', { class: 'notice' },
        'A face match is evidence, not proof. Compare the enrolment photo with the captured faces before confirming; ',
        'dismiss if they are not the same person (this teaches the matcher).'));
    }
    const ev = h('div', { class: 'evidence' });
    for (const p of d.enrolment_photos || []) {
      ev.append(h('figure', null, h('img', { src: p.url, alt: 'enrolment photo', class: 'enrolment' }), h('figcaption', null, 'enrolment photo (watch list)')));
    }
    if ((d.enrolment_photos || []).length && (d.crops || []).length) ev.append(h('span', { class: 'vs' }, 'vs'));
    for (const c of d.crops || []) {
      ev.append(h('figure', null,
        c.image.url ? h('img', { src: c.image.url, alt: 'captured face', class: 'crop' }) : h('div', { class: 'muted' }, c.image.pending ? 'uploading…' : 'missing'),
        h('figcaption', null, h('span', { class: 'score' }, `similarity ${pct(c.similarity)}`), h('br'), `${d.camera === c.camera && d.camera_name ? d.camera_name : c.camera} · ${fmtTime(c.time)}`)));
    }
    if (d.snapshot && d.snapshot.url) {
      ev.append(h('figure', null, h('a', { href: d.snapshot.url, target: '_blank', rel: 'noopener', title: 'open the full picture' },
        h('img', { src: d.snapshot.url, alt: 'snapshot', class: 'snapshot' })), h('figcaption', null, 'scene at the alert (boxed)')));
    }
    if (!ev.childNodes.length) ev.append(h('p', { class: 'muted' }, 'No pictures for this alert.'));
    evidence.append(ev);

    drawClip();

    const cams = cameras.filter((c) => c.position);
    if (d.position && !cams.some((c) => c.id === d.camera)) cams.push({ id: d.camera, name: d.camera_name || d.camera, position: d.position });
    const mapUnits = units.length ? units : (d.patrol_unit ? [d.patrol_unit] : []);
    const assigned = mapUnits.find((u) => u.id === d.patrol);
    // The frame shows where this alert is: its camera, the person's path and the unit sent; units
    // further away point in from the edge with their distance from the camera.
    map.render({ cameras: cams, units: mapUnits, path, highlightCamera: d.camera, highlightUnit: d.patrol,
      zones: zone && zone.length ? [{ points: zone, label: 'safe zone' }] : [],
      focus: [d.position, ...path.map((p) => p.position), assigned && assigned.position, ...(zone || [])], origin: d.position,
      lines: assigned && assigned.position && d.position ? [{ from: assigned.position, to: d.position }] : [] });

    clear(history).append(h('h2', null, 'Lifecycle'),
      h('table', { id: 'history-table' }, h('tr', null, h('th', null, 'when'), h('th', null, 'step'), h('th', null, 'who'), h('th', null, 'note')),
        (d.history || []).map((s) => h('tr', null, h('td', { class: 'nowrap' }, fmtTime(s.at)), h('td', null, stepText(s)),
          h('td', null, s.actor), h('td', null, s.note || '')))));
    if ((d.notices || []).length) {
      history.append(h('h2', null, 'Notifications'), h('ul', { class: 'notices' }, d.notices.map((n) => h('li', null, n))));
    }

    clear(sightings).append(h('h2', null, 'Sightings'));
    const all = [...(d.sightings || [])];
    if (!all.length) sightings.append(h('p', { class: 'muted' }, 'No sightings attached.'));
    for (const s of all) {
      sightings.append(h('div', { class: 'sighting' },
        s.snapshot.url ? h('img', { src: s.snapshot.url, alt: 'sighting snapshot', class: 'body' }) : h('div', { class: 'muted' }, 'no snapshot'),
        h('div', null, h('div', null, s.camera_name || s.camera), h('div', { class: 'muted' }, `${fmtTime(s.enter)} – ${fmtTime(s.exit)}`),
          s.score ? h('div', { class: 'score' }, `identity evidence ${pct(s.score)}`) : null)));
    }
  };

  const drawClip = () => {
    const c = d.clip || { state: 'none' };
    const key = `${c.state}|${c.url ? c.url.split('?')[0] : ''}`;
    if (key === clipShown) return;
    clipShown = key;
    clearTimeout(clipTimer);
    clear(clipBox).append(h('h2', null, 'Clip'));
    if (c.state === 'ready' && c.url) {
      const v = h('video', { id: 'clip', src: c.url, controls: true, muted: true, autoplay: true, playsinline: true, preload: 'auto' });
      v.addEventListener('error', () => clipBox.append(h('p', { class: 'error-text' }, 'The clip could not be played: its link may have expired; reload the page.')));
      clipBox.append(v);
      if (c.start && c.end) {
        // The clip starts before the alert (its pre-roll): say where the alert's moment is.
        const lead = (new Date(d.created) - new Date(c.start)) / 1000;
        clipBox.append(h('p', { class: 'muted', id: 'clip-times' }, `${fmtTime(c.start)} – ${fmtTime(c.end)}`,
          lead > 0.5 ? ` · the alert's moment is ${secondsText(lead)} in; what comes before is the pre-roll` : ''));
      } else {
        clipBox.append(h('p', { class: 'muted', id: 'clip-times' }, 'The clip begins a few seconds before the alert (the pre-roll): the person may appear only after others have passed.'));
      }
    } else if (c.state === 'preparing') {
      clipBox.append(h('p', { id: 'clip-preparing', class: 'preparing' }, 'Preparing the clip: the camera is still recording the seconds after the alert (or the upload is pending). It plays here by itself when ready; the snapshot above shows the moment of the alert.'));
      // The alert's update event brings the clip; this is only a fallback (each load is audited).
      clipTimer = setTimeout(load, 15000);
    } else if (c.state === 'failed') {
      clipBox.append(h('p', { class: 'error-text' }, 'The clip could not be stored; the snapshot and sightings remain.'));
    } else {
      clipBox.append(h('p', { class: 'muted' }, 'No clip for this alert.'));
    }
  };

  if (hasRole('admin', 'investigator')) {
    const caseNo = h('input', { id: 'path-case', placeholder: 'e.g. 2025-0142', autocomplete: 'off' });
    const reason = h('input', { id: 'path-reason', placeholder: 'why you need where the person went (at least 10 characters)', autocomplete: 'off' });
    const go = h('button', { type: 'submit', id: 'path-show', class: 'ghost' }, 'Show the path');
    const said = h('p', { class: 'muted', id: 'path-result' }, 'The path through the other cameras is a trajectory query: the case number and reason are recorded with your name in the audit log.');
    pathBox.append(h('h2', null, 'Where the person went'), h('div', { class: 'form-grid' }, field('Case number', caseNo), h('div', { class: 'wide' }, field('Reason', reason))), go, said);
    pathBox.addEventListener('submit', async (e) => {
      e.preventDefault();
      go.disabled = true;
      try {
        const q = withCase(`/api/v1/alerts/${encodeURIComponent(id)}/path`, caseNo.value.trim(), reason.value.trim());
        path = (await api('GET', q.path, { headers: q.headers })).sightings || [];
        said.className = 'muted';
        said.textContent = path.length ? `${path.length} sighting${path.length === 1 ? '' : 's'} from ${fmtTime(path[0].enter)} to ${fmtTime(path[path.length - 1].exit)}, numbered on the map.`
          : 'Not seen on any camera in the six hours before the alert.';
        draw();
      } catch (x) {
        said.className = 'error-text';
        said.textContent = x.message;
      } finally {
        go.disabled = false;
      }
    });
  }

  await load();
  if (d && d.person_id) pathBox.hidden = !pathBox.childNodes.length;
  let pending = 0;
  const off = stream.listen((type, a) => {
    if (a.id !== id) return;
    clearTimeout(pending);
    pending = setTimeout(load, 150);
  });
  return () => { off(); clearTimeout(clipTimer); clearTimeout(pending); };
}

// stepText names a lifecycle step: its new status, or what happened when the status stayed (evidence
// attached, seen again, escalated).
function stepText(s) {
  if (s.status && statusText[s.status]) return statusText[s.status];
  return (s.action || s.status || '').replaceAll('_', ' ');
}
