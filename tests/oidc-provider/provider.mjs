// A real OpenID Provider (oidc-provider, a certified implementation) on
// loopback for Basalt's OAuth tests.
// Usage: node provider.mjs <port> <redirect_uri>
// Any login name signs in; `<name>@oidc.test` is its email, verified unless
// the name starts with "unverified".
import Provider from 'oidc-provider';

const [port, redirectUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'basalt',
    client_secret: 'basalt-test-secret',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@oidc.test`, email_verified: !id.startsWith('unverified'), name: id };
      },
    };
  },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['basalt-test-cookie-key'] },
});

const server = provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`listening ${issuer}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
