package adminui_test

import (
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"

	adminui "github.com/flagpole/flagpole/admin-ui"
)

// TestBrowserModules runs the UI's pure modules in the browser: escaping in
// dom.js, rollout reading in model.js, the audit diff, and the placement of
// field errors next to their controls.
func TestBrowserModules(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(adminui.Handler())
	t.Cleanup(srv.Close)
	tb := newTab(t)
	tb.do("open", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`form.signin`)))
	failures, err := chromedp.Run(tb.ctx, chromedp.Evaluate[[]string](`(async () => {
		const fails = [];
		const check = (name, ok) => { if (!ok) fails.push(name); };
		const { h } = await import('/static/js/dom.js');
		const { rollout, matchesStatus, matchesSearch } = await import('/static/js/model.js');
		const { diff } = await import('/static/js/diff.js');
		const { showFieldErrors } = await import('/static/js/ui.js');
		const { findFieldViolations, ApiError } = await import('/static/js/api.js');

		const payload = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';
		const p = h('p', { title: payload }, payload);
		document.body.append(p);
		check('text stays text', p.textContent === payload && p.children.length === 0);
		check('attribute stays attribute', p.getAttribute('title') === payload && !document.querySelector('img[src=x]'));
		let threw = false;
		try { h('a', { onclick: 'x()' }); } catch { threw = true; }
		check('inline handler refused', threw);

		const flag = { key: 'f', type: 'boolean' };
		const split = { enabled: true, defaultServe: { split: { weights: [{ variant: 'on', weight: 25 }, { variant: 'off', weight: 75 }] } } };
		check('split label', rollout(flag, split).label === 'On · 25%' && rollout(flag, split).rolling);
		check('off label', rollout(flag, { enabled: false }).label === 'Off');
		check('on label', rollout(flag, { enabled: true, defaultServe: { variant: 'on' } }).label === 'On · 100%');
		check('string variant label', rollout({ type: 'string' }, { enabled: true, defaultServe: { variant: 'blue' } }).label === 'On · blue');
		const item = { flag, configs: [{ environment: 'production', ...split }, { environment: 'staging', enabled: false }] };
		check('status rolling', matchesStatus(item, 'rolling', '', new Map()) && !matchesStatus(item, 'rolling', 'staging', new Map()));
		check('status off', matchesStatus(item, 'off', 'staging', new Map()) && !matchesStatus(item, 'off', '', new Map()));
		check('status stale', matchesStatus(item, 'stale', 'production', new Map([['f', new Map([['production', 'never_evaluated']])]])));
		check('archived hidden', !matchesStatus({ flag: { ...flag, archived: true }, configs: [] }, '', '', new Map()));
		check('search by tag', matchesSearch({ key: 'a', name: 'B', tags: ['Checkout'] }, 'checkout') && !matchesSearch({ key: 'a' }, 'zz'));

		const rows = diff({ enabled: false, revision: '1', rules: [{ conditions: [{ values: ['a'] }] }], tags: ['x'] },
			{ enabled: true, revision: '2', rules: [], tags: ['x', 'y'], owner: 'me' });
		const byPath = Object.fromEntries(rows.map((r) => [r.path, r.kind]));
		check('diff changed', byPath.enabled === 'changed' && byPath.tags === 'changed');
		check('diff removed', byPath['rules[0].conditions[0].values'] === 'removed');
		check('diff added', byPath.owner === 'added');
		check('diff ignores revision', !('revision' in byPath));

		const form = h('form', {}, h('input', { dataset: { field: 'rules[0].conditions[0].values' }, 'aria-describedby': 'e1' }),
			h('p', { id: 'e1', class: 'field-error', hidden: true }),
			h('input', { dataset: { field: 'rules[0].conditions[0].attribute' }, 'aria-describedby': 'e2' }),
			h('p', { id: 'e2', class: 'field-error', hidden: true }));
		document.body.append(form);
		const rest = showFieldErrors(form, [
			{ field: 'config.rules[0].conditions[0].values[0]', description: 'not a number' },
			{ field: 'default_serve', description: 'required' }]);
		check('error next to field', document.getElementById('e1').textContent === 'not a number' && !document.getElementById('e1').hidden);
		check('field marked invalid', form.querySelector('[data-field="rules[0].conditions[0].values"]').getAttribute('aria-invalid') === 'true');
		check('other field untouched', document.getElementById('e2').hidden);
		check('unplaced returned', rest.length === 1 && rest[0].field === 'default_serve');

		const err = new ApiError(400, { code: 'invalid_argument', message: 'bad', fieldViolations: [{ field: 'key', description: 'bad key' }] });
		check('violations parsed', err.fieldViolations.length === 1 && err.fieldViolations[0].description === 'bad key');
		check('nested violations', findFieldViolations({ error: { details: [{ fieldViolations: [{ field: 'a', description: 'b' }] }] } }).length === 1);
		check('conflict', new ApiError(409, { code: 'aborted' }).conflict && !new ApiError(409, { code: 'already_exists' }).conflict);
		check('no script ran', window.__xss === undefined);
		return fails;
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("run module checks: %v\npage errors: %q", err, tb.pageErrors())
	}
	for _, f := range failures {
		t.Errorf("module check failed: %s", f)
	}
}
