import type { Provider } from './bindings/Provider';

/** Whether the catalog has a page for this provider's app passwords (opened from Rust by
 * provider_page_open, which picks the app-password page, else the help page). */
export function hasPage(provider: Provider | undefined): boolean {
  return !!(provider?.app_password_url || provider?.help_url);
}
