// A real OpenID provider (the certified `oidc-provider` package) on 127.0.0.1, for apppass's
// sign-in tests. TEST ONLY: fixed test users, in-memory storage, a throwaway signing key.
//
// Usage: node server.mjs [--port N] [--other-port N] [--access-ttl SECONDS] [--issuer URL]
//   Starts two issuers in this process, each on its own port (0 = ephemeral, the default):
//     main   http://127.0.0.1:PORT        the provider the tests sign in to
//     other  http://127.0.0.1:OTHER_PORT  a second issuer with the same client ids (for the
//                                         "ID token from another issuer" test)
//   When both listen it prints ONE line on stdout:
//     {"issuer":"http://127.0.0.1:PORT","other_issuer":"http://127.0.0.1:OTHER_PORT",
//      "listen":"http://127.0.0.1:PORT","access_ttl":600,
//      "introspection":{"url":"http://127.0.0.1:PORT/token/introspection",
//      "client_id":"dovecot","client_secret":"<random hex, new for each run>"}}
//   --issuer URL: the main issuer's public address, when the clients under test reach it through
//   something in front of it (the network-fault tests' TCP proxy), as a deployment behind a
//   reverse proxy is configured. The provider still listens on PORT (`listen`, where the admin
//   endpoints and the introspection URL given to Dovecot point); its endpoints in the discovery
//   document are built from the Host the client used, so they name the proxy too.
//   and runs until its standard input closes (so a test that spawned it never leaves it behind)
//   or it gets SIGTERM/SIGINT.
//   --access-ttl (or APPPASS_OIDC_ACCESS_TTL): lifetime of access tokens in seconds (default 600),
//   so a test can make them expire quickly.
//
// Clients (all public native clients: token_endpoint_auth_method "none", loopback redirects on
// any port as RFC 8252 allows, PKCE S256 required, device flow, refresh-token rotation):
//   apppass-test   the normal client
//   apppass-other  a second client (for the "ID token for another audience" test)
//   apppass-short  device codes live 2 seconds (for the "expired device code" test)
//   apppass-slow   the first 2 polls of each device code answer `slow_down` (RFC 8628 §3.5):
//                  oidc-provider itself never sends slow_down, so this server does, before the
//                  request reaches the provider
//   dovecot        a CONFIDENTIAL client (client_secret_basic, secret random per run, printed in
//                  the JSON line) that may only introspect (RFC 7662): the test Dovecot's oauth2
//                  passdb asks /token/introspection whether a bearer token is valid. It may
//                  introspect the access tokens of the apppass-* clients (not refresh tokens);
//                  the answer carries `username` and `email` (= the account id, e.g.
//                  ann@example.test) besides `sub`, `scope`, `active`.
//
// Scopes: openid offline_access profile email mail.read mail (`mail` is what the test Dovecot
// requires of a token).
//
// Test-only admin endpoints (127.0.0.1 only, like everything here):
//   POST /_test/expire-access-tokens         destroys every access token issued so far (an
//                                            upstream login with a cached token then fails);
//                                            answers {"expired":N}
//   POST /_test/revoke-grants?account=EMAIL  destroys the account's grants with their refresh and
//                                            access tokens (a refresh then fails with
//                                            invalid_grant); answers {"revoked":N} (grants)
//   POST /_test/access-tokens                answers {"tokens":[...]}: the access tokens issued
//                                            and not expired above so far (opaque: the value is
//                                            the id), for the CLI's canary leak scan
//   POST /_test/fail?path=P&status=S[&body=json|text|empty][&retry_after=V][&times=N]
//   POST /_test/fail?path=P&hang=1[&times=N]
//                                            the next N (default 1; 0 = until cleared) requests
//                                            whose path is P (/.well-known/openid-configuration,
//                                            /token, /jwks, /me …) get HTTP S with an OAuth-style
//                                            JSON body ({"error":"temporarily_unavailable"}), an
//                                            HTML page (text) or nothing, and `Retry-After: V`
//                                            when given; or, with hang=1, are accepted and never
//                                            answered (the socket stays open until the client
//                                            gives up). Other paths are served normally. Answers
//                                            {"armed":N}
//   POST /_test/fail-clear                   disarms every fault and drops the held
//                                            connections; answers {"cleared":N}
//   POST /_test/fail-count                   how many requests a fault answered so far
//                                            (or held): {"failed":N}
//   Faults are per issuer: those armed on the main issuer's port act on the main issuer.
//
// Users: see USERS below. The login and consent pages are this provider's interaction pages
// (oidc-provider's interaction API, as a deployment writes them), submitted as HTML forms.
//
// Token-endpoint errors: oidc-provider answers every `invalid_grant` with the same description
// and keeps the reason in `error_detail` (logged, not sent). Entra sends the reason as a code
// (AADSTS54005 code already redeemed, AADSTS50148 PKCE mismatch). So that the client can tell
// those apart here too, this server appends the provider's own detail to `error_description`.
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import * as querystring from 'node:querystring';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

