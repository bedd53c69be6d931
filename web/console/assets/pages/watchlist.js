// The watch list: who is on it, why, until when; enrolment from photos with a safe zone drawn on the map.
import { api, withCase, hasRole } from '../api.js';
import { h, clear, toast, fmtDate, categoryText, field } from '../ui.js';
import { VectorMap } from '../map.js';

export async function render(main) {
  const table = h('div', { id: 'persons' });
  const err = h('p', { class: 'error-text', hidden: true });
  main.append(h('h1', null, 'Watch list'), err, h('div', { class: 'panel' }, table));

  let cameras = [];
  const load = async () => {
    try {
      const r = await api('GET', '/api/v1/persons');
      drawTable(table, r.persons, load);
    } catch (x) {
      err.textContent = x.message;
      err.hidden = false;
    }
  };
  try { cameras = (await api('GET', '/api/v1/cameras')).cameras; } catch { cameras = []; }
  await load();
  main.append(enrolForm(cameras, load));
}

function drawTable(box, persons, reload) {
  clear(box);
  if (!persons.length) { box.append(h('p', { class: 'muted' }, 'Nobody is on the watch list.')); return; }
  box.append(h('table', null,
    h('tr', null, ['', 'name', 'category', 'expires', 'legal basis', 'approved by', 'guardian', ''].map((t) => h('th', null, t))),
    persons.map((p) => h('tr', { dataset: { person: p.id } },
      h('td', { class: 'thumbs' }, (p.photo_urls || []).slice(0, 3).map((u) => h('img', { src: u, alt: 'photo', loading: 'lazy' }))),
      h('td', null, p.name), h('td', null, categoryText[p.category] || p.category),
      h('td', null, fmtDate(p.expires), p.expired ? h('span', { class: 'error-text' }, ' expired: no longer matched') : ''),
      h('td', null, p.legal_basis), h('td', null, p.approved_by), h('td', null, p.guardian_contact || ''),
      h('td', null, removeButton(p, reload))))));
}

function removeButton(p, reload) {
  const b = h('button', { type: 'button', class: 'small ghost' }, 'Remove…');
  b.addEventListener('click', () => {
    const caseNo = h('input', { placeholder: 'case number' });
    const reason = h('input', { placeholder: 'reason (10+ characters)' });
    const ok = h('button', { type: 'button', class: 'small danger' }, 'Remove');
    const box = h('div', null, caseNo, ' ', reason, ' ', ok);
    b.replaceWith(box);
    ok.addEventListener('click', async () => {
      try {
        const q = withCase(`/api/v1/persons/${encodeURIComponent(p.id)}`, caseNo.value.trim(), reason.value.trim());
        await api('DELETE', q.path, { headers: q.headers });
        toast(`${p.name} removed from the watch list`);
        reload();
      } catch (x) { toast(x.message, 'error'); }
    });
  });
  return b;
}

function enrolForm(cameras, reload) {
  const name = h('input', { name: 'name', id: 'enrol-name', required: true });
  const category = h('select', { name: 'category', id: 'enrol-category' },
    Object.entries(categoryText).map(([v, t]) => h('option', { value: v }, t)));
  const guardian = h('input', { name: 'guardian_contact', id: 'enrol-guardian', placeholder: 'name and phone of the guardian' });
  const legal = h('input', { name: 'legal_basis', id: 'enrol-legal', required: true, placeholder: 'e.g. court order 2025/118, guardian consent' });
  const approved = h('input', { name: 'approved_by', id: 'enrol-approved', required: true });
  const expires = h('input', { name: 'expires', id: 'enrol-expires', type: 'date', required: true });
  const caseNo = h('input', { id: 'enrol-case', required: true });
  const reason = h('input', { id: 'enrol-reason', required: true, placeholder: 'why this person is enrolled' });
  const photos = h('input', { name: 'photo', id: 'enrol-photos', type: 'file', accept: 'image/jpeg,image/png', multiple: true, required: true });
  const results = h('ul', { class: 'photos-result', id: 'enrol-results' });
  const submit = h('button', { type: 'submit', id: 'enrol-submit' }, 'Enrol');
  const zone = [];
  const zoneInfo = h('span', { class: 'muted', id: 'zone-info' }, 'no safe zone');
  const map = new VectorMap({
    height: 380,
    onClick: (p) => { zone.push(p); drawZone(); },
  });
  const camPts = cameras.filter((c) => c.position);
  const drawZone = () => {
    map.render({ cameras: camPts, zones: [{ points: zone, label: 'safe zone' }], keepFrame: true });
    zoneInfo.textContent = zone.length ? `${zone.length} point${zone.length > 1 ? 's' : ''}${zone.length < 3 ? ' (at least 3 needed)' : ''}` : 'no safe zone';
  };
  map.fit(camPts.map((c) => c.position));
  drawZone();
  const clearZone = h('button', { type: 'button', class: 'small ghost' }, 'Clear zone');
  clearZone.addEventListener('click', () => { zone.length = 0; drawZone(); });

  const form = h('form', { class: 'panel', id: 'enrol-form' }, h('h2', null, 'Enrol a person'),
    h('div', { class: 'form-grid' }, field('Name', name), field('Category', category), field('Guardian contact', guardian),
      field('Legal basis / authorisation', legal), field('Approved by', approved), field('Expires', expires),
      field('Case number', caseNo), field('Reason', reason), field('Photos (frontal, one face each)', photos)),
    h('h2', null, 'Safe zone (at-risk persons)'),
    h('p', { class: 'muted' }, 'Click on the map to outline the area the person should stay in; an alert is raised when a camera outside it sees them.'),
    map.svg, h('div', null, zoneInfo, ' ', clearZone),
    results, submit);
  if (!hasRole('admin', 'operator', 'investigator')) form.hidden = true;

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(results);
    const fd = new FormData();
    for (const el of [name, category, guardian, legal, approved, expires]) fd.append(el.name, el.value.trim());
    if (zone.length) fd.append('safe_zone', JSON.stringify(zone));
    for (const f of photos.files) fd.append('photo', f, f.name);
    submit.disabled = true;
    try {
      const q = withCase('/api/v1/persons', caseNo.value.trim(), reason.value.trim());
      const r = await api('POST', q.path, { body: fd, headers: q.headers });
      showPhotos(results, r.photos);
      toast(`${r.person.name} enrolled`);
      reload();
    } catch (x) {
      if (x.body && x.body.photos) showPhotos(results, x.body.photos);
      results.append(h('li', { class: 'bad' }, x.message));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function showPhotos(box, photos) {
  for (const p of photos || []) {
    box.append(h('li', { class: p.used ? 'good' : 'bad' }, `${p.name}: `, p.used ? `face found${p.score ? ' (' + p.score.toFixed(2) + ')' : ''}, used` : `not used — ${p.error}`));
  }
}
