// A signed-in work account for component tests.
import type { Account } from '../lib/ipc';

export const ann: Account = {
  username: 'ann@example.test',
  email: 'ann@example.test',
  name: 'Ann Example',
  issuer: 'http://127.0.0.1:4000',
  tenant_id: '00001111-aaaa-2222-bbbb-3333cccc4444',
  object_id: null,
  subject: 'ann@example.test',
  authority: 'http://127.0.0.1:4000',
  client_id: 'apppass-test',
  scopes: ['openid'],
  amr: ['pwd', 'mfa'],
  mfa_used: true,
  method: 'browser',
  signed_in_at: 1_764_000_000 as unknown as bigint,
  id_token_expires_at: 1_764_000_600 as unknown as bigint,
  state: 'active',
  account_key: '0123456789abcdef',
};