// Stdout carries exactly one line (the issuers); the provider's own notices go to stderr, and a
// closed stdout (the test stopped reading) is not fatal.
console.log = console.error;
console.info = console.error;
process.stdout.on('error', () => {});

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'other-port': { type: 'string', default: '0' },
    'access-ttl': { type: 'string', default: process.env.APPPASS_OIDC_ACCESS_TTL || '600' },
    issuer: { type: 'string' },
  },
});
if (args.issuer && !/^http:\/\/127\.0\.0\.1:\d+$/.test(args.issuer)) {
  console.error(`server.mjs: --issuer must be http://127.0.0.1:PORT, not "${args.issuer}"`);
  process.exit(2);
}

const ACCESS_TTL = Number(args['access-ttl']);
if (!Number.isInteger(ACCESS_TTL) || ACCESS_TTL < 1) {
  console.error(`server.mjs: --access-ttl must be a whole number of seconds, not "${args['access-ttl']}"`);
  process.exit(2);
}

// The introspecting client (the test Dovecot). Its secret is new for each run and only printed
// on stdout (to the test that started this server), never logged.
const INTROSPECTOR = 'dovecot';
const INTROSPECTOR_SECRET = crypto.randomBytes(32).toString('hex');

const USERS = {
  'ann@example.test': {
    password: 'ann-test-password',
    name: 'Ann Example',
    amr: ['pwd', 'mfa'],
  },
  'bob@example.test': {
    password: 'bob-test-password',
    name: 'Bob Example',
    amr: ['pwd'],
  },
};

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const SLOW_DOWN_POLLS = 2;

function client(clientId) {
  return {
    client_id: clientId,
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    redirect_uris: ['http://127.0.0.1/', 'http://localhost/'],
    grant_types: ['authorization_code', 'refresh_token', DEVICE_GRANT],
    response_types: ['code'],
  };
}

const PUBLIC_CLIENTS = ['apppass-test', 'apppass-other', 'apppass-short', 'apppass-slow'];
const CLIENTS = [
  ...PUBLIC_CLIENTS.map(client),
  {
    client_id: INTROSPECTOR,
    client_secret: INTROSPECTOR_SECRET,
    token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: [],
    grant_types: [],
    response_types: [],
  },
];

// Which tokens a client may introspect: its own, and the introspector those of the public
// clients' access tokens (a refresh token is no bearer token for a mail server).
async function introspectionAllowed(_ctx, c, token) {
  if (c.clientId === INTROSPECTOR) {
    return token.kind === 'AccessToken' && PUBLIC_CLIENTS.includes(token.clientId);
  }
  return token.clientId === c.clientId;
}

function configuration() {
  return {
    clients: CLIENTS,
    async findAccount(_ctx, id) {
      const user = USERS[id];
      if (!user) return undefined;
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            email: id,
            email_verified: true,
            name: user.name,
            preferred_username: id,
          };
        },
      };
    },
    scopes: ['openid', 'offline_access', 'profile', 'email', 'mail.read', 'mail'],
    claims: {
      // amr (authentication methods) in every ID token, as Entra does.
      openid: ['sub', 'amr'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    // Profile and email claims in the ID token too (Entra puts preferred_username there).
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      deviceFlow: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: true, allowedPolicy: introspectionAllowed },
    },
    // The account id (the e-mail address) in every access token's introspection answer, under
    // the names mail servers look for (Dovecot's oauth2 passdb: username_attribute).
    async extraTokenClaims(_ctx, token) {
      if (token.kind !== 'AccessToken' || !token.accountId) return undefined;
      return { username: token.accountId, email: token.accountId };
    },
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx, c, code) =>
      c.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    ttl: {
      AccessToken: ACCESS_TTL,
      AuthorizationCode: 120,
      IdToken: 600,
      RefreshToken: 86400,
      DeviceCode: (_ctx, _token, c) => (c.clientId === 'apppass-short' ? 2 : 600),
      Grant: 86400,
      Interaction: 600,
      Session: 3600,
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: ['apppass-test-harness-cookie-key'] },
    jwks: { keys: [signingKey()] },
  };
}

function signingKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: crypto.randomUUID(), alg: 'RS256', use: 'sig' };
}

function page(title, body) {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;
}

