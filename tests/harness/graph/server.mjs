// A Microsoft Graph emulator on 127.0.0.1, for apppass's MFA-status and preflight tests. TEST ONLY.
// Node.js standard library only (no npm install).
//
// Usage: node server.mjs --issuer http://127.0.0.1:PORT [--port N]
//   --issuer  the test OpenID provider (tests/harness/oidc): every bearer token is checked at its
//             userinfo endpoint, so only tokens that provider issued (and still honours) pass
//   --port    0 = ephemeral (the default)
//   Prints ONE line on stdout: {"base":"http://127.0.0.1:PORT"} and runs until stdin closes.
//
// It serves ONLY the endpoints apppass uses, with the documented JSON (providers.md §2.3 fixtures,
// verbatim, in fixtures/; the §2.6 error shape), under a per-test prefix:
//
//   GET /s/<scenario>/<run>/v1.0/me
//   GET /s/<scenario>/<run>/v1.0/me/authentication/methods
//   GET /s/<scenario>/<run>/beta/me/authentication/requirements
//
// <run> is any id the test picks, so that "first request fails, then success" scenarios count per
// test. GET /log/<scenario>/<run> returns what that run was asked (path, status, a digest of the
// token — never the token — and the time in ms), for the tests' assertions.
//
// Scenarios (the methods endpoint unless said otherwise; /me always answers the signed-in user):
//   none               {"value": []}
//   password-email     the password and email fixtures (no strong method)
//   authenticator      the Microsoft Authenticator fixture
//   phone-fido2        the first phone fixture item and the first FIDO2 fixture item
//   documented         the list-methods fixture (FIDO2 + Windows Hello for Business)
//   forbidden          403 accessDenied (no consent for UserAuthenticationMethod.Read)
//   throttled          429 with `Retry-After: 2.128` and the throttling fixture body, then success
//   unavailable-once   503 without Retry-After, then success
//   error500-once      500 generalException, then success
//   error500           500 generalException, always
//   error502-html      502 with an HTML page (a gateway's, not Graph's JSON), always
//   error503           503 serviceNotAvailable with `Retry-After: 1`, always
//   error504           504 UnknownError (Graph's gateway timeout), always
//   hang               the methods request is accepted and never answered (the socket stays
//                      open until the client gives up); logged with status 0
//   malformed          200 with a truncated JSON body
//   unauthorized-once  401 to the run's first token; success once a different (refreshed) token
//                      comes
//   mfa-enforced | mfa-enabled | mfa-disabled   the requirements endpoint answers that state
//   (any other)        requirements: 403 accessDenied, as for an ordinary employee
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

console.log = console.error;
process.stdout.on('error', () => {});

const { values: args } = parseArgs({
  options: {
    issuer: { type: 'string' },
    port: { type: 'string', default: '0' },
  },
});
if (!args.issuer) {
  console.error('usage: node server.mjs --issuer http://127.0.0.1:PORT [--port N]');
  process.exit(2);
}

const here = path.dirname(fileURLToPath(import.meta.url));
const raw = (name) => fs.readFileSync(path.join(here, 'fixtures', name), 'utf8');
const parsed = (name) => JSON.parse(raw(name));

// Graph's error shape (providers.md §2.6).
function graphError(code, message) {
  return JSON.stringify({
    error: {
      code,
      message,
      innerError: { 'request-id': crypto.randomUUID(), date: new Date().toISOString() },
    },
  });
}

const json = (body, status = 200, headers = {}) => ({ status, body, headers });
const methodsOf = (...items) => json(JSON.stringify({ value: items }));
const AUTHENTICATOR = json(raw('authenticator-methods.json'));
const FORBIDDEN = json(
  graphError('accessDenied', 'Insufficient privileges to complete the operation.'),
  403,
);
// Never answered (the `hang` scenario).
const HANG = { status: 0, hang: true };
const E500 = json(graphError('generalException', 'General exception while processing.'), 500);

// What each scenario answers on the methods endpoint, by the request's number in its run (1-based)
// and the run's state.
const METHODS = {
  none: () => methodsOf(),
  'password-email': () =>
    methodsOf(parsed('password-methods.json').value[0], parsed('email-methods.json').value[0]),
  authenticator: () => AUTHENTICATOR,
  'phone-fido2': () =>
    methodsOf(parsed('phone-methods.json').value[0], parsed('fido2-methods.json').value[0]),
  documented: () => json(raw('list-methods.json')),
  forbidden: () => FORBIDDEN,
  throttled: (n) =>
    n === 1 ? json(raw('error-throttled.json'), 429, { 'Retry-After': '2.128' }) : AUTHENTICATOR,
  'unavailable-once': (n) =>
    n === 1 ? json(graphError('serviceNotAvailable', 'Service unavailable.'), 503) : AUTHENTICATOR,
  'error500-once': (n) => (n === 1 ? E500 : AUTHENTICATOR),
  error500: () => E500,
  'error502-html': () => ({
    status: 502,
    body: '<html><body><h1>502 Bad Gateway</h1></body></html>',
    headers: { 'content-type': 'text/html' },
  }),
  error503: () =>
    json(graphError('serviceNotAvailable', 'Service unavailable.'), 503, { 'Retry-After': '1' }),
  error504: () => json(graphError('UnknownError', 'Gateway timeout.'), 504),
  hang: () => HANG,
  malformed: () => json(raw('list-methods.json').slice(0, 120)),
};

