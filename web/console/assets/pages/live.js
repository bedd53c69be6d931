// Live view: a grid of cameras with their health, each playable over WebRTC (WHEP).
import { api } from '../api.js';
import { h, clear, toast, secondsText } from '../ui.js';
import { WhepPlayer } from '../whep.js';

const autoStart = 4; // cameras started by themselves; the others start on click

export async function render(main) {
  const grid = h('div', { class: 'grid-cams', id: 'cameras' });
  const err = h('p', { class: 'error-text', hidden: true });
  // In a distributed deployment: the edges, their load and lag, and the center's lag behind them.
  const edges = h('p', { class: 'muted', id: 'edges', hidden: true });
  main.append(h('h1', null, 'Live view'), err, edges, grid);
  const tiles = new Map();
  const players = window.snowlight.players;

  const health = (c) => {
    if (!c.online) return `OFFLINE · ${c.state}${c.last_frame_age >= 0 ? ' · last frame ' + secondsText(c.last_frame_age) + ' ago' : ' · no frame yet'}`;
    return `${c.fps ? c.fps.toFixed(1) + ' fps' : ''}${c.width ? ' · ' + c.width + '×' + c.height : ''} · last frame ${secondsText(Math.max(0, c.last_frame_age))} ago`;
  };

  const startPlayer = async (t) => {
    if (players[t.cam.id]) return;
    const video = h('video', { muted: true, autoplay: true, playsinline: true });
    clear(t.screen).append(video, t.over);
    t.over.textContent = 'connecting…';
    const p = new WhepPlayer(t.cam.id, video);
    players[t.cam.id] = p;
    p.onstate = (st) => {
      if (st === 'playing') t.over.textContent = `live · first picture in ${Math.round(p.firstFrameMs)} ms`;
      else if (st === 'failed' || st === 'disconnected') { t.over.textContent = `connection ${st}`; }
    };
    t.btn.textContent = 'Stop';
    try {
      await p.start();
    } catch (x) {
      delete players[t.cam.id];
      clear(t.screen).append(h('span', null, x.message));
      t.btn.textContent = 'Play';
    }
  };

  const stopPlayer = (t) => {
    const p = players[t.cam.id];
    if (p) { p.stop(); delete players[t.cam.id]; }
    clear(t.screen).append(h('span', null, t.cam.online ? 'stopped' : 'camera offline'));
    t.btn.textContent = 'Play';
  };

  const showEdges = (list, lag) => {
    edges.hidden = !list;
    if (!list) return;
    const each = list.map((e) => `${e.id} ${e.cameras}/${e.capacity} cameras${e.outbox ? ` · ${e.outbox} queued, oldest ${secondsText(e.outbox_age)}` : ''}`);
    const behind = lag && lag.pending >= 0 ? ` · center ${lag.pending + lag.ack_pending} events behind` : '';
    edges.textContent = `Edges: ${each.length ? each.join(' · ') : 'none live'}${behind}`;
  };

  const refresh = async () => {
    let cams;
    try {
      const r = await api('GET', '/api/v1/cameras');
      cams = r.cameras;
      showEdges(r.edges, r.lag);
      err.hidden = true;
    } catch (x) {
      err.textContent = `Camera health unavailable: ${x.message}`;
      err.hidden = false;
      return;
    }
    if (!cams.length && !tiles.size) grid.append(h('p', { class: 'muted' }, 'No cameras are assigned to you.'));
    for (const c of cams) {
      let t = tiles.get(c.id);
      if (!t) {
        t = { cam: c, screen: h('div', { class: 'screen' }), over: h('span', { class: 'over' }), state: h('span', { class: 'pill' }),
          info: h('div', { class: 'muted' }), btn: h('button', { type: 'button', class: 'small ghost' }, 'Play') };
        t.el = h('section', { class: 'tile', dataset: { camera: c.id } },
          h('div', { class: 'bar' }, h('strong', null, c.name || c.id), t.state, t.btn), t.screen, h('div', { class: 'bar' }, t.info));
        t.btn.addEventListener('click', () => (players[c.id] ? stopPlayer(t) : startPlayer(t)));
        tiles.set(c.id, t);
        grid.append(t.el);
        t.screen.append(h('span', null, c.online ? (c.live ? 'press Play' : 'live view unavailable') : 'camera offline'));
        if (c.online && c.live && tiles.size <= autoStart) startPlayer(t);
      }
      t.cam = c;
      // The tile takes the camera's shape, so the picture fills it without bars.
      if (c.width > 0 && c.height > 0) t.screen.style.aspectRatio = `${c.width} / ${c.height}`;
      t.el.classList.toggle('offline', !c.online);
      t.state.textContent = c.online ? 'online' : c.state;
      t.state.className = 'pill ' + (c.online ? 'live' : 'down');
      t.info.textContent = `${health(c)}${c.area ? ' · ' + c.area : ''}${c.edge ? ` · on ${c.edge} since ${new Date(c.held_since).toLocaleTimeString()}` : ''}`;
      t.btn.disabled = !c.live;
    }
  };

  await refresh();
  const timer = setInterval(refresh, 5000);
  return () => {
    clearInterval(timer);
    for (const t of tiles.values()) {
      const p = players[t.cam.id];
      if (p) { p.stop(); delete players[t.cam.id]; }
    }
  };
}