function escape(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginPage(uid, error) {
  return page(
    'Sign-in',
    `<h1>Sign-in</h1>${error ? `<p class="error">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${uid}/login">
  <input type="text" name="login" required>
  <input type="password" name="password" required>
  <button type="submit">Sign-in</button>
</form>`,
  );
}

function consentPage(uid, clientId, scopes) {
  return page(
    'Authorize',
    `<h1>Authorize ${escape(clientId)}</h1><p>Scopes: ${escape(scopes.join(' '))}</p>
<form method="post" action="/interaction/${uid}/confirm"><button type="submit">Continue</button></form>
<form method="post" action="/interaction/${uid}/abort"><button type="submit">Cancel</button></form>`,
  );
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

async function interaction(provider, req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    send(res, 400, 'text/plain', 'interaction mismatch');
    return;
  }
  const { prompt, params, session, grantId } = details;
  if (req.method === 'GET' && !action) {
    if (prompt.name === 'login') {
      send(res, 200, 'text/html; charset=utf-8', loginPage(uid));
    } else {
      const scopes = [
        ...(prompt.details.missingOIDCScope || []),
        ...Object.values(prompt.details.missingResourceScopes || {}).flat(),
      ];
      send(res, 200, 'text/html; charset=utf-8', consentPage(uid, params.client_id, scopes));
    }
    return;
  }
  if (req.method !== 'POST') {
    send(res, 405, 'text/plain', 'method not allowed');
    return;
  }
  const form = querystring.parse(await readBody(req));
  if (action === 'login') {
    const user = USERS[form.login];
    if (!user || user.password !== form.password) {
      send(res, 200, 'text/html; charset=utf-8', loginPage(uid, 'Wrong user name or password.'));
      return;
    }
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: form.login, amr: user.amr } },
      { mergeWithLastSubmission: false },
    );
  } else if (action === 'confirm') {
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const { details: missing } = prompt;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    if (missing.missingResourceScopes) {
      for (const [indicator, scope] of Object.entries(missing.missingResourceScopes)) {
        grant.addResourceScope(indicator, scope.join(' '));
      }
    }
    await provider.interactionFinished(
      req,
      res,
      { consent: { grantId: await grant.save() } },
      { mergeWithLastSubmission: true },
    );
  } else if (action === 'abort') {
    await provider.interactionFinished(
      req,
      res,
      { error: 'access_denied', error_description: 'End-User aborted interaction' },
      { mergeWithLastSubmission: false },
    );
  } else {
    send(res, 404, 'text/plain', 'not found');
  }
}

// The test-only admin endpoints (see the top of this file). `issued` is what the provider's
// events recorded: access token ids, and grant id -> account id.
async function admin(provider, issued, faults, req, res, url) {
  if (req.method !== 'POST') {
    send(res, 405, 'text/plain', 'method not allowed');
    return;
  }
  await readBody(req);
  if (url.pathname === '/_test/fail') {
    const p = url.searchParams;
    const fault = {
      path: p.get('path'),
      status: Number(p.get('status') || 0),
      body: p.get('body') || 'json',
      retryAfter: p.get('retry_after'),
      hang: p.get('hang') === '1',
      left: Number(p.get('times') ?? 1) || Infinity,
    };
    if (!fault.path || (!fault.hang && !(fault.status >= 400 && fault.status <= 599))) {
      send(res, 400, 'application/json', JSON.stringify({ error: 'path= and status=4xx/5xx (or hang=1) are needed' }));
      return;
    }
    faults.armed.push(fault);
    send(res, 200, 'application/json', JSON.stringify({ armed: faults.armed.length }));
  } else if (url.pathname === '/_test/fail-clear') {
    const n = faults.armed.length;
    faults.armed.length = 0;
    for (const held of faults.held.splice(0)) held.destroy();
    send(res, 200, 'application/json', JSON.stringify({ cleared: n }));
  } else if (url.pathname === '/_test/fail-count') {
    send(res, 200, 'application/json', JSON.stringify({ failed: faults.count }));
  } else if (url.pathname === '/_test/expire-access-tokens') {
    const ids = [...issued.access];
    issued.access.clear();
    for (const id of ids) await provider.AccessToken.adapter.destroy(id);
    send(res, 200, 'application/json', JSON.stringify({ expired: ids.length }));
  } else if (url.pathname === '/_test/access-tokens') {
    send(res, 200, 'application/json', JSON.stringify({ tokens: [...issued.access] }));
  } else if (url.pathname === '/_test/revoke-grants') {
    const account = url.searchParams.get('account');
    if (!account) {
      send(res, 400, 'application/json', JSON.stringify({ error: 'account= is missing' }));
      return;
    }
    let revoked = 0;
    for (const [grantId, accountId] of [...issued.grants]) {
      if (accountId !== account) continue;
      // Every token of the grant (refresh, access, codes), then the grant itself.
      await provider.Grant.adapter.revokeByGrantId(grantId);
      await provider.Grant.adapter.destroy(grantId);
      issued.grants.delete(grantId);
      revoked += 1;
    }
    send(res, 200, 'application/json', JSON.stringify({ revoked }));
  } else {
    send(res, 404, 'text/plain', 'not found');
  }
}

// Answers a request with an armed fault (see /_test/fail); true when it did.
function injectFault(faults, req, res, pathname) {
  const i = faults.armed.findIndex((f) => f.path === pathname);
  if (i < 0) return false;
  const fault = faults.armed[i];
  fault.left -= 1;
  if (fault.left <= 0) faults.armed.splice(i, 1);
  faults.count += 1;
  if (fault.hang) {
    // Accepted, never answered; the request body is drained so the client sees no error.
    req.resume();
    faults.held.push(req.socket);
    return true;
  }
  const headers = { 'cache-control': 'no-store' };
  if (fault.retryAfter) headers['retry-after'] = fault.retryAfter;
  let body = '';
  if (fault.body === 'json') {
    headers['content-type'] = 'application/json; charset=utf-8';
    body = JSON.stringify({
      error: 'temporarily_unavailable',
      error_description: `injected HTTP ${fault.status} (test harness)`,
    });
  } else if (fault.body === 'text') {
    headers['content-type'] = 'text/html; charset=utf-8';
    body = page(`${fault.status}`, `<h1>${fault.status} Service Unavailable</h1>`);
  }
  req.resume();
  res.writeHead(fault.status, headers);
  res.end(body);
  return true;
}

function start(port, publicIssuer) {
  return new Promise((resolve, reject) => {
    let provider;
    const polls = new Map();
    const issued = { access: new Set(), grants: new Map() };
    const faults = { armed: [], held: [], count: 0 };
    const server = http.createServer(async (req, res) => {
      try {
        const url = new URL(req.url, provider.issuer);
        if (url.pathname.startsWith('/_test/')) {
          await admin(provider, issued, faults, req, res, url);
          return;
        }
        if (injectFault(faults, req, res, url.pathname)) return;
        const m = url.pathname.match(/^\/interaction\/([^/]+)(?:\/(login|confirm|abort))?$/);
        if (m) {
          await interaction(provider, req, res, m[1], m[2]);
          return;
        }
        if (req.method === 'POST' && url.pathname === '/token') {
          const raw = await readBody(req);
          const form = querystring.parse(raw);
          if (form.grant_type === DEVICE_GRANT && form.client_id === 'apppass-slow') {
            const n = (polls.get(form.device_code) || 0) + 1;
            polls.set(form.device_code, n);
            if (n <= SLOW_DOWN_POLLS) {
              send(res, 400, 'application/json', JSON.stringify({ error: 'slow_down' }));
              return;
            }
          }
          // The body is consumed: oidc-provider reads it from req.body instead.
          req.body = raw;
        }
        provider.callback()(req, res);
      } catch (err) {
        console.error(err);
        if (!res.headersSent) send(res, 500, 'text/plain', 'harness error');
      }
    });
    server.on('error', reject);
    server.listen(Number(port), '127.0.0.1', () => {
      const listen = `http://127.0.0.1:${server.address().port}`;
      const issuer = publicIssuer || listen;
      provider = new Provider(issuer, configuration());
      provider.on('access_token.saved', (token) => issued.access.add(token.jti));
      provider.on('grant.saved', (grant) => issued.grants.set(grant.jti, grant.accountId));
      provider.on('grant.error', (ctx, err) => {
        ctx.state.grantError = err;
      });
      provider.use(async (ctx, next) => {
        await next();
        const detail = ctx.state.grantError?.error_detail;
        if (ctx.status === 400 && ctx.body?.error === 'invalid_grant' && detail) {
          ctx.body = { ...ctx.body, error_description: `${ctx.body.error_description} (${detail})` };
        }
      });
      resolve({ issuer, listen });
    });
  });
}

const [main, other] = await Promise.all([
  start(args.port, args.issuer),
  start(args['other-port']),
]);
process.stdout.write(
  `${JSON.stringify({
    issuer: main.issuer,
    other_issuer: other.issuer,
    listen: main.listen,
    access_ttl: ACCESS_TTL,
    introspection: {
      url: `${main.listen}/token/introspection`,
      client_id: INTROSPECTOR,
      client_secret: INTROSPECTOR_SECRET,
    },
  })}\n`,
);

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
