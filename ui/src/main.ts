import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { requestStartup, settled } from './lib/startup';
import { osOf } from './lib/platform';

// Counts Content-Security-Policy violations on the page, so that the end-to-end tests can check
// that the UI runs under the app's strict CSP without any. Nothing is logged.
let violations = 0;
document.addEventListener('securitypolicyviolation', () => {
  violations += 1;
  document.documentElement.dataset.cspViolations = String(violations);
});
document.documentElement.dataset.cspViolations = '0';

// The platform's system font (app.css), chosen before anything is laid out.
document.documentElement.dataset.os = osOf(navigator.platform);

// The first screen's data is asked for now and the UI mounted once it is here (at most 300 ms
// later), so the first frame painted already shows the vault (./lib/startup.ts).
const startup = requestStartup();
void settled(startup, 300).then(() =>
  mount(App, { target: document.getElementById('app')!, props: { startup } }),
);
