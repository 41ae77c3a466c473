// signin.js is the sign-in screen: username and password, posted to the
// server, which answers with an HttpOnly session cookie.

import { api } from '../api.js';
import { h, field } from '../dom.js';
import { errorBanner, showFieldErrors } from '../ui.js';

export function render(root, _params, ctx) {
  const username = h('input', { type: 'text', name: 'username', autocomplete: 'username', required: true });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const msg = h('div');
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form', { class: 'panel signin', 'aria-labelledby': 'signin-title', novalidate: true },
    h('h1', { id: 'signin-title' }, 'Sign in to Flagpole'),
    msg,
    field('Username', username, { fieldPath: 'username' }),
    field('Password', password, { fieldPath: 'password' }),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    errorBanner(msg, null);
    try {
      const answer = await api.signIn(username.value.trim(), password.value);
      await ctx.signedIn(answer);
    } catch (err) {
      const rest = showFieldErrors(form, err.fieldViolations || []);
      if (!err.fieldViolations?.length || rest.length) {
        errorBanner(msg, err.status === 401 ? new Error('Wrong username or password.') : err);
      }
      password.value = '';
    } finally {
      submit.disabled = false;
    }
  });
  root.append(form);
  username.focus();
}
