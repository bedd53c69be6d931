// Investigation: follow a watch-list person, or the person of one sighting, through the cameras in a
// time window. Every query carries a case number and a reason, which the server records.
import { api, withCase } from '../api.js';
import { h, clear, fmtTime, pct, toLocalInput, field } from '../ui.js';
import { VectorMap } from '../map.js';

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
  const err = h('p', { class: 'error-text', id: 'inv-error', hidden: true });
  const personRow = field('Person', person);
  const cameraRow = h('div', { hidden: true }, field('Camera', camera), listBtn, sightingList);
  const form = h('form', { class: 'panel', id: 'inv-form' },
    h('div', { class: 'form-grid' }, field('Follow', mode), personRow, field('From', from), field('To', to),
      field('Case number', caseNo), field('Reason', reason)),
    cameraRow,
    h('p', { class: 'muted' }, 'Trajectory queries reveal where people went: the case number and reason are recorded with your name in the audit log.'),
    err, go);
  const result = h('div', { id: 'inv-result' });
  main.append(h('h1', null, 'Investigation'), form, result);

  let cameras = [];
  try {
    const [ps, cs] = await Promise.all([api('GET', '/api/v1/persons'), api('GET', '/api/v1/cameras')]);
    person.append(...ps.persons.map((p) => h('option', { value: p.id }, `${p.name} (${p.category}${p.expired ? ', expired' : ''})`)));
    cameras = cs.cameras;
    camera.append(...cameras.map((c) => h('option', { value: c.id }, c.name || c.id)));
  } catch (x) {
    err.textContent = x.message;
    err.hidden = false;
  }
  if (query.get('person')) person.value = query.get('person');
  mode.addEventListener('change', () => {
    personRow.hidden = mode.value !== 'person';
    cameraRow.hidden = mode.value !== 'sighting';
  });

  const window_ = () => {
    const f = new Date(from.value), t = new Date(to.value);
    if (isNaN(f) || isNaN(t)) throw new Error('Give both ends of the time window.');
    return `from=${encodeURIComponent(f.toISOString())}&to=${encodeURIComponent(t.toISOString())}`;
  };
  const fail = (x) => { err.textContent = x.message; err.hidden = false; };

  listBtn.addEventListener('click', async () => {
    err.hidden = true;
    try {
      const q = withCase(`/api/v1/cameras/${encodeURIComponent(camera.value)}/sightings?${window_()}`, caseNo.value.trim(), reason.value.trim());
      const r = await api('GET', q.path, { headers: q.headers });
      clear(sightingList);
      if (!r.sightings.length) sightingList.append(h('p', { class: 'muted' }, 'No sightings at this camera in the window.'));
      for (const s of r.sightings) {
        const radio = h('input', { type: 'radio', name: 'inv-sighting', value: s.id });
        sightingList.append(h('label', { class: 'sighting' }, radio,
          s.snapshot.url ? h('img', { src: s.snapshot.url, alt: 'sighting' }) : null,
          h('span', null, `${fmtTime(s.enter)} – ${fmtTime(s.exit)}`, s.person_id ? ` · person ${s.person_id}` : '')));
      }
    } catch (x) { fail(x); }
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    go.disabled = true;
    try {
      let path;
      if (mode.value === 'person') {
        if (!person.value) throw new Error('Pick a person.');
        path = `/api/v1/persons/${encodeURIComponent(person.value)}/trajectory?${window_()}`;
      } else {
        const picked = sightingList.querySelector('input[name=inv-sighting]:checked');
        if (!picked) throw new Error('List the sightings at a camera and pick one.');
        path = `/api/v1/sightings/${encodeURIComponent(picked.value)}/trajectory?${window_()}`;
      }
      const q = withCase(path, caseNo.value.trim(), reason.value.trim());
      const t = await api('GET', q.path, { headers: q.headers });
      show(result, t, cameras);
    } catch (x) {
      fail(x);
    } finally {
      go.disabled = false;
    }
  });
}

function show(box, t, cameras) {
  clear(box);
  const ss = t.sightings || [];
  box.append(h('h2', null, `Trajectory: ${ss.length} sighting${ss.length === 1 ? '' : 's'}`, ss.length ? ` from ${fmtTime(ss[0].enter)} to ${fmtTime(ss[ss.length - 1].exit)}` : ''));
  if (!ss.length) {
    box.append(h('p', { class: 'muted', id: 'inv-empty' }, 'Nobody matching was seen in this window. Widen the window or check the person’s enrolment.'));
    return;
  }
  const map = new VectorMap({ height: 460 });
  const seen = new Set(ss.map((s) => s.camera));
  map.render({ cameras: cameras.map((c) => ({ ...c, online: true })).filter((c) => c.position), path: ss.filter((s) => s.position) });
  box.append(h('div', { class: 'panel' }, map.svg, h('p', { class: 'muted' }, `Numbered points follow the order of the sightings; ${seen.size} camera(s) involved.`)));

  // Timeline across the sightings, with a margin, so short passes stay visible in a long window.
  const first = new Date(ss[0].enter).getTime(), last = Math.max(...ss.map((s) => new Date(s.exit).getTime()));
  const margin = Math.max(60e3, (last - first) * 0.05);
  const t0 = first - margin, t1 = last + margin;
  const tl = h('div', { class: 'timeline', id: 'inv-timeline' });
  ss.forEach((s, i) => {
    const a = Math.max(0, (new Date(s.enter).getTime() - t0) / (t1 - t0)), b = Math.min(1, (new Date(s.exit).getTime() - t0) / (t1 - t0));
    const seg = h('div', { class: 'seg', title: `${i + 1}. ${s.camera_name || s.camera}` }, h('span', null, String(i + 1)));
    seg.style.left = `${(a * 100).toFixed(2)}%`;
    seg.style.width = `${Math.max(0.3, (b - a) * 100).toFixed(2)}%`;
    tl.append(seg);
  });
  box.append(h('div', { class: 'row muted' }, h('span', { class: 'col' }, fmtTime(t0)), h('span', null, fmtTime(t1))), tl);

  const list = h('div', { class: 'panel', id: 'inv-list-result' });
  ss.forEach((s, i) => {
    const clip = h('div');
    if (s.clip && s.clip.state === 'ready' && s.clip.url) {
      const b = h('button', { type: 'button', class: 'small ghost' }, 'Play clip');
      b.addEventListener('click', () => clear(clip).append(h('video', { src: s.clip.url, controls: true, autoplay: true, muted: true, playsinline: true })));
      clip.append(b);
    } else if (s.clip && s.clip.state === 'preparing') {
      clip.append(h('span', { class: 'muted' }, 'clip being prepared'));
    }
    list.append(h('div', { class: 'sighting', dataset: { sighting: s.id } }, h('span', { class: 'n' }, String(i + 1)),
      s.snapshot.url ? h('img', { src: s.snapshot.url, alt: 'snapshot' }) : h('div', { class: 'muted' }, 'no snapshot'),
      h('div', { class: 'col' }, h('strong', null, s.camera_name || s.camera),
        h('div', { class: 'muted' }, `${fmtTime(s.enter)} – ${fmtTime(s.exit)}`),
        h('div', { class: 'score' }, i === 0 ? 'first sighting' : `link confidence ${pct(s.confidence)}`, s.score ? ` · identity evidence ${pct(s.score)}` : ''),
        clip)));
  });
  box.append(list);
}
