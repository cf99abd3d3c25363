// A scripted "browser" for the CLI's sign-in tests: it submits the test provider's REAL login,
// consent and device pages (server.mjs) over HTTP with a cookie jar, the way a person would in a
// browser. Test only; needs nothing but Node.js 20+ (fetch).
//
//   node browser.mjs URL
//       What `apppass login` runs as $BROWSER: opens the authorization URL, signs in as the test
//       user, consents, and follows the provider's redirect to apppass's loopback listener
//       (the `redirect_uri` of URL). Prints the listener's page ("You can close this tab").
//   node browser.mjs --device VERIFICATION_URI USER_CODE
//       Enters the code on the provider's device pages, signs in and confirms.
//
// Options (before the URL): --deny (press Cancel / abort instead of approving).
// Environment: APPPASS_TEST_USER, APPPASS_TEST_PASSWORD (default: the harness's ann).
// Exit status: 0 when the walk ended where expected, 1 otherwise (the reason on stderr).

const user = process.env.APPPASS_TEST_USER || 'ann@example.test';
const password = process.env.APPPASS_TEST_PASSWORD || 'ann-test-password';

// ---- cookies ---------------------------------------------------------------------------------

const jar = new Map(); // "name path" -> {name, value, path}

function remember(url, response) {
  for (const line of response.headers.getSetCookie()) {
    const [pair, ...attrs] = line.split(';');
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    let path = '/';
    let expired = false;
    for (const a of attrs) {
      const [k, v = ''] = a.split('=');
      const key = k.trim().toLowerCase();
      if (key === 'path') path = v.trim() || '/';
      if (key === 'expires' && Date.parse(v) < Date.now()) expired = true;
      if (key === 'max-age' && Number(v) <= 0) expired = true;
    }
    const id = `${name} ${path}`;
    if (expired || value === '') jar.delete(id);
    else jar.set(id, { name, value, path });
  }
}

function cookieHeader(url) {
  const path = new URL(url).pathname;
  return [...jar.values()]
    .filter((c) => path === c.path || path.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
    .map((c) => `${c.name}=${c.value}`)
    .join('; ');
}

async function request(url, form) {
  const headers = { cookie: cookieHeader(url) };
  const init = { redirect: 'manual', headers };
  if (form) {
    init.method = 'POST';
    headers['content-type'] = 'application/x-www-form-urlencoded';
    init.body = new URLSearchParams(form).toString();
  }
  const response = await fetch(url, init);
  remember(url, response);
  return response;
}

// ---- pages -------------------------------------------------------------------------------------

function attr(tag, name) {
  const m = tag.match(new RegExp(`\\b${name}="([^"]*)"`));
  return m ? m[1].replaceAll('&amp;', '&').replaceAll('&#x2F;', '/') : undefined;
}

function forms(html) {
  return html
    .split('<form')
    .slice(1)
    .map((chunk) => {
      const tag = chunk.slice(0, chunk.indexOf('>'));
      const body = chunk.slice(0, chunk.includes('</form>') ? chunk.indexOf('</form>') : undefined);
      const fields = [];
      for (const input of body.split('<input').slice(1)) {
        const t = input.slice(0, input.indexOf('>'));
        const name = attr(t, 'name');
        if (name) fields.push([name, attr(t, 'value') ?? '']);
      }
      return { id: attr(tag, 'id'), action: attr(tag, 'action') ?? '', fields };
    });
}

function set(fields, name, value) {
  const f = fields.find(([n]) => n === name);
  if (f) f[1] = value;
  else fields.push([name, value]);
}

// ---- the walk ----------------------------------------------------------------------------------

async function walk(start, { deny, stopAt, userCode }) {
  let url = start;
  let post = null;
  let denied = false;
  for (let step = 0; step < 30; step++) {
    if (stopAt && url.startsWith(stopAt)) return { callback: url };
    const response = await request(url, post);
    post = null;
    if (response.status >= 300 && response.status < 400) {
      url = new URL(response.headers.get('location'), url).toString();
      continue;
    }
    const html = await response.text();
    if (denied) return { page: html };
    const all = forms(html);
    let form = all.find((f) => f.fields.some(([n]) => n === 'password'));
    if (form) {
      set(form.fields, 'login', user);
      set(form.fields, 'password', password);
    } else if ((form = all.find((f) => f.id === 'op.deviceInputForm'))) {
      set(form.fields, 'user_code', userCode);
    } else if ((form = all.find((f) => f.id === 'op.deviceConfirmForm'))) {
      if (deny) {
        form.fields.push(['abort', 'yes']);
        denied = true;
      }
    } else {
      form = all.find((f) => f.action.endsWith(deny ? '/abort' : '/confirm'));
    }
    if (!form) {
      if (stopAt) throw new Error(`unexpected page ${url} (${response.status}): ${html.slice(0, 500)}`);
      return { page: html };
    }
    url = new URL(form.action, url).toString();
    post = form.fields;
  }
  throw new Error(`too many steps at ${url}`);
}

async function main() {
  const args = process.argv.slice(2);
  const deny = args.includes('--deny');
  const rest = args.filter((a) => a !== '--deny');
  if (rest[0] === '--device') {
    const [, uri, code] = rest;
    const { page } = await walk(uri, { deny, userCode: code });
    process.stdout.write(`${page.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim()}\n`);
    return;
  }
  const start = rest[0];
  if (!start) throw new Error('usage: browser.mjs [--deny] URL | --device URI CODE');
  const redirect = new URL(start).searchParams.get('redirect_uri');
  if (!redirect) throw new Error(`the address names no redirect_uri: ${start}`);
  const { callback } = await walk(start, { deny, stopAt: redirect });
  // Deliver the answer to apppass's loopback listener, as the browser would.
  const response = await fetch(callback);
  const page = await response.text();
  process.stdout.write(`${page.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim()}\n`);
}

main().catch((e) => {
  process.stderr.write(`browser.mjs: ${e.message}\n`);
  process.exit(1);
});
