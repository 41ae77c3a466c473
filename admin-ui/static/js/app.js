// app.js starts the admin UI: it finds out who is signed in, routes on the
// URL fragment (#/flags, #/flags/KEY, ...) and gives each view the main
// region. A view returns a cleanup function that stops whatever it started
// (polling), called before the next view renders.

import { api, onUnauthenticated, setCsrfToken } from './api.js';
import { clear, h } from './dom.js';
import { errorBanner } from './ui.js';
import * as signin from './views/signin.js';
import * as flags from './views/flags.js';
import * as flag from './views/flag.js';
import * as history from './views/history.js';
import * as segments from './views/segments.js';
import * as environments from './views/environments.js';
import * as tokens from './views/tokens.js';
import * as users from './views/users.js';
import * as audit from './views/audit.js';
import * as webhooks from './views/webhooks.js';

const main = document.getElementById('main');
const session = { me: null };
let cleanup = null;
let generation = 0;

const table = [
  [/^#\/signin$/, () => signin],
  [/^#\/flags$/, () => flags],
  [/^#\/flags\/new$/, () => flags, () => ({ create: true })],
  [/^#\/flags\/([^/]+)\/history$/, () => history, (m) => ({ key: decodeURIComponent(m[1]) })],
  [/^#\/flags\/([^/]+)(?:\/env\/([^/]+))?$/, () => flag,
    (m) => ({ key: decodeURIComponent(m[1]), env: m[2] ? decodeURIComponent(m[2]) : '' })],
  [/^#\/segments$/, () => segments],
  [/^#\/environments$/, () => environments],
  [/^#\/tokens$/, () => tokens],
  [/^#\/users$/, () => users],
  [/^#\/audit$/, () => audit],
  [/^#\/webhooks$/, () => webhooks],
];

function resolve(hash) {
  for (const [re, view, params] of table) {
    const m = re.exec(hash);
    if (m) return { view: view(), params: params ? params(m) : {} };
  }
  return null;
}

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function route() {
  const hash = location.hash || '#/flags';
  if (!hash.startsWith('#/')) return; // in-page anchors
  const found = resolve(hash);
  if (!found) { navigate('#/flags'); return; }
  if (!session.me && found.view !== signin) {
    if (!(await loadSession())) { navigate('#/signin'); return; }
  }
  if (typeof cleanup === 'function') cleanup();
  cleanup = null;
  document.getElementById('toast').textContent = '';
  clear(main);
  showShell(found.view !== signin);
  markNav(hash);
  const gen = ++generation;
  const root = main.appendChild(h('div', { class: 'view' }));
  try {
    const stop = await found.view.render(root, found.params, { session, navigate, signedIn });
    if (gen === generation) cleanup = stop;
    else if (typeof stop === 'function') stop(); // a newer route already replaced this view
  } catch (err) {
    errorBanner(root, err);
  }
}

async function loadSession() {
  try {
    const me = await api.whoAmI();
    if (me.csrfToken) setCsrfToken(me.csrfToken);
    session.me = me;
    return true;
  } catch {
    session.me = null;
    return false;
  }
}

// signedIn is called by the sign-in view with the server's answer.
async function signedIn(answer) {
  if (answer?.csrfToken) setCsrfToken(answer.csrfToken);
  await loadSession();
  navigate(session.returnTo || '#/flags');
}

function showShell(visible) {
  document.getElementById('topbar').hidden = !visible;
  for (const el of document.querySelectorAll('[data-admin-only]')) el.hidden = session.me?.role !== 'admin';
  document.getElementById('who-name').textContent =
    session.me ? `${session.me.name || ''}${session.me.role ? ` (${session.me.role})` : ''}` : '';
}

function markNav(hash) {
  const section = hash.split('/')[1];
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function signOut() {
  try { await api.signOut(); } catch { /* the session may already be gone */ }
  session.me = null;
  setCsrfToken('');
  navigate('#/signin');
}

onUnauthenticated(() => {
  session.me = null;
  if (!location.hash.startsWith('#/signin')) {
    session.returnTo = location.hash;
    navigate('#/signin');
  }
});

document.getElementById('sign-out').addEventListener('click', signOut);
document.querySelector('.skip').addEventListener('click', (ev) => {
  ev.preventDefault();
  main.focus();
});
window.addEventListener('hashchange', route);
route();
