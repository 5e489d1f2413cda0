import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signDashboardJwt } from './jwt-signer';
import { JwtVerifier } from './jwt-verifier';

const SECRET = 'a-dashboard-secret-of-at-least-32-chars';
const base = { issuer: 'idp', audience: 'tally-auth', clockSkewSeconds: 30 };
const claims = {
  sub: 'USR-1',
  iss: 'idp',
  aud: 'tally-auth',
  memberships: [{ orgId: 'ORG-A', role: 'admin' as const }],
};
const NOW = 1_800_000_000;

const hs = new JwtVerifier({ ...base, algorithm: 'HS256', secret: SECRET }, () => NOW * 1000);
const code = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return 'accepted';
};

describe('JwtVerifier', () => {
  it('accepts a valid HS256 token and reads the memberships', () => {
    const user = hs.verify(
      signDashboardJwt({ ...claims, iat: NOW, exp: NOW + 60 }, { algorithm: 'HS256', secret: SECRET }),
    );
    expect(user.userId).toBe('USR-1');
    expect(user.memberships.get('ORG-A')).toBe('admin');
  });

  it.each([
    ['expired beyond the skew', { exp: NOW - 31 }],
    ['not valid yet', { exp: NOW + 60, nbf: NOW + 31 }],
    ['issued in the future', { exp: NOW + 60, iat: NOW + 31 }],
    ['another issuer', { exp: NOW + 60, iss: 'evil' }],
    ['another audience', { exp: NOW + 60, aud: ['x', 'y'] }],
    ['no subject', { exp: NOW + 60, sub: '' }],
    ['a malformed membership', { exp: NOW + 60, memberships: [{ orgId: 'ORG-A', role: 'root' }] }],
  ])('rejects a token %s', (_why, override) => {
    const token = signDashboardJwt({ ...claims, iat: NOW, ...override } as never, {
      algorithm: 'HS256',
      secret: SECRET,
    });
    expect(code(() => hs.verify(token))).toBe('MISSING_CREDENTIALS');
  });

  it('tolerates expiry within the clock skew', () => {
    const token = signDashboardJwt({ ...claims, iat: NOW, exp: NOW - 29 }, { algorithm: 'HS256', secret: SECRET });
    expect(code(() => hs.verify(token))).toBe('accepted');
  });

  it('rejects another secret, alg "none" and garbage', () => {
    const other = signDashboardJwt({ ...claims, exp: NOW + 60 }, { algorithm: 'HS256', secret: `${SECRET}-other` });
    expect(code(() => hs.verify(other))).toBe('MISSING_CREDENTIALS');
    const [, payload] = other.split('.');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
    expect(code(() => hs.verify(none))).toBe('MISSING_CREDENTIALS');
    for (const junk of ['', 'a.b', 'a.b.c', '....', 'x'.repeat(20_000)]) {
      expect(code(() => hs.verify(junk))).toBe('MISSING_CREDENTIALS');
    }
  });

  it('verifies RS256 with a PEM and refuses an HS256 token signed with the PEM text', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const rs = new JwtVerifier({ ...base, algorithm: 'RS256', publicKeyPem: pem }, () => NOW * 1000);
    expect(rs.verify(signDashboardJwt({ ...claims, exp: NOW + 60 }, { algorithm: 'RS256', privateKey })).userId).toBe(
      'USR-1',
    );
    const confused = signDashboardJwt({ ...claims, exp: NOW + 60 }, { algorithm: 'HS256', secret: pem });
    expect(code(() => rs.verify(confused))).toBe('MISSING_CREDENTIALS');
  });

  it('verifies ES256 from a JWKS file, choosing the key by kid', () => {
    const first = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const second = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = (key: typeof first.publicKey, kid: string) => ({ ...key.export({ format: 'jwk' }), kid, alg: 'ES256' });
    const file = join(mkdtempSync(join(tmpdir(), 'jwks-')), 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [jwk(first.publicKey, 'k1'), jwk(second.publicKey, 'k2')] }));
    const es = new JwtVerifier({ ...base, algorithm: 'ES256', publicKeyFile: file }, () => NOW * 1000);
    const token = (privateKey: typeof first.privateKey, kid: string) =>
      signDashboardJwt({ ...claims, exp: NOW + 60 }, { algorithm: 'ES256', privateKey, kid });
    expect(code(() => es.verify(token(second.privateKey, 'k2')))).toBe('accepted');
    expect(code(() => es.verify(token(second.privateKey, 'k1')))).toBe('MISSING_CREDENTIALS');
  });

  it('refuses every token when no key is configured (fail closed)', () => {
    const unconfigured = new JwtVerifier({ ...base, algorithm: 'HS256' });
    expect(code(() => unconfigured.verify('a.b.c'))).toBe('DEPENDENCY_UNAVAILABLE');
  });

  it('refuses a configured key whose type, curve or size does not fit the algorithm (issue 11)', () => {
    const pem = (key: ReturnType<typeof generateKeyPairSync>['publicKey']) =>
      key.export({ type: 'spki', format: 'pem' }).toString();
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey;
    const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;
    const make = (algorithm: 'RS256' | 'ES256', key: typeof rsa1024) => () =>
      new JwtVerifier({ ...base, algorithm, publicKeyPem: pem(key) });
    expect(make('RS256', rsa1024)).toThrow(/at least 2048 bits/);
    expect(make('RS256', p256)).toThrow(/needs an RSA key/);
    expect(make('ES256', rsa2048)).toThrow(/P-256/);
    expect(make('ES256', p384)).toThrow(/P-256/);
    expect(make('RS256', rsa2048)).not.toThrow();
    expect(make('ES256', p256)).not.toThrow();
    // In a JWKS, unsuitable keys are skipped; only suitable ones are trusted.
    const dir = mkdtempSync(join(tmpdir(), 'jwks-'));
    const file = join(dir, 'jwks.json');
    const jwk = (key: typeof rsa1024, kid: string) => ({ ...key.export({ format: 'jwk' }), kid });
    writeFileSync(file, JSON.stringify({ keys: [jwk(rsa1024, 'weak'), jwk(p256, 'ec')] }));
    expect(() => new JwtVerifier({ ...base, algorithm: 'RS256', publicKeyFile: file })).toThrow(/suitable/);
    writeFileSync(file, JSON.stringify({ keys: [jwk(rsa1024, 'weak'), jwk(rsa2048, 'good')] }));
    expect(new JwtVerifier({ ...base, algorithm: 'RS256', publicKeyFile: file }).configured).toBe(true);
  });
});
