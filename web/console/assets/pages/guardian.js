// The guardian's view: the persons they look after, where each was last seen, and their alerts. The
// server sends nothing about anyone else.
import { api } from '../api.js';
import { h, clear, fmtTime, ago, categoryText } from '../ui.js';
import { VectorMap } from '../map.js';

export async function render(main, { stream }) {
  const box = h('div', { id: 'guarded' });
  main.append(h('h1', null, 'My family'), box);
  const load = async () => {
    let r;
    try { r = await api('GET', '/api/v1/guardian'); } catch (x) {
      clear(box).append(h('p', { class: 'error-text' }, x.message));
      return;
    }
    clear(box);
    if (!r.persons.length) box.append(h('p', { class: 'muted' }, 'No one is assigned to your account. Ask the command center to link you to your family member.'));
    for (const p of r.persons) box.append(person(p));
  };
  await load();
  let t = 0;
  const off = stream.listen(() => { clearTimeout(t); t = setTimeout(load, 200); });
  const timer = setInterval(load, 30000);
  return () => { off(); clearTimeout(t); clearInterval(timer); };
}

// What each step means for a family, in their words.
const familyStatus = {
  open: 'being checked', confirmed: 'confirmed by the command centre', dispatched: 'a patrol has been sent',
  acknowledged: 'a patrol is on the way', on_scene: 'a patrol is there', resolved: 'resolved', dismissed: 'not them (false alarm)',
};

function person(p) {
  const map = new VectorMap({ height: 320 });
  const l = p.latest;
  map.render({
    zones: p.safe_zone ? [{ points: p.safe_zone, label: 'safe zone' }] : [],
    marks: l && l.position ? [{ position: l.position, label: `last seen ${ago(l.exit)}` }] : [],
  });
  const alerts = p.alerts || [];
  return h('section', { class: 'panel', dataset: { person: p.id } },
    h('h2', null, p.name, ' ', h('span', { class: 'pill' }, categoryText[p.category] || p.category)),
    h('div', { class: 'row' },
      h('div', { class: 'col' },
        l ? h('div', { class: 'latest' }, h('strong', null, 'Last seen: '), `${l.camera_name || l.camera}, ${fmtTime(l.exit)} (${ago(l.exit)})`,
          l.face && l.face.url ? h('div', null, h('img', { src: l.face.url, alt: 'face seen', class: 'crop' })) : null)
          : h('p', { class: 'muted' }, 'Not seen by any camera recently.'),
        h('h2', null, 'Alerts'),
        alerts.length ? h('table', { class: 'guardian-alerts' }, alerts.map((a) => h('tr', { dataset: { id: a.id } },
          h('td', null, fmtTime(a.created)), h('td', null, a.title), h('td', null, a.camera_name),
          h('td', null, a.face && a.face.url ? h('img', { src: a.face.url, alt: 'face seen' }) : null),
          h('td', null, h('span', { class: ['status', a.status] }, familyStatus[a.status] || a.status)))))
          : h('p', { class: 'muted' }, 'No alerts.')),
      h('div', { class: 'col' }, map.svg)));
}
