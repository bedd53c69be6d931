// A WHEP player: one receive-only RTCPeerConnection per camera, signalled with a single POST of the
// complete offer (all ICE candidates gathered first: the server does not take trickled candidates).
import { csrfToken, ApiError } from './api.js';

export class WhepPlayer {
  constructor(camera, video) {
    this.camera = camera;
    this.video = video;
    this.pc = null;
    this.location = '';
    this.offerAt = 0;      // performance.now() when the offer was sent
    this.firstFrameMs = 0; // from the offer to the first decoded frame
    this.closed = false;
    this.onstate = () => {};
  }

  async start() {
    const pc = new RTCPeerConnection({ iceServers: [] });
    this.pc = pc;
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.ontrack = (e) => {
      this.video.srcObject = e.streams[0] || new MediaStream([e.track]);
      this.video.play().catch(() => { /* muted autoplay is allowed; nothing to do */ });
    };
    pc.onconnectionstatechange = () => this.onstate(pc.connectionState);
    await pc.setLocalDescription(await pc.createOffer());
    await iceGathered(pc, 3000);
    this.offerAt = performance.now();
    const res = await fetch(`/api/v1/cameras/${encodeURIComponent(this.camera)}/whep`, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/sdp', 'X-CSRF-Token': csrfToken() },
      body: pc.localDescription.sdp,
    });
    if (res.status !== 201) {
      let msg = `${res.status} ${res.statusText}`;
      try { msg = (await res.json()).error || msg; } catch { /* keep the status */ }
      pc.close();
      throw new ApiError(res.status, msg);
    }
    this.location = res.headers.get('Location') || '';
    const answer = await res.text();
    if (this.closed) { this.stop(); return; }
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    this.watchFirstFrame();
  }

  // framesDecoded reads the inbound video statistics.
  async framesDecoded() {
    if (!this.pc) return 0;
    const stats = await this.pc.getStats();
    let n = 0;
    stats.forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'video') n = r.framesDecoded || 0; });
    return n;
  }

  watchFirstFrame() {
    const poll = async () => {
      if (this.closed || !this.pc) return;
      if ((await this.framesDecoded()) > 0) {
        this.firstFrameMs = performance.now() - this.offerAt;
        this.onstate('playing');
        return;
      }
      setTimeout(poll, 20);
    };
    poll();
  }

  stop() {
    this.closed = true;
    if (this.location) {
      fetch(this.location, { method: 'DELETE', credentials: 'same-origin', keepalive: true, headers: { 'X-CSRF-Token': csrfToken() } }).catch(() => {});
      this.location = '';
    }
    if (this.pc) this.pc.close();
    this.pc = null;
    this.video.srcObject = null;
  }
}

function iceGathered(pc, timeoutMs) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { pc.removeEventListener('icegatheringstatechange', check); clearTimeout(t); resolve(); };
    const check = () => { if (pc.iceGatheringState === 'complete') done(); };
    // Host candidates come at once; without STUN servers gathering ends quickly, and the timeout only
    // guards against a browser that never reports completion.
    const t = setTimeout(done, timeoutMs);
    pc.addEventListener('icegatheringstatechange', check);
  });
}
