// Investigation: follow a watch-list person, or the person of one sighting, through the cameras in a
// time window; find people by appearance or by a description of their clothes; export what the case
// found as a signed bundle. Every query carries a case number and a reason, which the server records.
// What the case needs can be held past its retention period, and released when the case no longer
// needs it.
import { api, withCase, hasRole } from '../api.js';
import { h, clear, fmtTime, pct, toLocalInput, field, categoryText, toast } from '../ui.js';
import { VectorMap } from '../map.js';
import { SearchPanel } from '../search.js';
import { ExportDialog } from '../export.js';

export async function render(main, { query }) {
  const now = new Date();
  const mode = h('select', { id: 'inv-mode' }, h('option', { value: 'person' }, 'a watch-list person'), h('option', { value: 'sighting' }, 'a sighting at a camera'));
  const person = h('select', { id: 'inv-person' });
  const camera = h('select', { id: 'inv-camera' });
  const sightingList = h('div', { id: 'inv-sightings' });
  const from = h('input', { id: 'inv-from', type: 'datetime-local', value: toLocalInput(new Date(now - 24 * 3600e3)) });
  const to = h('input', { id: 'inv-to', type: 'datetime-local', value: toLocalInput(new Date(now.getTime() + 60e3)) });
  const caseNo = h('input', { id: 'inv-case', placeholder: 'e.g. 2025-0142', autocomplete: 'off' });
  const reason = h('input', { id: 'inv-reason', placeholder: 'why this search is needed (at least 10 characters)', autocomplete: 'off' });
  const listBtn = h('button', { type: 'button', class: 'ghost', id: 'inv-list' }, 'List sightings at this camera');
  const go = h('button', { type: 'submit', id: 'inv-go' }, 'Show trajectory');
  const holdsBtn = h('button', { type: 'button', class: 'ghost', id: 'inv-holds-list' }, 'Show the case’s holds');
  const err = h('p', { class: 'error-text', id: 'inv-error', hidden: true });
  const personRow = field('Person', person);
  const cameraRow = h('div', { hidden: true }, field('Camera', camera), listBtn, sightingList);
  const form = h('form', { class: 'panel', id: 'inv-form' },
    h('div', { class: 'form-grid' }, field('Follow', mode), personRow, field('From', from), field('To', to),
      field('Case number', caseNo), h('div', { class: 'wide' }, field('Reason', reason))),
    cameraRow,
    h('p', { class: 'muted' }, 'Trajectory queries reveal where people went: the case number and reason are recorded with your name in the audit log.'),
    err, h('div', { class: 'row' }, go, holdsBtn));
  const result = h('div', { id: 'inv-result' });
  const holds = new CaseHolds();
  const exporter = new ExportDialog();
  main.append(h('h1', null, 'Investigation'), form, result, exporter.box);

  let cameras = [];
  try {
    const [ps, cs] = await Promise.all([api('GET', '/api/v1/persons'), api('GET', '/api/v1/cameras')]);
    person.append(...ps.persons.map((p) => h('option', { value: p.id },
      `${p.name} (${categoryText[p.category] || p.category}${p.expired ? ', expired' : ''})`)));
    cameras = cs.cameras;
    camera.append(...cameras.map((c) => h('option', { value: c.id }, c.name || c.id)));
  } catch (x) {
    err.textContent = x.message;
    err.hidden = false;
  }
  const ctx = () => {
    const f = new Date(from.value), t = new Date(to.value);
    if (isNaN(f) || isNaN(t)) throw new Error('Give both ends of the time window.');
    return { caseNo: caseNo.value.trim(), reason: reason.value.trim(), from: f.toISOString(), to: t.toISOString() };
  };
  // trajectory runs a trajectory query and shows it; subject says whose it is, for an export.
  const trajectory = async (path, subject) => {
    const c = ctx();
    const q = withCase(`${path}?from=${encodeURIComponent(c.from)}&to=${encodeURIComponent(c.to)}`, c.caseNo, c.reason);
    const t = await api('GET', q.path, { headers: q.headers });
    holds.sightings = t.sightings || [];
    holds.camName = camName;
    exporter.box.hidden = true;
    show(result, t, cameras, holds, c, { subject, search, exporter });
    if (hasRole('admin', 'investigator')) await holds.show(c.caseNo, c.reason);
  };
  const follow = (id) => trajectory(`/api/v1/sightings/${encodeURIComponent(id)}/trajectory`, { sighting: id })
    .then(() => result.scrollIntoView({ block: 'start' }));
  const search = new SearchPanel({ ctx, follow, cameras });
  main.append(search.box, holds.box);

  if (query.get('person')) person.value = query.get('person');
  if (query.get('case')) caseNo.value = query.get('case');
  mode.addEventListener('change', () => {
    personRow.hidden = mode.value !== 'person';
    cameraRow.hidden = mode.value !== 'sighting';
  });

  const window_ = () => {
    const c = ctx();
    return `from=${encodeURIComponent(c.from)}&to=${encodeURIComponent(c.to)}`;
  };
  const fail = (x) => { err.textContent = x.message; err.hidden = false; };
  const camName = (id) => (cameras.find((c) => c.id === id) || {}).name || id;

  listBtn.addEventListener('click', async () => {
    err.hidden = true;
    try {
      const q = withCase(`/api/v1/cameras/${encodeURIComponent(camera.value)}/sightings?${window_()}`, caseNo.value.trim(), reason.value.trim());
      const r = await api('GET', q.path, { headers: q.headers });
      clear(sightingList);
      if (!r.sightings.length) sightingList.append(h('p', { class: 'muted' }, 'No sightings at this camera in the window.'));
      for (const s of r.sightings) {
        const radio = h('input', { type: 'radio', name: 'inv-sighting', value: s.id });
        const like = h('button', { type: 'button', class: 'small ghost', dataset: { like: s.id } }, 'Find similar');
        like.addEventListener('click', (e) => { e.preventDefault(); search.like(s); });
        sightingList.append(h('label', { class: 'sighting' }, radio,
          s.snapshot && s.snapshot.url ? h('img', { src: s.snapshot.url, alt: 'sighting' }) : null,
          h('span', null, `${fmtTime(s.enter)} – ${fmtTime(s.exit)}`, s.person_id ? ` · person ${s.person_id}` : ''), like));
      }
    } catch (x) { fail(x); }
  });

  holdsBtn.addEventListener('click', async () => {
    err.hidden = true;
    try {
      await holds.show(caseNo.value.trim(), reason.value.trim());
    } catch (x) { fail(x); }
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    go.disabled = true;
    try {
      if (mode.value === 'person') {
        if (!person.value) throw new Error('Pick a person.');
        await trajectory(`/api/v1/persons/${encodeURIComponent(person.value)}/trajectory`, { person_id: person.value });
      } else {
        const picked = sightingList.querySelector('input[name=inv-sighting]:checked');
        if (!picked) throw new Error('List the sightings at a camera and pick one.');
        await trajectory(`/api/v1/sightings/${encodeURIComponent(picked.value)}/trajectory`, { sighting: picked.value });
      }
    } catch (x) {
      fail(x);
    } finally {
      go.disabled = false;
    }
  });
}

