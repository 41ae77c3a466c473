// api.js is the UI's only way to the server: the HTTP JSON API under
// /api/v1 (protobuf JSON mapping, lowerCamelCase fields), the same API the
// CLI and scripts use. Every route the UI calls is in the `routes` table
// below; a test (admin-ui/openapi_test.go) checks each method, path and
// query parameter against the OpenAPI document that is generated from the
// protos' google.api.http annotations (proto/gen/openapi), as the server's
// route table is.

const base = '/api/v1';

// CSRF: the session cookie is HttpOnly; state-changing requests carry the
// session's CSRF token in a header. The server sets it in a cookie that
// scripts may read (flagpole_csrf) and in the sign-in answer.
export const csrfHeader = 'X-CSRF-Token';
const csrfCookie = 'flagpole_csrf';
let csrfToken = '';

export function setCsrfToken(token) {
  csrfToken = token || '';
}

function csrfFromCookie() {
  for (const part of document.cookie.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === csrfCookie) return decodeURIComponent(rest.join('='));
  }
  return '';
}

const enc = encodeURIComponent;

// routes maps each call to [method, path, body?]. Paths and query
// parameter names must be those of the OpenAPI document (GET
// /api/v1/openapi.json); TestUICallsExistInOpenAPI parses this table.
export const routes = {
  signIn: (username, password) => ['POST', '/auth/sign-in', { username, password }],
  signOut: () => ['POST', '/auth/sign-out', {}],
  whoAmI: () => ['GET', '/whoami'],

  listEnvironments: () => ['GET', '/environments'],
  createEnvironment: (environment) => ['POST', '/environments', environment],
  updateEnvironment: (environment) => ['PUT', `/environments/${enc(environment.name)}`, environment],
  deleteEnvironment: (name) => ['DELETE', `/environments/${enc(name)}`],

  listFlags: (q = {}) => ['GET', '/flags' + query({ includeArchived: q.includeArchived ? 'true' : '' })],
  getFlag: (key) => ['GET', `/flags/${enc(key)}`],
  createFlag: (flag) => ['POST', '/flags', flag],
  updateFlag: (flag) => ['PUT', `/flags/${enc(flag.key)}`, flag],
  archiveFlag: (key, archived, expectedRevision, force) =>
    ['POST', `/flags/${enc(key)}/archive`, { archived, expectedRevision: String(expectedRevision || 0), force: !!force }],
  deleteFlag: (key, expectedRevision) =>
    ['DELETE', `/flags/${enc(key)}` + query({ expectedRevision: expectedRevision || '' })],
  getFlagConfig: (key, env) => ['GET', `/flags/${enc(key)}/environments/${enc(env)}`],
  replaceFlagConfig: (config) =>
    ['PUT', `/flags/${enc(config.flagKey)}/environments/${enc(config.environment)}`, config],
  setEnabled: (key, env, enabled, expectedRevision) =>
    ['POST', `/flags/${enc(key)}/environments/${enc(env)}/enabled`,
      { enabled, expectedRevision: String(expectedRevision || 0) }],
  setRollout: (key, env, percent, expectedRevision, variant = '', restVariant = '') =>
    ['POST', `/flags/${enc(key)}/environments/${enc(env)}/rollout`,
      { percent, variant, restVariant, expectedRevision: String(expectedRevision || 0) }],

  listSegments: () => ['GET', '/segments'],
  createSegment: (segment) => ['POST', '/segments', segment],
  updateSegment: (segment) => ['PUT', `/segments/${enc(segment.key)}`, segment],
  deleteSegment: (key, expectedRevision) =>
    ['DELETE', `/segments/${enc(key)}` + query({ expectedRevision: expectedRevision || '' })],

  listAudit: (q = {}) => ['GET', '/audit' + query({ flagKey: q.flagKey, environment: q.environment, actor: q.actor, since: q.since, until: q.until, pageSize: q.pageSize, pageToken: q.pageToken })],

  listClients: (env) => ['GET', `/environments/${enc(env)}/clients`],

  listUsage: (q = {}) => ['GET', '/usage' + query({ environment: q.environment, staleOnly: q.staleOnly ? 'true' : '' })],
  getFlagUsage: (key, env, hours) => ['GET', `/flags/${enc(key)}/usage` + query({ environment: env, hours })],

  listReleasePlans: (q = {}) => ['GET', '/release-plans' + query({ environment: q.environment, flagKey: q.flagKey, activeOnly: q.activeOnly ? 'true' : '' })],
  listSignals: (key, env, startTime) =>
    ['GET', `/flags/${enc(key)}/environments/${enc(env)}/signals` + query({ startTime })],
  pauseReleasePlan: (env, id) => ['POST', `/environments/${enc(env)}/release-plans/${enc(id)}/pause`, {}],
  resumeReleasePlan: (env, id) => ['POST', `/environments/${enc(env)}/release-plans/${enc(id)}/resume`, {}],
  cancelReleasePlan: (env, id) => ['POST', `/environments/${enc(env)}/release-plans/${enc(id)}/cancel`, {}],

  listUsers: () => ['GET', '/users'],
  createUser: (u) => ['POST', '/users', u],
  deleteUser: (username) => ['DELETE', `/users/${enc(username)}`],
  setPassword: (username, password) => ['POST', `/users/${enc(username)}/password`, { password }],
  setRole: (username, role) => ['POST', `/users/${enc(username)}/role`, { role }],

  listTokens: () => ['GET', '/tokens?includeRevoked=true'],
  createToken: (t) => ['POST', '/tokens', t],
  revokeToken: (name) => ['POST', `/tokens/${enc(name)}/revoke`, {}],
  deleteToken: (name) => ['DELETE', `/tokens/${enc(name)}`],

  listWebhooks: () => ['GET', '/webhooks'],
  createWebhook: (w) => ['POST', '/webhooks', w],
  deleteWebhook: (id) => ['DELETE', `/webhooks/${enc(id)}`],
  testWebhook: (id) => ['POST', `/webhooks/${enc(id)}/test`, {}],
  listDeliveries: (q = {}) => ['GET', '/webhook-deliveries' + query({ webhookId: q.webhookId, state: q.state, pageSize: q.pageSize })],
};

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

