// The case evidence export: what goes in the bundle, the key that signs it (its fingerprint, to compare
// with `snowlight version` and `snowlight case verify`), then the bundle written in the background and
// a link to download it.
import { api } from './api.js';
import { h, clear, fmtTime } from './ui.js';

export class ExportDialog {
  constructor() {
    this.box = h('section', { class: 'panel', id: 'export-dialog', hidden: true });
    this.timer = 0;
  }

  // open shows the dialog for a trajectory: subject is { person_id } or { sighting }.
  async open({ caseNo, reason, from, to, subject, sightings }) {
    clearTimeout(this.timer);
    const box = clear(this.box);
    box.hidden = false;
    const key = h('code', { id: 'export-fingerprint' }, '…');
    const why = h('input', { id: 'export-reason', value: reason, autocomplete: 'off' });
    const start = h('button', { type: 'button', id: 'export-start' }, 'Write the signed bundle');
    const cancel = h('button', { type: 'button', class: 'ghost' }, 'Close');
    const state = h('div', { id: 'export-state' });
    box.append(h('h2', null, `Export evidence for case ${caseNo}`),
      h('p', null, `The trajectory shown (${sightings} sighting${sightings === 1 ? '' : 's'}, ${fmtTime(from)} – ${fmtTime(to)}): every sighting’s pictures, `,
        'the snapshots and clips of the alerts that name them, the trajectory as JSON and as a map, and this case’s audit entries. ',
        h('strong', null, 'Faces of everyone but the person followed are hidden'), ' in every picture and clip (copies: the originals stay as they are).'),
      h('p', null, 'Signed by this server’s key, fingerprint ', key, '. Whoever receives the bundle checks it with ',
        h('code', null, 'snowlight case verify BUNDLE --fingerprint "…"'), '.'),
      h('label', { for: 'export-reason' }, 'Reason (recorded in the audit log and in the bundle)'), why,
      h('div', { class: 'row' }, start, cancel), state);
    cancel.addEventListener('click', () => { clearTimeout(this.timer); box.hidden = true; });
    api('GET', '/api/v1/signing-key').then((k) => { key.textContent = k.fingerprint; }).catch(() => { key.textContent = 'unknown'; });
    box.scrollIntoView({ block: 'start' });
    start.addEventListener('click', async () => {
      start.disabled = true;
      clear(state).append(h('p', { class: 'preparing' }, 'Starting…'));
      try {
        const x = await api('POST', `/api/v1/cases/${encodeURIComponent(caseNo)}/exports`,
          { body: { reason: why.value.trim(), from, to, ...subject } });
        this.poll(caseNo, x.id, state, start);
      } catch (e) {
        clear(state).append(h('p', { class: 'error-text' }, e.message));
        start.disabled = false;
      }
    });
  }

  async poll(caseNo, id, state, start) {
    let x;
    try {
      x = await api('GET', `/api/v1/cases/${encodeURIComponent(caseNo)}/exports/${encodeURIComponent(id)}`);
    } catch (e) {
      clear(state).append(h('p', { class: 'error-text' }, e.message));
      start.disabled = false;
      return;
    }
    if (x.status === 'running') {
      clear(state).append(h('p', { class: 'preparing', id: 'export-running' },
        'Writing the bundle: hiding bystanders’ faces in every picture and clip takes a moment…'));
      this.timer = setTimeout(() => this.poll(caseNo, id, state, start), 1000);
      return;
    }
    start.disabled = false;
    if (x.status === 'failed') {
      clear(state).append(h('p', { class: 'error-text', id: 'export-failed' }, `The export failed: ${x.error}`));
      return;
    }
    const name = `case-${caseNo}-${x.id}.zip`.replace(/[^A-Za-z0-9._-]/g, '_');
    clear(state).append(h('div', { class: 'ok-text', id: 'export-done', dataset: { id: x.id } },
      h('p', null, `Written: ${x.files} files, ${(x.size / 1e6).toFixed(1)} MB, signed by ${x.fingerprint}.`),
      h('p', null, 'Manifest SHA-256 (note it in the case file): ', h('code', { id: 'export-manifest' }, x.manifest_sha256)),
      x.bundle && x.bundle.url ? h('a', { href: x.bundle.url, download: name, id: 'export-download', class: 'button' }, 'Download the bundle')
        : h('p', { class: 'muted' }, 'The bundle is being uploaded to the evidence store: reopen this export in a minute.')));
  }
}
