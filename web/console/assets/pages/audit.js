// The audit log for auditors and admins: the newest entries and a check of the hash chain.
import { api } from '../api.js';
import { h, clear, fmtTime } from '../ui.js';

export async function render(main) {
  const verdict = h('p', { id: 'audit-verdict' });
  const verify = h('button', { type: 'button', class: 'ghost', id: 'audit-verify' }, 'Verify the chain');
  const table = h('div', { id: 'audit-entries' });
  main.append(h('h1', null, 'Audit log'), h('div', { class: 'row' }, verify, verdict), h('div', { class: 'panel' }, table));
  verify.addEventListener('click', async () => {
    try {
      const r = await api('GET', '/api/v1/audit/verify');
      // Said in words; the head (id:hash) is what to keep to check against later.
      verdict.className = r.ok ? 'ok-text' : 'error-text';
      verdict.textContent = r.ok
        ? `The chain verifies: ${r.checked} entries, none changed, removed or inserted. Head ${r.head.id}:${r.head.hash} (keep it: snowlight audit verify --anchor checks that nothing after it was cut off).`
        : `The chain is broken at entry ${r.broken}: ${r.problem}. The ${r.checked} entries before it verify.`;
    } catch (x) { verdict.textContent = x.message; }
  });
  try {
    let after = 0, entries = [];
    // Pages run oldest first; read them all and show the newest 200.
    for (let i = 0; i < 50; i++) {
      const r = await api('GET', `/api/v1/audit?after=${after}&limit=500`);
      entries = entries.concat(r.entries);
      if (!r.next) break;
      after = r.next;
    }
    entries = entries.slice(-200).reverse();
    clear(table).append(h('table', null,
      h('tr', null, ['#', 'time', 'who', 'action', 'target', 'case', 'reason'].map((t) => h('th', null, t))),
      entries.map((e) => h('tr', null, h('td', null, String(e.id)), h('td', null, fmtTime(e.time)), h('td', null, `${e.actor} (${e.role || '-'})`),
        h('td', null, e.action), h('td', null, e.target || ''), h('td', null, e.case || ''), h('td', null, e.reason || '')))));
  } catch (x) {
    table.append(h('p', { class: 'error-text' }, x.message));
  }
}
