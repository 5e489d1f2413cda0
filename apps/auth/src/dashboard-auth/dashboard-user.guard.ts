import { CanActivate, createParamDecorator, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Errors } from '@tally/contracts';
import type { FastifyRequest } from 'fastify';
import { AUTH_CONFIG, AuthConfig } from '../config/auth.config';
import { DashboardUser, JwtVerifier } from './jwt-verifier';

type WithUser = FastifyRequest & { dashboardUser?: DashboardUser };

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  return match ? match[1].trim() : undefined;
}

/**
 * Dashboard endpoints (key management, user authorization) accept a dashboard user's JWT and
 * nothing else. An API key is recognised by its shape alone, before any lookup: keys may never
 * manage keys, whatever key it is.
 */
@Injectable()
export class DashboardUserGuard implements CanActivate {
  constructor(
    private readonly verifier: JwtVerifier,
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<WithUser>();
    const token = bearerToken(request);
    if (request.headers['x-api-key'] !== undefined || token?.startsWith(this.config.API_KEY_PREFIX)) {
      throw Errors.actionNotAllowedForApiKey(
        'API keys cannot manage API keys or act for a dashboard user; log in to the dashboard.',
      );
    }
    if (!token) throw Errors.missingCredentials('A dashboard credential is required (Authorization: Bearer <JWT>).');
    request.dashboardUser = this.verifier.verify(token);
    return true;
  }
}

/** The dashboard user the guard verified. */
export const CurrentUser = createParamDecorator((_data: unknown, context: ExecutionContext): DashboardUser => {
  const user = context.switchToHttp().getRequest<WithUser>().dashboardUser;
  if (!user) throw Errors.missingCredentials('A dashboard credential is required.');
  return user;
});
