// Development / test OpenID Provider for Custodian.
//
// NOT FOR PRODUCTION: static secrets, hard-coded accounts with one shared
// password, in-memory storage, signing and cookie keys generated at start.
//
// Environment:
//   OIDC_PORT                    port to listen on (127.0.0.1 only), default 9090;
//                                0 picks a free port (read it from the ready line)
//   OIDC_ISSUER                  issuer identifier, default http://127.0.0.1:<port>;
//                                give an origin only: endpoints are served at / and
//                                their URLs follow the request's Host header
//   OIDC_EXTRA_REDIRECT_URIS     comma-separated redirect URIs added to every client
//   OIDC_EXTRA_POST_LOGOUT_URIS  comma-separated post-logout redirect URIs added to every client
//   OIDC_TRUST_PROXY             "1" trusts X-Forwarded-* headers (issuer behind a proxy)
//   OIDC_PKCE_REQUIRED           "0" makes PKCE optional for the confidential clients
//                                (default: PKCE S256 is required for every authorization request)
//
// Test hook (this provider listens on loopback only): PUT /dev/accounts/<username>
// with a JSON body {email, email_verified, name, groups, groups_in,
// refresh_delay_ms} creates or replaces an account (subject = username, same
// password), so a test can make a person of its own and change their claims at
// "the IdP" between two sign-ins; DELETE removes it (a person terminated at the
// IdP: their refresh tokens are refused). groups_in says where the groups claim
// goes: ["id_token", "userinfo"] by default, ["id_token"] as Entra ID and Okta's
// org server usually do. refresh_delay_ms (at most 5000) makes this person's
// refresh grants that slow, as a loaded IdP is.
// GET /dev/accounts/<username> answers {"refresh_grants": {"ok": n, "refused": m}}:
// how many refresh-token grants for that person this provider answered.
//
// Every sign-in gets a refresh token (as Keycloak does by default), so that
// Custodian can re-check an API token's owner later. Refresh tokens rotate at
// every use, and a used one presented again is reuse: refused, and the whole
// grant revoked (as Okta, Auth0 reuse detection and Keycloak's "revoke refresh
// token" do). A refreshed response carries a new ID token with the person's
// current claims.
//
// ID tokens carry amr (RFC 8176): ["pwd"] for the password alone, plus each
// value of the login form's optional "amr" fields (the page's checkbox sends
// "otp") and then "mfa", as an IdP that did multi-factor authentication would say.
//
// stdout carries exactly one line, "oidc-provider ready at <issuer>", once the
// server is listening; everything else (oidc-provider notices included) goes
// to stderr.

