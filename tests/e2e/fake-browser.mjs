// The "system browser" of the sign-in E2E test, set as $BROWSER for the app. It never contacts
// anything outside this computer:
//   - every address it is given is appended to $APPPASS_E2E_OPENED (one per line);
//   - an address of the test OpenID provider ($APPPASS_E2E_ISSUER) is walked by the harness's
//     scripted browser (tests/harness/oidc/browser.mjs): it submits the provider's real login and
//     consent pages and follows the redirect to the app's loopback listener;
//   - any other address (Security info at Microsoft) is only recorded.
import { appendFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const url = process.argv[2] ?? '';
if (process.env.APPPASS_E2E_OPENED) appendFileSync(process.env.APPPASS_E2E_OPENED, `${url}\n`);
const issuer = process.env.APPPASS_E2E_ISSUER;
if (issuer && url.startsWith(`${issuer}/`)) {
  const walker = join(dirname(fileURLToPath(import.meta.url)), '..', 'harness', 'oidc', 'browser.mjs');
  // APPPASS_E2E_DENY=1: the person presses Cancel on the consent page.
  const deny = process.env.APPPASS_E2E_DENY === '1' ? ['--deny'] : [];
  const r = spawnSync(process.execPath, [walker, ...deny, url], { stdio: ['ignore', 'ignore', 'inherit'] });
  process.exit(r.status ?? 1);
}
