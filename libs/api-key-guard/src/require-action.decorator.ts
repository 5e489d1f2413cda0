import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata, UseGuards } from '@nestjs/common';
import { ApiHeader, ApiResponse } from '@nestjs/swagger';
import type { Action } from '@tally/contracts';
import { ApiKeyGuard } from './api-key.guard';
import { REQUIRED_ACTION, RequireActionOptions, RequiredAction } from './required-action';
import type { VerifiedAction } from './verify-client';

/**
 * `@RequireAction('sandbox.create')`: the route runs only if the caller's API key (x-api-key, or
 * Authorization: Bearer lysk-...) may perform the action in the route's organization, as auth's
 * verify decides; otherwise it answers auth's status and error body. Documents itself in OpenAPI.
 */
export const RequireAction = (action: Action, options: RequireActionOptions = {}) =>
  applyDecorators(
    SetMetadata(REQUIRED_ACTION, { action, ...options } satisfies RequiredAction),
    UseGuards(ApiKeyGuard),
    ApiHeader({ name: 'x-api-key', required: false, description: 'The API key (or Authorization: Bearer lysk-...)' }),
    ApiResponse({ status: 401, description: 'MISSING_CREDENTIALS, INVALID_API_KEY, API_KEY_REVOKED' }),
    ApiResponse({ status: 402, description: 'INSUFFICIENT_SANDBOX_HOURS, INSUFFICIENT_AGENT_CREDITS' }),
    ApiResponse({ status: 403, description: 'ACTION_NOT_ALLOWED_FOR_API_KEY, PLAN_TIER_TOO_LOW' }),
    ApiResponse({ status: 404, description: 'NOT_FOUND (also another organization)' }),
    ApiResponse({ status: 429, description: 'RATE_LIMITED, CONCURRENT_SANDBOX_LIMIT (Retry-After)' }),
    ApiResponse({ status: 503, description: 'DEPENDENCY_UNAVAILABLE: auth or Kafka unavailable (failed closed)' }),
  );

/** What auth verified for this request (set by the guard). */
export const Verified = createParamDecorator(
  (_data: unknown, context: ExecutionContext): VerifiedAction =>
    context.switchToHttp().getRequest<{ tallyVerified: VerifiedAction }>().tallyVerified,
);