const REQUIREMENTS = {
  'mfa-enforced': () => json(raw('requirements-enforced.json')),
  'mfa-enabled': () => json(JSON.stringify({ perUserMfaState: 'enabled' })),
  'mfa-disabled': () => json(JSON.stringify({ perUserMfaState: 'disabled' })),
};

// GET /me: the user resource's default properties (learn.microsoft.com/graph/api/user-get), for
// the user the token belongs to.
function me(claims) {
  return json(
    JSON.stringify({
      '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#users/$entity',
      businessPhones: [],
      displayName: claims.name ?? null,
      givenName: null,
      jobTitle: null,
      mail: claims.email ?? null,
      mobilePhone: null,
      officeLocation: null,
      preferredLanguage: null,
      surname: null,
      userPrincipalName: claims.preferred_username ?? claims.sub,
      id: claims.sub,
    }),
  );
}

// Token check at the real provider's userinfo endpoint.
let userinfo;
async function claimsFor(token) {
  if (!userinfo) {
    const meta = await (await fetch(`${args.issuer}/.well-known/openid-configuration`)).json();
    userinfo = meta.userinfo_endpoint;
  }
  const r = await fetch(userinfo, { headers: { authorization: `Bearer ${token}` } });
  if (r.status !== 200) return null;
  return r.json();
}

const digest = (token) => crypto.createHash('sha256').update(token).digest('hex').slice(0, 12);

const runs = new Map(); // "<scenario>/<run>" -> { log: [], counts: {}, firstToken }

function send(res, answer) {
  if (answer.hang) return; // accepted, never answered
  res.writeHead(answer.status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    ...answer.headers,
  });
  res.end(answer.body);
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://127.0.0.1');
  const logMatch = url.pathname.match(/^\/log\/([^/]+)\/([^/]+)$/);
  if (req.method === 'GET' && logMatch) {
    send(res, json(JSON.stringify(runs.get(`${logMatch[1]}/${logMatch[2]}`)?.log ?? [])));
    return;
  }
  const m = url.pathname.match(
    /^\/s\/([^/]+)\/([^/]+)(\/v1\.0\/me|\/v1\.0\/me\/authentication\/methods|\/beta\/me\/authentication\/requirements)$/,
  );
  if (!m) {
    send(res, json(graphError('itemNotFound', 'Resource not found.'), 404));
    return;
  }
  const [, scenario, run, endpoint] = m;
  if (req.method !== 'GET') {
    send(res, json(graphError('notSupported', 'Only GET is emulated.'), 405));
    return;
  }
  const key = `${scenario}/${run}`;
  if (!runs.has(key)) runs.set(key, { log: [], counts: {}, firstToken: null, start: Date.now() });
  const state = runs.get(key);
  const auth = req.headers.authorization ?? '';
  const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
  const answer = await answerFor(scenario, state, endpoint, token);
  state.log.push({
    path: endpoint,
    status: answer.status,
    token: token ? digest(token) : null,
    at_ms: Date.now() - state.start,
  });
  send(res, answer);
}

async function answerFor(scenario, state, endpoint, token) {
  const unauthenticated = () =>
    json(graphError('unauthenticated', 'Access token validation failure.'), 401, {
      'WWW-Authenticate': 'Bearer',
    });
  if (!token) return unauthenticated();
  const claims = await claimsFor(token);
  if (!claims) return unauthenticated();
  if (scenario === 'unauthorized-once') {
    state.firstToken ??= token;
    if (token === state.firstToken) return unauthenticated();
  }
  const n = (state.counts[endpoint] = (state.counts[endpoint] ?? 0) + 1);
  if (endpoint === '/v1.0/me') return me(claims);
  if (endpoint === '/v1.0/me/authentication/methods') {
    return (METHODS[scenario] ?? (() => AUTHENTICATOR))(n);
  }
  return (REQUIREMENTS[scenario] ?? (() => FORBIDDEN))(n);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    console.error(err);
    if (!res.headersSent) send(res, json(graphError('generalException', 'emulator error'), 500));
  });
});
server.listen(Number(args.port), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ base: `http://127.0.0.1:${server.address().port}` })}\n`);
});

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
