import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Errors } from '@tally/contracts';
import { createHmac, createSecretKey, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';

export const SERVICE_TOKENS = Symbol('SERVICE_TOKENS');

/**
 * Internal callers (the gateway, billing, ops) present a service credential, never an API key.
 * Tokens are compared as HMAC digests so the comparison is constant time whatever their length.
 */
@Injectable()
export class ServiceAuthGuard implements CanActivate {
  // A KeyObject: createHmac re-imports a raw Buffer key on every call, several times the HMAC's cost.
  private readonly salt = createSecretKey(randomBytes(32));
  private readonly digests: Buffer[];

  constructor(@Inject(SERVICE_TOKENS) tokens: string[]) {
    this.digests = tokens.map((token) => this.digest(token));
  }

  canActivate(context: ExecutionContext): boolean {
    this.check(context.switchToHttp().getRequest<FastifyRequest>().headers);
    return true;
  }

  /** Throws MISSING_CREDENTIALS unless the headers carry a known service token. */
  check(headers: IncomingHttpHeaders): void {
    const presented = serviceCredential(headers);
    if (!presented) throw Errors.missingCredentials('A service credential is required (x-service-token).');
    const digest = this.digest(presented);
    let match = false;
    for (const known of this.digests) match = timingSafeEqual(known, digest) || match;
    if (!match) throw Errors.missingCredentials('The service credential is not valid.');
  }

  private digest(token: string): Buffer {
    return createHmac('sha256', this.salt).update(token).digest();
  }
}

export function serviceCredential(headers: IncomingHttpHeaders): string | undefined {
  const header = headers['x-service-token'];
  return typeof header === 'string' && header.length > 0 ? header : undefined;
}
