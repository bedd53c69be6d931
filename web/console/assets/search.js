// Finding people: sightings like an example (a sighting, or a picture of the person) and sightings
// matching a witness's description of their clothes, within the investigation's window and case. The
// results show each sighting's pictures, scores and clothes; one click follows a result's trajectory or
// searches again from it.
import { api, withCase } from './api.js';
import { h, clear, fmtTime, pct, toast } from './ui.js';

const colourNames = ['black', 'white', 'grey', 'red', 'orange', 'yellow', 'green', 'blue', 'purple', 'pink', 'brown'];
const swatch = {
  black: '#111', white: '#f4f4f4', grey: '#8a8a8a', red: '#c8242b', orange: '#f08a24', yellow: '#f2d21b', green: '#2e8b3e',
  blue: '#2c5fb8', purple: '#7b3fa0', pink: '#f29bc1', brown: '#7a4a22',
};

// SearchPanel is the "Find people" form and its results. ctx() gives { caseNo, reason, from, to } of
// the investigation form; follow(id) shows a sighting's trajectory.
export class SearchPanel {
  constructor({ ctx, follow, cameras }) {
    this.ctx = ctx;
    this.follow = follow;
    this.cameras = cameras;
    this.example = null; // { id, label } of the sighting searched by
    this.crop = null; // base64 of an uploaded picture
    this.chips = { upper: new Set(), lower: new Set() };
    this.dark = { upper: false, lower: false };

    this.colours = h('input', { id: 'srch-colours', placeholder: 'a witness’s words, e.g. “red top, dark trousers”', autocomplete: 'off' });
    this.preview = h('p', { class: 'muted', id: 'srch-preview' }, 'No description: any clothes.');
    this.exampleBox = h('div', { id: 'srch-example', class: 'muted' }, 'No example: pick “Find similar” on a sighting, or upload a picture.');
    this.file = h('input', { type: 'file', id: 'srch-crop', accept: 'image/jpeg,image/png' });
    this.camSel = h('select', { id: 'srch-cameras', multiple: true, size: 4, title: 'none selected: all your cameras' },
      cameras.map((c) => h('option', { value: c.id }, c.name || c.id)));
    this.go = h('button', { type: 'button', id: 'srch-go' }, 'Search');
    this.err = h('p', { class: 'error-text', id: 'srch-error', hidden: true });
    this.results = h('div', { id: 'srch-results' });
    this.box = h('section', { class: 'panel', id: 'srch-panel' },
      h('h2', null, 'Find people'),
      h('p', { class: 'muted' }, 'By appearance (like a sighting or a picture), by clothing colours, or both; within the window and case above, recorded like every query.'),
      h('div', { class: 'row' },
        h('div', { class: 'col' }, h('label', null, 'Like'), this.exampleBox, h('label', { for: 'srch-crop' }, 'or a picture of the person (whole body)'), this.file),
        h('div', { class: 'col' }, h('label', { for: 'srch-colours' }, 'Wearing'), this.colours,
          this.chipRow('upper', 'Top'), this.chipRow('lower', 'Bottom'), this.preview),
        h('div', null, h('label', { for: 'srch-cameras' }, 'Cameras'), this.camSel)),
      this.err, h('div', { class: 'row' }, this.go), this.results);

    this.go.addEventListener('click', () => this.run());
    let timer = 0;
    this.colours.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => this.describe(), 250); });
    this.file.addEventListener('change', () => this.readFile());
  }

  chipRow(part, label) {
    const row = h('div', { class: 'chips', dataset: { part } }, h('span', { class: 'muted chip-label' }, label));
    for (const n of colourNames) {
      const b = h('button', { type: 'button', class: 'chip', title: n, dataset: { colour: n } }, h('i', { style: `background:${swatch[n]}` }), n);
      b.addEventListener('click', () => { this.toggle(part, n); b.classList.toggle('on', this.chips[part].has(n)); });
      row.append(b);
    }
    const d = h('button', { type: 'button', class: 'chip', dataset: { colour: 'dark' } }, 'dark');
    d.addEventListener('click', () => { this.dark[part] = !this.dark[part]; d.classList.toggle('on', this.dark[part]); this.compose(); });
    row.append(d);
    return row;
  }

  toggle(part, n) {
    const s = this.chips[part];
    if (s.has(n)) s.delete(n); else s.add(n);
    this.compose();
  }

  // compose writes the chips as a witness would say them, which the server reads back as the preview.
  compose() {
    const phrase = (part, garment) => {
      const words = [...this.chips[part]];
      if (!words.length && !this.dark[part]) return '';
      return `${this.dark[part] ? 'dark ' : ''}${words.join('/')} ${garment}`.replace(/\s+/g, ' ').trim();
    };
    this.colours.value = [phrase('upper', 'top'), phrase('lower', 'trousers')].filter(Boolean).join(', ');
    this.describe();
  }

  async describe() {
    const text = this.colours.value.trim();
    const seq = (this.seq = (this.seq || 0) + 1); // only the newest answer is shown
    this.preview.classList.remove('error-text');
    if (!text) { this.preview.textContent = 'No description: any clothes.'; return; }
    try {
      const d = await api('POST', '/api/v1/search/describe', { body: { text } });
      if (seq !== this.seq) return;
      const part = (t) => [t.dark ? 'dark' : '', (t.names || []).join(' or ')].filter(Boolean).join(' ') || 'anything';
      this.preview.textContent = `Understood: top ${part(d.upper)}; bottom ${part(d.lower)}.`;
    } catch (x) {
      if (seq !== this.seq) return;
      this.preview.textContent = x.message;
      this.preview.classList.add('error-text');
    }
  }

  async readFile() {
    const f = this.file.files[0];
    if (!f) { this.crop = null; return; }
    const buf = new Uint8Array(await f.arrayBuffer());
    let bin = '';
    for (let i = 0; i < buf.length; i += 0x8000) bin += String.fromCharCode(...buf.subarray(i, i + 0x8000));
    this.crop = btoa(bin);
    this.example = null;
    clear(this.exampleBox).append(`the picture ${f.name}`);
  }

  // like searches from one sighting (a result or a trajectory's step).
  like(s) {
    this.example = { id: s.id, label: `${s.camera_name || s.camera}, ${fmtTime(s.enter)}` };
    this.crop = null;
    this.file.value = '';
    const clearBtn = h('button', { type: 'button', class: 'small ghost' }, 'clear');
    clearBtn.addEventListener('click', () => { this.example = null; clear(this.exampleBox).append('No example.'); });
    clear(this.exampleBox).append(s.snapshot && s.snapshot.url ? h('img', { src: s.snapshot.url, alt: 'example', class: 'example' }) : null,
      `the sighting at ${this.example.label} `, clearBtn);
    this.box.scrollIntoView({ block: 'start' });
    return this.run();
  }

  async run() {
    this.err.hidden = true;
    const body = { limit: 40 };
    try {
      const c = this.ctx();
      Object.assign(body, { from: c.from, to: c.to });
      if (this.example) body.example = this.example.id;
      else if (this.crop) body.crop = this.crop;
      if (this.colours.value.trim()) body.colours = this.colours.value.trim();
      const cams = [...this.camSel.selectedOptions].map((o) => o.value);
      if (cams.length) body.cameras = cams;
      this.go.disabled = true;
      const q = withCase('/api/v1/search/sightings', c.caseNo, c.reason);
      const r = await api('POST', q.path, { headers: q.headers, body });
      this.show(r.hits || [], !!(body.example || body.crop));
    } catch (x) {
      this.err.textContent = x.message;
      this.err.hidden = false;
    } finally {
      this.go.disabled = false;
    }
  }

  show(hits, byExample) {
    const box = clear(this.results);
    box.append(h('h3', null, `${hits.length} sighting${hits.length === 1 ? '' : 's'} found`,
      byExample ? ', most alike first' : ', best match first'));
    if (!hits.length) { box.append(h('p', { class: 'muted', id: 'srch-none' }, 'Nothing matches in this window and these cameras.')); return; }
    const grid = h('div', { class: 'hits' });
    hits.forEach((hit, i) => {
      const s = hit.sighting;
      const follow = h('button', { type: 'button', class: 'small', dataset: { follow: s.id } }, 'Follow');
      follow.addEventListener('click', () => this.follow(s.id).catch((x) => toast(x.message, 'error')));
      const again = h('button', { type: 'button', class: 'small ghost', dataset: { like: s.id } }, 'Find similar');
      again.addEventListener('click', () => this.like(s));
      grid.append(h('article', { class: 'hit', dataset: { sighting: s.id, rank: String(i + 1) } },
        h('div', { class: 'pics' },
          s.snapshot && s.snapshot.url ? h('img', { src: s.snapshot.url, alt: 'person', class: 'body' }) : h('div', { class: 'muted body' }, 'no picture'),
          s.face && s.face.url ? h('img', { src: s.face.url, alt: 'face', class: 'face' }) : null),
        h('div', { class: 'score' }, `${i + 1}. `, byExample ? `alike ${pct(hit.score)}` : `match ${pct(hit.score)}`,
          byExample && hit.colour < 1 ? ` · clothes ${pct(hit.colour)}` : ''),
        h('div', null, s.camera_name || s.camera), h('div', { class: 'muted' }, fmtTime(s.enter)),
        hit.clothes ? h('div', { class: 'muted' }, `top ${hit.clothes.upper}, bottom ${hit.clothes.lower}`) : null,
        s.person_id ? h('div', { class: 'muted' }, `watch list: ${s.person_id}`) : null,
        h('div', { class: 'row' }, follow, again)));
    });
    box.append(grid);
  }
}