function show(box, t, cameras, holds, c, { subject, search, exporter }) {
  const caseNo = c.caseNo, reason = c.reason;
  clear(box);
  const ss = t.sightings || [];
  box.append(h('h2', null, `Trajectory: ${ss.length} sighting${ss.length === 1 ? '' : 's'}`, ss.length ? ` from ${fmtTime(ss[0].enter)} to ${fmtTime(ss[ss.length - 1].exit)}` : ''));
  if (!ss.length) {
    box.append(h('p', { class: 'muted', id: 'inv-empty' }, 'Nobody matching was seen in this window. Widen the window or check the person’s enrolment.'));
    return;
  }
  const map = new VectorMap({ height: 460 });
  const seen = new Set(ss.map((s) => s.camera));
  const path = ss.filter((s) => s.position);
  // The frame follows the path; the other cameras are drawn where they fall in it.
  map.render({ cameras: cameras.map((c) => ({ ...c, online: true })).filter((c) => c.position), path, focus: path.map((s) => s.position) });
  box.append(h('div', { class: 'panel' }, map.svg, h('p', { class: 'muted' },
    `Numbered points follow the order of the sightings; ${seen.size} camera${seen.size === 1 ? '' : 's'} involved. Other cameras are drawn as diamonds without numbers.`)));

  // Timeline across the sightings, with a margin, so short passes stay visible in a long window.
  const first = new Date(ss[0].enter).getTime(), last = Math.max(...ss.map((s) => new Date(s.exit).getTime()));
  const margin = Math.max(60e3, (last - first) * 0.05);
  const t0 = first - margin, t1 = last + margin;
  const tl = h('div', { class: 'timeline', id: 'inv-timeline' });
  ss.forEach((s, i) => {
    const a = Math.max(0, (new Date(s.enter).getTime() - t0) / (t1 - t0)), b = Math.min(1, (new Date(s.exit).getTime() - t0) / (t1 - t0));
    const seg = h('div', { class: 'seg', title: `${i + 1}. ${s.camera_name || s.camera}, ${fmtTime(s.enter)} – ${fmtTime(s.exit)}` },
      h('span', null, `${i + 1} ${s.camera_name || s.camera}`));
    seg.style.left = `${(a * 100).toFixed(2)}%`;
    seg.style.width = `${Math.max(0.3, (b - a) * 100).toFixed(2)}%`;
    tl.append(seg);
  });
  box.append(h('div', { class: 'row muted' }, h('span', { class: 'col' }, fmtTime(t0)), h('span', null, fmtTime(t1))), tl);

  const canHold = hasRole('admin', 'investigator');
  const list = h('div', { class: 'panel', id: 'inv-list-result' });
  if (canHold) {
    // Holding "this trajectory" holds each stored trajectory the path is made of.
    const trajs = [...new Set(ss.map((s) => s.trajectory || s.id))];
    const b = h('button', { type: 'button', class: 'small', id: 'inv-hold-trajectory' },
      `Hold for this case: the whole trajectory (${ss.length} sighting${ss.length === 1 ? '' : 's'})`);
    b.addEventListener('click', () => holds.hold(caseNo, reason, trajs.map((id) => ({ kind: 'trajectory', id })), b));
    const ex = h('button', { type: 'button', class: 'small warn', id: 'inv-export' }, 'Export evidence for this case…');
    ex.addEventListener('click', () => {
      if (!caseNo) { toast('Give the case number to export for.', 'error'); return; }
      exporter.open({ caseNo, reason, from: c.from, to: c.to, subject, sightings: ss.length });
    });
    list.append(h('div', { class: 'row hold-bar' }, b, ex,
      h('span', { class: 'muted' }, `Held evidence is kept past its retention period until case ${caseNo || '…'} releases it.`)));
  }
  ss.forEach((s, i) => {
    const clip = h('div');
    if (s.clip && s.clip.state === 'ready' && s.clip.url) {
      const b = h('button', { type: 'button', class: 'small ghost' }, 'Play clip');
      b.addEventListener('click', () => clear(clip).append(h('video', { src: s.clip.url, controls: true, autoplay: true, muted: true, playsinline: true })));
      clip.append(b);
    } else if (s.clip && s.clip.state === 'preparing') {
      clip.append(h('span', { class: 'muted' }, 'clip being prepared'));
    }
    let hold = null;
    if (canHold) {
      hold = h('button', { type: 'button', class: 'small ghost hold-sighting', dataset: { sighting: s.id } }, 'Hold this sighting');
      hold.addEventListener('click', () => holds.hold(caseNo, reason, [{ kind: 'sighting', id: s.id }], hold));
    }
    const like = h('button', { type: 'button', class: 'small ghost', dataset: { like: s.id } }, 'Find similar');
    like.addEventListener('click', () => search.like(s));
    list.append(h('div', { class: 'sighting', dataset: { sighting: s.id } }, h('span', { class: 'n' }, String(i + 1)),
      s.face && s.face.url ? h('img', { src: s.face.url, alt: 'face', class: 'face', title: 'best face of this sighting' }) : null,
      s.snapshot.url ? h('img', { src: s.snapshot.url, alt: 'snapshot', class: 'body', title: 'best view of the person' }) : h('div', { class: 'muted' }, 'no snapshot'),
      h('div', { class: 'col' }, h('strong', null, s.camera_name || s.camera),
        h('div', { class: 'muted' }, `${fmtTime(s.enter)} – ${fmtTime(s.exit)}`),
        h('div', { class: 'score' }, i === 0 ? 'first sighting' : `link confidence ${pct(s.confidence)}`, s.score ? ` · identity evidence ${pct(s.score)}` : ''),
        clip),
      h('div', { class: 'col-buttons' }, like, hold)));
  });
  box.append(list);
}

