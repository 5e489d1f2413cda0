import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Errors, IDEMPOTENCY_KEY_HEADER } from '@tally/contracts';
import type { FastifyRequest } from 'fastify';
import { REQUIRED_ACTION, RequiredAction } from './required-action';
import { VerifyClient } from './verify-client';

/** The API key a request presents: `x-api-key`, else `Authorization: Bearer <key>`. */
export function presentedApiKey(request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header.trim()) return header.trim();
  const authorization = request.headers.authorization;
  const match = typeof authorization === 'string' ? /^Bearer\s+(\S+)$/i.exec(authorization.trim()) : null;
  return match?.[1];
}

/** The end user's Idempotency-Key header, passed on to auth as it came. */
function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const header = request.headers[IDEMPOTENCY_KEY_HEADER];
  return typeof header === 'string' && header ? header : undefined;
}

@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(VerifyClient) private readonly client: VerifyClient,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const required = this.reflector.getAllAndOverride<RequiredAction | undefined>(REQUIRED_ACTION, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!required) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest & { tallyVerified?: unknown }>();
    const key = presentedApiKey(request);
    if (!key) throw Errors.missingCredentials('An API key is required (x-api-key or Authorization: Bearer).');
    const params = (request.params ?? {}) as Record<string, string>;
    const header = request.headers['x-org-id'];
    const orgId = params[required.orgIdParam ?? 'orgId'] ?? (typeof header === 'string' ? header : undefined);
    if (!orgId) throw Errors.invalidRequest('orgId', 'The organization id is missing.');
    const idempotencyKey = idempotencyKeyOf(request);
    const view = { params, body: request.body, idempotencyKey };
    const resource = required.resource?.(view);
    const verified = await this.client.verify({
      key,
      action: required.action,
      orgId,
      resource,
      params: required.params?.(view),
      sourceAddress: request.ip,
      idempotencyKey,
    });
    // The route reads the resource it was verified for (a create's sandbox id is made up here, once).
    request.tallyVerified = resource ? { ...verified, resource } : verified;
    return true;
  }
}
