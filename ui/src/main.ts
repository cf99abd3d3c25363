import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';

// Counts Content-Security-Policy violations on the page, so that the end-to-end tests can check
// that the UI runs under the app's strict CSP without any. Nothing is logged.
let violations = 0;
document.addEventListener('securitypolicyviolation', () => {
  violations += 1;
  document.documentElement.dataset.cspViolations = String(violations);
});
document.documentElement.dataset.cspViolations = '0';

const app = mount(App, { target: document.getElementById('app')! });

export default app;