// ApiError is a failed call: HTTP status, the server's code and message, and
// for 400s the field violations ({field, description}) of the body.
export class ApiError extends Error {
  constructor(status, body) {
    const message = pickMessage(body) || `request failed (HTTP ${status})`;
    super(message);
    this.status = status;
    this.body = body;
    this.code = (body && (body.code ?? body.error?.code)) || '';
    this.fieldViolations = findFieldViolations(body);
  }

  // conflict: a stale revision (409 aborted), not a duplicate (409 already_exists).
  get conflict() { return this.status === 409 && this.code !== 'already_exists'; }
  get unauthenticated() { return this.status === 401; }
}

function pickMessage(body) {
  if (!body || typeof body !== 'object') return typeof body === 'string' ? body : '';
  return body.message || body.error?.message || (typeof body.error === 'string' ? body.error : '');
}

// findFieldViolations collects {field, description} pairs wherever the body
// has them: top level, under error, or in google.rpc.BadRequest details.
export function findFieldViolations(body) {
  const out = [];
  const seen = new Set();
  const walk = (v, depth) => {
    if (!v || typeof v !== 'object' || depth > 5 || seen.has(v)) return;
    seen.add(v);
    if (Array.isArray(v.fieldViolations)) {
      for (const fv of v.fieldViolations) {
        out.push({ field: String(fv.field || ''), description: String(fv.description || fv.reason || fv.message || '') });
      }
    }
    for (const child of Object.values(v)) walk(child, depth + 1);
  };
  walk(body, 0);
  if (out.length === 0 && body && typeof body === 'object' && body.field) {
    out.push({ field: String(body.field), description: pickMessage(body) });
  }
  return out;
}

// onUnauthenticated is called when any call answers 401 (session gone).
let unauthenticatedHook = () => {};
export function onUnauthenticated(fn) { unauthenticatedHook = fn; }

// commentHeader carries the comment of a change (why it is made), stored in
// its audit entries. Headers are ASCII: the comment goes percent-encoded.
export const commentHeader = 'X-Flagpole-Comment';

// call performs one route. Resolves with the decoded JSON body ({} for
// empty bodies) or rejects with an ApiError. comment, when not empty, is
// sent as the change's comment.
export async function call(route, { signal, comment } = {}) {
  const [method, path, body] = route;
  const headers = { Accept: 'application/json' };
  if (comment) headers[commentHeader] = encodeURIComponent(comment);
  if (method !== 'GET' && method !== 'HEAD') {
    const token = csrfFromCookie() || csrfToken;
    if (token) headers[csrfHeader] = token;
  }
  const init = { method, headers, credentials: 'same-origin', signal };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(base + path, init);
  const text = await resp.text();
  let data = {};
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!resp.ok) {
    const err = new ApiError(resp.status, data);
    if (err.unauthenticated && path !== '/auth/sign-in') unauthenticatedHook(err);
    throw err;
  }
  return data;
}

// api is the typed surface the views use: api.getFlag(key) etc.
export const api = Object.fromEntries(
  Object.entries(routes).map(([name, build]) => [name, (...args) => call(build(...args))]),
);

// commented is the api surface for changes made with a comment:
// commented(text).setEnabled(...). An empty text sends none.
export function commented(comment) {
  return Object.fromEntries(
    Object.entries(routes).map(([name, build]) => [name, (...args) => call(build(...args), { comment })]),
  );
}

// withSignal calls a route with an AbortSignal (for polling that a view stops).
export function withSignal(signal, name, ...args) {
  return call(routes[name](...args), { signal });
}