// CaseHolds shows a case's holds (active and released) and places and releases them.
class CaseHolds {
  constructor() {
    this.box = h('div', { class: 'panel', id: 'inv-holds', hidden: true });
    this.caseNo = '';
    this.reason = '';
    this.sightings = [];
    this.camName = (id) => id;
  }

  async show(caseNo, reason) {
    if (!caseNo) throw new Error('Give the case number whose holds to show.');
    this.caseNo = caseNo;
    this.reason = reason;
    const r = await api('GET', `/api/v1/cases/${encodeURIComponent(caseNo)}/holds?all=1&limit=1000`);
    this.draw(r.holds);
  }

  async hold(caseNo, reason, items, btn) {
    if (!caseNo) { toast('Give the case number to hold this for.', 'error'); return; }
    btn.disabled = true;
    try {
      const r = await api('POST', `/api/v1/cases/${encodeURIComponent(caseNo)}/holds`, { body: { reason, items } });
      toast(`Case ${caseNo} holds ${r.holds.length} item${r.holds.length === 1 ? '' : 's'}`);
      await this.show(caseNo, reason);
    } catch (x) {
      toast(x.message, 'error');
    } finally {
      btn.disabled = false;
    }
  }

  // describe names a held item in words: which sighting of the trajectory shown, or its kind and id.
  describe(it) {
    const i = this.sightings.findIndex((s) => s.id === it.id);
    const where = (s) => `${s.camera_name || this.camName(s.camera)}, ${fmtTime(s.enter)}`;
    if (it.kind === 'sighting' && i >= 0) return `sighting ${i + 1} of the trajectory shown: ${where(this.sightings[i])}`;
    if (it.kind === 'trajectory') {
      const mine = this.sightings.filter((s) => (s.trajectory || s.id) === it.id);
      if (mine.length) return `the trajectory shown, from ${where(mine[0])} (${mine.length} sighting${mine.length === 1 ? '' : 's'})`;
    }
    return `${it.kind} ${it.id}`;
  }

