import { api } from '../api.js';
import { h } from '../ui.js';

export function render(main, { loggedIn }) {
  const user = h('input', { id: 'login-user', name: 'username', autocomplete: 'username', required: true, autofocus: true });
  const pass = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const err = h('p', { class: 'error-text', id: 'login-error', hidden: true });
  const btn = h('button', { id: 'login-submit', type: 'submit' }, 'Log in');
  const form = h('form', { class: 'panel login', id: 'login-form' },
    h('h1', null, 'Snowlight console'),
    h('label', { for: 'login-user' }, 'User'), user,
    h('label', { for: 'login-password' }, 'Password'), pass,
    err, btn);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    btn.disabled = true;
    try {
      const r = await api('POST', '/api/v1/login', { body: { user: user.value.trim(), password: pass.value, session: true } });
      pass.value = '';
      loggedIn(r.user, r.csrf);
    } catch (x) {
      err.textContent = x.message;
      err.hidden = false;
    } finally {
      btn.disabled = false;
    }
  });
  main.append(form);
}
