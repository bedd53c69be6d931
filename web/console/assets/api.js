// The API client: JSON in and out, the CSRF token on every state-changing request, the server's error
// message in every failure.

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

const session = { csrf: '', user: null, onExpired: null };

export function setSession(user, csrf) {
  session.user = user;
  if (csrf) session.csrf = csrf;
}

export function currentUser() { return session.user; }

export function onSessionExpired(fn) { session.onExpired = fn; }

function cookie(name) {
  for (const part of document.cookie.split(';')) {
    const [k, v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v || '');
  }
  return '';
}

export function csrfToken() { return session.csrf || cookie('snowlight_csrf'); }

// api sends a request. body: an object (sent as JSON), a FormData, or a string with headers giving its
// type. It resolves to the parsed JSON (or null), or rejects with an ApiError.
export async function api(method, path, { body, headers = {}, raw = false, signal } = {}) {
  const hd = { ...headers };
  let b = body;
  if (body !== undefined && !(body instanceof FormData) && typeof body !== 'string') {
    hd['Content-Type'] = 'application/json';
    b = JSON.stringify(body);
  }
  if (method !== 'GET' && method !== 'HEAD') hd['X-CSRF-Token'] = csrfToken();
  let res;
  try {
    res = await fetch(path, { method, headers: hd, body: b, credentials: 'same-origin', signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'The server cannot be reached: check the network connection and try again.');
  }
  if (res.status === 401 && path !== '/api/v1/login' && path !== '/api/v1/me' && session.onExpired) {
    session.onExpired();
  }
  if (raw) {
    if (!res.ok) throw new ApiError(res.status, await errorText(res));
    return res;
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) throw new ApiError(res.status, (data && data.error) || `${res.status} ${res.statusText}`, data);
  return data;
}

async function errorText(res) {
  try {
    const d = await res.json();
    if (d && d.error) return d.error;
  } catch { /* not JSON */ }
  return `${res.status} ${res.statusText}`;
}

// withCase attaches a case number and reason to a request: in headers, which stay out of proxy logs,
// when they are plain Latin-1 (all that headers can carry), else in the query.
export function withCase(path, caseNo, reason) {
  const latin1 = /^[\x20-\x7e\xa0-\xff]*$/;
  if (latin1.test(caseNo) && latin1.test(reason)) {
    return { path, headers: { 'X-Snowlight-Case': caseNo, 'X-Snowlight-Reason': reason } };
  }
  const sep = path.includes('?') ? '&' : '?';
  return { path: `${path}${sep}case=${encodeURIComponent(caseNo)}&reason=${encodeURIComponent(reason)}`, headers: {} };
}

export const hasRole = (...roles) => session.user && roles.includes(session.user.role);