  // via says which trajectory hold listed a sighting.
  via(v) {
    const id = v.replace(/^trajectory\//, '');
    return this.sightings.some((s) => (s.trajectory || s.id) === id) ? 'held with the trajectory shown' : `held with trajectory ${id}`;
  }

  draw(list) {
    const box = clear(this.box);
    box.hidden = false;
    const active = list.filter((x) => !x.released);
    box.append(h('h2', null, `Held for case ${this.caseNo}: ${active.length} item${active.length === 1 ? '' : 's'}`));
    const why = h('input', { id: 'hold-release-reason', placeholder: 'why the case no longer needs it (10+ characters)', autocomplete: 'off' });
    if (!list.length) {
      box.append(h('p', { class: 'muted', id: 'holds-empty' }, 'This case holds nothing: the retention job deletes its evidence when its periods are over.'));
      return;
    }
    const releaseAll = h('button', { type: 'button', class: 'small danger', id: 'hold-release-all', disabled: !active.length }, 'Release everything');
    releaseAll.addEventListener('click', () => this.release([], releaseAll, why));
    box.append(h('table', { id: 'case-holds' },
      h('tr', null, ['item', 'held by', 'when', 'why', 'state', ''].map((t) => h('th', null, t))),
      list.map((x) => {
        const rel = x.released;
        let btn = null;
        if (!rel && !x.via) {
          btn = h('button', { type: 'button', class: 'small ghost', dataset: { release: `${x.item.kind}/${x.item.id}` } }, 'Release');
          btn.addEventListener('click', () => this.release([x.item], btn, why));
        }
        return h('tr', { class: rel ? 'released' : '', dataset: { hold: String(x.id) } },
          h('td', null, this.describe(x.item), x.via ? h('div', { class: 'muted' }, this.via(x.via)) : null),
          h('td', null, x.by), h('td', { class: 'nowrap' }, fmtTime(x.at)), h('td', null, x.reason),
          h('td', null, rel ? `released by ${rel.by}, ${fmtTime(rel.at)}: ${rel.reason}` : 'kept'),
          h('td', null, btn));
      })),
    h('div', { class: 'row hold-bar' }, field('Reason for a release', why), releaseAll));
  }

  async release(items, btn, why) {
    const reason = why.value.trim();
    if (!reason) { toast('Say why the case no longer needs it.', 'error'); why.focus(); return; }
    btn.disabled = true;
    try {
      const r = await api('POST', `/api/v1/cases/${encodeURIComponent(this.caseNo)}/release`, { body: { reason, items } });
      toast(`Released ${r.released.length} hold${r.released.length === 1 ? '' : 's'} of case ${this.caseNo}`);
      await this.show(this.caseNo, this.reason);
    } catch (x) {
      toast(x.message, 'error');
      btn.disabled = false;
    }
  }
}