import { randomBytes, generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import { once } from 'node:events';

// oidc-provider prints its "you SHOULD change ..." notices with console.info,
// i.e. on stdout. Keep stdout for the single ready line.
console.info = (...args) => console.error(...args);
console.log = (...args) => console.error(...args);

// Exit 0 on SIGTERM/SIGINT, also while still starting.
let server;
let stopping = false;
function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  console.error(`oidc-provider: ${signal} received, shutting down`);
  if (!server) process.exit(0);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

const { default: Provider } = await import('oidc-provider');

const PASSWORD = 'custodian';

const ACCOUNTS = new Map(
  [
    ['alice', 'Alice Adams', ['social-media-staff']],
    ['bob', 'Bob Baker', ['compliance-reviewers']],
    ['carol', 'Carol Chen', ['it-admins']],
    ['dave', 'Dave Diaz', ['security-auditors']],
    ['erin', 'Erin Evans', ['social-media-staff', 'compliance-reviewers']],
    ['mallory', 'Mallory Moss', ['cafeteria']],
  ].map(([username, name, groups]) => [
    username,
    {
      sub: username,
      email: `${username}@clinic.example`,
      email_verified: true,
      name,
      preferred_username: username,
      groups,
      groups_in: ['id_token', 'userinfo'],
    },
  ]),
);

// Refresh-token grants answered, per account: {ok, refused}.
const REFRESH_GRANTS = new Map();
function countRefresh(ctx, outcome) {
  if (ctx.oidc?.params?.grant_type !== 'refresh_token') return;
  const { RefreshToken: token, Account: account } = ctx.oidc.entities ?? {};
  const id = account?.accountId ?? token?.accountId;
  if (!id) return;
  const counts = REFRESH_GRANTS.get(id) ?? { ok: 0, refused: 0 };
  counts[outcome] += 1;
  REFRESH_GRANTS.set(id, counts);
}

function envList(name) {
  return (process.env[name] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function parsePort(raw) {
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`oidc-provider: invalid OIDC_PORT ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return port;
}

const requestedPort = parsePort(process.env.OIDC_PORT || '9090');
const pkceRequired = process.env.OIDC_PKCE_REQUIRED !== '0';

const redirectUris = [
  'http://127.0.0.1:8080/auth/callback',
  'https://custodian.test/auth/callback',
  ...envList('OIDC_EXTRA_REDIRECT_URIS'),
];
const postLogoutRedirectUris = [
  'http://127.0.0.1:8080/',
  'https://custodian.test/',
  ...envList('OIDC_EXTRA_POST_LOGOUT_URIS'),
];

function client(clientId, clientSecret) {
  return {
    client_id: clientId,
    client_secret: clientSecret,
    // oidc-provider accepts client_secret_post too for a client registered
    // with client_secret_basic (both are "shared secret" methods).
    token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: [...redirectUris],
    post_logout_redirect_uris: [...postLogoutRedirectUris],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  };
}

// Signing key: one RSA key generated at start (RS256, the default ID token alg).
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingJwk = {
  ...privateKey.export({ format: 'jwk' }),
  kid: `dev-${randomBytes(6).toString('hex')}`,
  use: 'sig',
  alg: 'RS256',
};

const configuration = {
  clients: [
    client('custodian', 'custodian-dev-secret'),
    client('other-client', 'other-secret'),
  ],
  jwks: { keys: [signingJwk] },
  cookies: {
    keys: [randomBytes(32).toString('base64url')],
  },
  scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
  claims: {
    // amr (how the user signed in) comes with every ID token.
    openid: ['sub', 'amr'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  // Put the scope-derived claims (email, name, groups, ...) into the ID token
  // too, not only into the userinfo response.
  conformIdTokenClaims: false,
  pkce: {
    required: () => pkceRequired,
  },
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  // Rotate at every use; oidc-provider refuses a consumed one and revokes its grant.
  rotateRefreshToken: true,
  features: {
    devInteractions: { enabled: false },
    userinfo: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  clientBasedCORS: () => false,
  interactions: {
    url: (ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  async findAccount(ctx, id) {
    const account = ACCOUNTS.get(id);
    if (!account) return undefined;
    // A slow IdP, for this person's refresh grants (test hook: refresh_delay_ms).
    if (account.refresh_delay_ms && ctx?.oidc?.params?.grant_type === 'refresh_token') {
      await new Promise((resolve) => { setTimeout(resolve, account.refresh_delay_ms); });
    }
    return {
      accountId: id,
      async claims(use) {
        const { groups_in: groupsIn, ...claims } = account;
        if (!groupsIn.includes(use)) return { ...claims, groups: undefined };
        return { ...claims, groups: [...account.groups] };
      },
    };
  },
  async renderError(ctx, out, error) {
    ctx.type = 'html';
    ctx.body = page(
      'Error',
      `<h1>Error</h1><pre>${escapeHtml(JSON.stringify(out, null, 2))}</pre>`,
    );
    if (error?.status && error.status < 500) {
      console.error(`oidc-provider: ${error.status} ${JSON.stringify(out)}`);
    } else if (error) {
      console.error('oidc-provider error:', error);
    }
  },
};

// Listen first so that OIDC_PORT=0 works: the issuer is only known once the
// port is.
let handler = (req, res) => {
  res.statusCode = 503;
  res.end('starting\n');
};
server = createServer((req, res) => handler(req, res));

server.listen(requestedPort, '127.0.0.1');
try {
  await once(server, 'listening');
} catch (err) {
  console.error(`oidc-provider: cannot listen on 127.0.0.1:${requestedPort}: ${err.message}`);
  process.exit(1);
}
const port = server.address().port;
const issuer = process.env.OIDC_ISSUER || `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, configuration);
if (process.env.OIDC_TRUST_PROXY === '1') provider.proxy = true;

provider.on('server_error', (ctx, err) => console.error('oidc-provider server_error:', err));
provider.on('grant.success', (ctx) => countRefresh(ctx, 'ok'));
provider.on('grant.error', (ctx) => countRefresh(ctx, 'refused'));

// ---------------------------------------------------------------- interactions

function escapeHtml(s) {
  return String(s)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: sans-serif; max-width: 28em; margin: 3em auto; padding: 0 1em; }
label { display: block; margin-top: .8em; }
input { width: 100%; padding: .4em; box-sizing: border-box; }
input[type=checkbox] { width: auto; }
button { margin-top: 1.2em; padding: .5em 1.5em; }
.error { color: #b00020; font-weight: bold; }
.hint { color: #555; font-size: .9em; }
</style>
</head>
<body>
${body}
</body>
</html>
`;
}

function loginPage(uid, clientId, { error, username } = {}) {
  const users = [...ACCOUNTS.keys()].map((u) => `<code>${escapeHtml(u)}</code>`).join(', ');
  return page(
    'Sign in',
    `<h1>Sign in</h1>
<p>to <strong>${escapeHtml(clientId)}</strong></p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login" autocomplete="off">
<label for="username">Username</label>
<input id="username" name="username" required autofocus value="${escapeHtml(username ?? '')}">
<label for="password">Password</label>
<input id="password" name="password" type="password" required>
<label><input type="checkbox" name="amr" value="otp"> Also confirmed a one-time code (the ID token's <code>amr</code> then says so)</label>
<button type="submit">Sign in</button>
</form>
<p class="hint">development provider — password for all: custodian<br>
users: ${users}</p>`,
  );
}

async function readForm(req, limit = 64 * 1024) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) {
      const err = new Error('request body too large');
      err.status = 413;
      err.expose = true;
      throw err;
    }
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function grantConsent(ctx, details) {
  const {
    prompt: { details: missing },
    params,
    session,
  } = details;
  let grant;
  if (details.grantId) {
    grant = await provider.Grant.find(details.grantId);
  }
  if (!grant) {
    grant = new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  }
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  if (missing.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  const grantId = await grant.save();
  await provider.interactionFinished(
    ctx.req,
    ctx.res,
    { consent: { grantId } },
    { mergeWithLastSubmission: true },
  );
  // interactionFinished wrote the 303 itself.
  ctx.respond = false;
}

const DEV_ACCOUNT = /^\/dev\/accounts\/([A-Za-z0-9_.-]{1,64})$/;

provider.use(async (ctx, next) => {
  const m = DEV_ACCOUNT.exec(ctx.path);
  if (!m) return next();
  if (ctx.method === 'DELETE') {
    ACCOUNTS.delete(m[1]);
    ctx.status = 204;
    return undefined;
  }
  if (ctx.method === 'GET') {
    ctx.body = { refresh_grants: REFRESH_GRANTS.get(m[1]) ?? { ok: 0, refused: 0 } };
    return undefined;
  }
  if (ctx.method !== 'PUT') {
    ctx.set('Allow', 'GET, PUT, DELETE');
    return ctx.throw(405);
  }
  const chunks = [];
  for await (const chunk of ctx.req) chunks.push(chunk);
  let body;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return ctx.throw(400, 'the body must be JSON');
  }
  const username = m[1];
  ACCOUNTS.set(username, {
    sub: username,
    email: body.email ?? `${username}@clinic.example`,
    email_verified: body.email_verified ?? true,
    name: body.name ?? username,
    preferred_username: username,
    groups: Array.isArray(body.groups) ? body.groups.map(String) : [],
    groups_in: Array.isArray(body.groups_in) ? body.groups_in.map(String) : ['id_token', 'userinfo'],
    refresh_delay_ms: Math.min(Math.max(Number(body.refresh_delay_ms) || 0, 0), 5000),
  });
  ctx.status = 204;
  return undefined;
});

const INTERACTION = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/;

provider.use(async (ctx, next) => {
  const m = INTERACTION.exec(ctx.path);
  if (!m) return next();
  const [, uid, login] = m;

  ctx.set('Cache-Control', 'no-store');
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (details.uid !== uid) ctx.throw(400, 'interaction mismatch');
  const promptName = details.prompt.name;

  if (!login && ctx.method === 'GET') {
    if (promptName === 'login') {
      ctx.type = 'html';
      ctx.body = loginPage(uid, details.params.client_id);
      return undefined;
    }
    if (promptName === 'consent') {
      return grantConsent(ctx, details);
    }
    return ctx.throw(400, `unsupported prompt ${promptName}`);
  }

  if (login && ctx.method === 'POST') {
    if (promptName !== 'login') ctx.throw(400, `interaction is at prompt ${promptName}, not login`);
    const form = await readForm(ctx.req);
    const username = form.get('username') ?? '';
    const password = form.get('password') ?? '';
    if (!ACCOUNTS.has(username) || password !== PASSWORD) {
      ctx.status = 200;
      ctx.type = 'html';
      ctx.body = loginPage(uid, details.params.client_id, {
        error: 'Invalid username or password',
        username,
      });
      return undefined;
    }
    const extra = form.getAll('amr').filter((v) => /^[a-z]{2,8}$/.test(v) && v !== 'pwd');
    await provider.interactionFinished(
      ctx.req,
      ctx.res,
      { login: { accountId: username, amr: extra.length ? ['pwd', ...new Set(extra), 'mfa'] : ['pwd'] } },
      { mergeWithLastSubmission: false },
    );
    // interactionFinished wrote the 303 itself.
    ctx.respond = false;
    return undefined;
  }

  ctx.set('Allow', login ? 'POST' : 'GET');
  return ctx.throw(405);
});

// ---------------------------------------------------------------- server

handler = provider.callback();

process.stdout.write(`oidc-provider ready at ${issuer}\n`);
