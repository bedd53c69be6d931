// Patrols: the units, where they are, what they are doing.
import { api, hasRole, currentUser } from '../api.js';
import { h, clear, toast, fmtTime, ago, field } from '../ui.js';
import { VectorMap } from '../map.js';

export async function render(main) {
  const table = h('div', { id: 'patrols' });
  const err = h('p', { class: 'error-text', hidden: true });
  const map = new VectorMap({ height: 440 });
  main.append(h('h1', null, 'Patrols'), err, h('div', { class: 'row' }, h('div', { class: 'col panel' }, table),
    h('div', { class: 'col panel' }, map.svg, h('p', { class: 'muted' }, '● unit (green available, orange busy, grey offline) · ◆ camera'))));
  let cameras = [];
  if (hasRole('admin', 'operator', 'investigator')) {
    try { cameras = (await api('GET', '/api/v1/cameras')).cameras; } catch { cameras = []; }
  }
  const load = async () => {
    let units;
    try {
      units = (await api('GET', '/api/v1/patrols')).patrols;
      err.hidden = true;
    } catch (x) {
      err.textContent = x.message;
      err.hidden = false;
      return;
    }
    clear(table).append(h('table', null,
      h('tr', null, ['unit', 'status', 'area', 'position', 'updated', 'assignment'].map((t) => h('th', null, t))),
      units.map((u) => h('tr', { dataset: { unit: u.id } },
        h('td', null, u.name || u.id, u.name && u.name !== u.id ? h('div', { class: 'muted' }, u.id) : null),
        h('td', null, h('span', { class: ['pill', u.status === 'available' ? 'live' : u.status === 'offline' ? 'down' : ''] }, u.status)),
        h('td', null, u.area || ''),
        h('td', null, u.position ? `${u.position.lat.toFixed(5)}, ${u.position.lon.toFixed(5)}` : 'unknown'),
        h('td', null, u.updated ? ago(u.updated) : 'never', h('div', { class: 'muted' }, fmtTime(u.updated))),
        h('td', null, u.alert ? h('a', { href: `#/alert/${encodeURIComponent(u.alert)}` }, u.status === 'available' ? 'asked to go (not acknowledged yet)' : 'on an alert') : '—')))));
    if (!units.length) table.append(h('p', { class: 'muted' }, 'No patrol units are configured.'));
    map.render({ cameras, units });
    const me = currentUser();
    const mine = units.find((u) => u.account === me.name);
    if (me.role === 'patrol' && mine) table.append(reportForm(mine, load));
  };
  if (hasRole('admin')) main.append(createForm(() => load()));
  await load();
  const t = setInterval(load, 5000);
  return () => clearInterval(t);
}

// reportForm lets a patrol account report its unit's position from the browser's location or by hand.
function reportForm(u, reload) {
  const lat = h('input', { type: 'number', step: 'any', value: u.position ? u.position.lat : '' });
  const lon = h('input', { type: 'number', step: 'any', value: u.position ? u.position.lon : '' });
  const status = h('select', null, ['available', 'busy', 'offline'].map((s) => h('option', { value: s, selected: s === u.status }, s)));
  const send = h('button', { type: 'submit' }, 'Report position');
  const f = h('form', { class: 'form-grid' }, field('Latitude', lat), field('Longitude', lon), field('Status', status), send);
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api('POST', `/api/v1/patrols/${encodeURIComponent(u.id)}/position`, { body: { position: { lat: +lat.value, lon: +lon.value }, status: status.value } });
      toast('Position reported');
      reload();
    } catch (x) { toast(x.message, 'error'); }
  });
  return h('div', null, h('h2', null, `Report for ${u.name}`), f);
}

function createForm(reload) {
  const id = h('input', { required: true, placeholder: 'unit-7' });
  const name = h('input', { required: true, placeholder: 'Street patrol 7' });
  const area = h('input', { placeholder: 'district' });
  const account = h('input', { placeholder: 'patrol user name' });
  const lat = h('input', { type: 'number', step: 'any' });
  const lon = h('input', { type: 'number', step: 'any' });
  const f = h('form', { class: 'panel', id: 'patrol-create' }, h('h2', null, 'Add a unit'),
    h('div', { class: 'form-grid' }, field('Id', id), field('Name', name), field('Area', area), field('Account', account),
      field('Latitude', lat), field('Longitude', lon)), h('button', { type: 'submit' }, 'Add unit'));
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { id: id.value.trim(), name: name.value.trim(), area: area.value.trim(), account: account.value.trim(), status: 'available' };
    if (lat.value && lon.value) body.position = { lat: +lat.value, lon: +lon.value };
    try {
      await api('POST', '/api/v1/patrols', { body });
      toast(`Unit ${body.name} added`);
      f.reset();
      reload();
    } catch (x) { toast(x.message, 'error'); }
  });
  return f;
}
