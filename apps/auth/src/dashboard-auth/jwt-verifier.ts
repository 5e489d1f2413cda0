import { Errors } from '@tally/contracts';
import { createHmac, createPublicKey, KeyObject, timingSafeEqual, verify as verifySignature } from 'node:crypto';
import { readFileSync } from 'node:fs';

export type Role = 'owner' | 'admin' | 'member';
const ROLES: readonly Role[] = ['owner', 'admin', 'member'];

/** A dashboard user, as the identity provider vouches for them: an id and a role per organization. */
export interface DashboardUser {
  userId: string;
  memberships: ReadonlyMap<string, Role>;
}

export interface JwtVerifierOptions {
  algorithm: 'HS256' | 'RS256' | 'ES256';
  /** HS256 only. */
  secret?: string;
  /** RS256/ES256: PEM text. */
  publicKeyPem?: string;
  /** RS256/ES256: a PEM file or a JWKS (`{"keys":[...]}`) file. */
  publicKeyFile?: string;
  issuer: string;
  audience: string;
  clockSkewSeconds: number;
}

const MAX_TOKEN_LENGTH = 16 * 1024;
const MAX_MEMBERSHIPS = 1_000;

const invalid = (why: string) => Errors.missingCredentials(`The dashboard credential is not valid: ${why}.`);

function decodeJson(segment: string, what: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw invalid(`its ${what} is not a JSON object`);
}

const MIN_RSA_BITS = 2048;

/** Why `key` cannot verify `algorithm` (RS256: RSA of at least 2048 bits; ES256: EC on P-256), else undefined. */
export function unsuitableKey(key: KeyObject, algorithm: JwtVerifierOptions['algorithm']): string | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  if (algorithm === 'RS256') {
    if (key.asymmetricKeyType !== 'rsa') return `RS256 needs an RSA key, not ${key.asymmetricKeyType}`;
    if ((details.modulusLength ?? 0) < MIN_RSA_BITS) return `RS256 needs an RSA key of at least ${MIN_RSA_BITS} bits`;
  }
  if (algorithm === 'ES256' && (key.asymmetricKeyType !== 'ec' || details.namedCurve !== 'prime256v1'))
    return 'ES256 needs an EC key on the P-256 curve';
  return undefined;
}

/** Public keys by `kid` (`''` for a key without one). */
function loadPublicKeys(options: JwtVerifierOptions): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  const text = options.publicKeyPem || (options.publicKeyFile ? readFileSync(options.publicKeyFile, 'utf8') : '');
  if (!text.trim()) throw new Error(`${options.algorithm} needs a public key (JWT_PUBLIC_KEY or JWT_PUBLIC_KEY_FILE)`);
  if (text.trim().startsWith('{')) {
    const jwks = JSON.parse(text) as { keys?: Array<Record<string, unknown>> };
    for (const jwk of jwks.keys ?? []) {
      if (jwk.use && jwk.use !== 'sig') continue;
      if (jwk.alg && jwk.alg !== options.algorithm) continue;
      const key = createPublicKey({ key: jwk as never, format: 'jwk' });
      // A key of another type or curve (or a weak RSA key) never verifies: skipped, not trusted.
      if (unsuitableKey(key, options.algorithm)) continue;
      keys.set(typeof jwk.kid === 'string' ? jwk.kid : '', key);
    }
    if (keys.size === 0)
      throw new Error(`the JWKS has no ${options.algorithm} signing key of a suitable type and size`);
  } else {
    const key = createPublicKey(text);
    const unsuitable = unsuitableKey(key, options.algorithm);
    if (unsuitable) throw new Error(`the configured public key cannot be used: ${unsuitable}`);
    keys.set('', key);
  }
  return keys;
}

/**
 * Verifies dashboard JWTs with node:crypto alone: the algorithm is fixed by configuration (the
 * header may not choose it, so no `none` and no HS/RS confusion), then signature, issuer,
 * audience, expiry and not-before with a bounded clock skew.
 */
