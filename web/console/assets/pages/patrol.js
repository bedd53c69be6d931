// The patrol's phone: what the unit is sent to now, made to be read in the street. One column at phone
// width, black on white for sunlight, large type, and the steps (acknowledge, on scene, resolve) as
// big buttons at the bottom where a thumb reaches. The alert stream brings every change at once.
import { api } from '../api.js';
import { h, clear, fmtTime, ago, categoryText, statusText, toast } from '../ui.js';
import { VectorMap } from '../map.js';
import { actionsFor, act } from './wall.js';

const stepText = { ack: 'Acknowledge', on_scene: 'On scene', resolve: 'Resolve' };

export async function render(main, { stream }) {
  const box = h('div', { class: 'patrol', id: 'pt' });
  const bar = h('nav', { class: 'pt-actions', id: 'pt-actions', 'aria-label': 'steps' });
  main.append(box, bar);
  const map = new VectorMap({ width: 400, height: 300 });
  let busy = false;

  const load = async () => {
    let a;
    try {
      a = await api('GET', '/api/v1/patrol/assignment');
    } catch (x) {
      clear(box).append(h('p', { class: 'pt-big error-text', id: 'pt-error' }, x.message));
      clear(bar);
      return;
    }
    draw(a);
  };

  const draw = (a) => {
    const al = a.alert;
    document.body.dataset.assignment = al ? al.id : '';
    if (!al) {
      clear(box).append(h('p', { class: 'pt-unit' }, `Unit ${a.unit.name || a.unit.id}`),
        h('p', { class: 'pt-big', id: 'pt-idle' }, 'No assignment.'),
        h('p', null, 'You will see it here the moment your unit is sent.'));
      clear(bar);
      return;
    }
    const last = a.route.length ? a.route[a.route.length - 1] : null;
    const photos = h('div', { class: 'pt-photos' });
    if (a.photo_url) photos.append(h('figure', null, h('img', { id: 'pt-photo', src: a.photo_url, alt: 'enrolment photo' }), h('figcaption', null, 'photo on file')));
    const latest = a.latest && (a.latest.snapshot?.url || a.latest.face?.url);
    if (latest) photos.append(h('figure', null, h('img', { id: 'pt-latest', src: latest, alt: 'latest picture' }), h('figcaption', null, `seen ${fmtTime(a.latest.enter)}`)));
    clear(box).append(
      h('div', { class: ['pt-status', al.status], id: 'pt-status', dataset: { status: al.status } }, statusText[al.status] || al.status),
      h('h1', { id: 'pt-title' }, al.title),
      al.person_name ? h('p', { class: 'pt-person', id: 'pt-person' }, h('strong', null, al.person_name),
        al.category ? ` · ${categoryText[al.category] || al.category}` : '') : null,
      photos.childNodes.length ? photos : null,
      h('p', { class: 'pt-seen', id: 'pt-seen' }, last
        ? ['Last seen at ', h('strong', null, last.camera_name || last.camera), `, ${fmtTime(last.exit)} (${ago(last.exit)})`]
        : `Reported at ${al.camera_name || al.camera}, ${fmtTime(al.created)}`),
      h('div', { class: 'pt-map' }, map.svg),
      h('p', { class: 'pt-legend' }, 'Numbered: where the person was seen, in order · ● your unit'));
    const unit = a.unit.position ? [{ ...a.unit, status: 'busy' }] : [];
    const here = last && last.position ? last.position : al.position;
    map.render({ units: unit, path: a.route, focus: [...a.route.map((p) => p.position), here, a.unit.position], origin: here,
      highlightUnit: a.unit.id, lines: a.unit.position && here ? [{ from: a.unit.position, to: here }] : [] });

    clear(bar);
    const steps = actionsFor(al).filter(([action]) => stepText[action]);
    steps.forEach(([action], i) => {
      const b = h('button', { type: 'button', class: ['pt-step', i === 0 ? 'main' : 'second'], dataset: { action } }, stepText[action]);
      b.addEventListener('click', async () => {
        if (busy) return;
        busy = true;
        for (const x of bar.querySelectorAll('button')) x.disabled = true;
        try {
          const got = await act(al, action);
          toast(`${statusText[got.status] || got.status}`);
          await load();
        } catch (x) {
          toast(x.message, 'error');
          for (const y of bar.querySelectorAll('button')) y.disabled = false;
        } finally {
          busy = false;
        }
      });
      bar.append(b);
    });
  };

  await load();
  await stream.opened();
  let pending = 0;
  // A patrol's stream carries only its unit's alerts: every event (an assignment, a step, a new
  // sighting) may change what to show.
  const off = stream.listen(() => {
    clearTimeout(pending);
    pending = setTimeout(load, 150);
  });
  return () => { off(); clearTimeout(pending); delete document.body.dataset.assignment; };
}