export class JwtVerifier {
  private readonly publicKeys?: Map<string, KeyObject>;
  private readonly secret?: Buffer;

  constructor(
    private readonly options: JwtVerifierOptions,
    private readonly now: () => number = Date.now,
  ) {
    if (options.algorithm === 'HS256') {
      if (options.secret) this.secret = Buffer.from(options.secret, 'utf8');
    } else {
      this.publicKeys = loadPublicKeys(options);
    }
  }

  /** False when no key is configured (HS256 without a secret): dashboard logins are then refused. */
  get configured(): boolean {
    return Boolean(this.secret || this.publicKeys);
  }

  verify(token: string): DashboardUser {
    if (!this.configured) {
      throw Errors.dependencyUnavailable('Dashboard logins are not configured on this service (fail closed).');
    }
    if (token.length > MAX_TOKEN_LENGTH) throw invalid('it is too long');
    const parts = token.split('.');
    if (parts.length !== 3 || parts.some((part) => !/^[A-Za-z0-9_-]*$/.test(part))) throw invalid('it is not a JWT');
    const [headerPart, payloadPart, signaturePart] = parts;
    const header = decodeJson(headerPart, 'header');
    if (header.alg !== this.options.algorithm) throw invalid(`its algorithm must be ${this.options.algorithm}`);
    const signed = Buffer.from(`${headerPart}.${payloadPart}`, 'ascii');
    const signature = Buffer.from(signaturePart, 'base64url');
    if (!this.signatureMatches(signed, signature, header.kid)) throw invalid('its signature does not match');

    const claims = decodeJson(payloadPart, 'payload');
    const now = Math.floor(this.now() / 1000);
    const skew = this.options.clockSkewSeconds;
    if (typeof claims.exp !== 'number') throw invalid('it has no expiry');
    if (now > claims.exp + skew) throw invalid('it has expired');
    if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || now < claims.nbf - skew))
      throw invalid('it is not valid yet');
    if (claims.iat !== undefined && (typeof claims.iat !== 'number' || claims.iat > now + skew))
      throw invalid('it was issued in the future');
    if (claims.iss !== this.options.issuer) throw invalid('its issuer is not trusted');
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!audiences.includes(this.options.audience)) throw invalid('it is meant for another audience');
    if (typeof claims.sub !== 'string' || claims.sub.length === 0 || claims.sub.length > 200)
      throw invalid('it names no user');
    return { userId: claims.sub, memberships: parseMemberships(claims.memberships) };
  }

  private signatureMatches(signed: Buffer, signature: Buffer, kid: unknown): boolean {
    if (this.secret) {
      const expected = createHmac('sha256', this.secret).update(signed).digest();
      return expected.length === signature.length && timingSafeEqual(expected, signature);
    }
    const keys = this.publicKeys!;
    const key = keys.get(typeof kid === 'string' ? kid : '') ?? (keys.size === 1 ? [...keys.values()][0] : undefined);
    if (!key) return false;
    try {
      return this.options.algorithm === 'ES256'
        ? verifySignature('sha256', signed, { key, dsaEncoding: 'ieee-p1363' }, signature)
        : verifySignature('sha256', signed, key, signature);
    } catch {
      return false;
    }
  }
}

function parseMemberships(value: unknown): Map<string, Role> {
  const memberships = new Map<string, Role>();
  if (value === undefined) return memberships;
  if (!Array.isArray(value) || value.length > MAX_MEMBERSHIPS) throw invalid('its memberships are not a list');
  for (const entry of value) {
    const { orgId, role } = (entry ?? {}) as { orgId?: unknown; role?: unknown };
    if (typeof orgId !== 'string' || !ROLES.includes(role as Role)) throw invalid('a membership is malformed');
    memberships.set(orgId, role as Role);
  }
  return memberships;
}
