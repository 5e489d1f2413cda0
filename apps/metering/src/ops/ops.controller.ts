import { Controller, Get, Headers, Param, Query, Res, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiProduces, ApiQuery, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ServiceAuthGuard } from '@tally/platform';
import type { FastifyReply } from 'fastify';
import { USAGE_GROUPS } from './ops.repository';
import { OpsService, usageCsv, UsageView } from './ops.service';

export const USAGE_QUERIES = [
  ApiQuery({ name: 'from', required: false, description: 'ISO 8601, floored to the hour (default: 7 days before to)' }),
  ApiQuery({ name: 'to', required: false, description: 'ISO 8601, exclusive, rounded up to the hour (default: now)' }),
  ApiQuery({ name: 'granularity', required: false, enum: ['hour', 'day'], description: 'default day' }),
  ApiQuery({
    name: 'groupBy',
    required: false,
    enum: USAGE_GROUPS,
    description:
      "a series per value of the dimension. The group '' is usage the dimension does not apply to (key: runtime reports and agent usage; shape: events without one; sandbox: agent usage and actions that name no sandbox)",
  }),
];

export const applyAll =
  (decorators: MethodDecorator[]): MethodDecorator =>
  (target, key, descriptor) => {
    for (const decorator of decorators) decorator(target, key, descriptor);
  };
export const UsageQueries = () => applyAll(USAGE_QUERIES);

/** CSV when the caller asks for it (`Accept: text/csv`), JSON otherwise. */
export function negotiateUsage(view: UsageView, accept: string | undefined, reply: FastifyReply): UsageView | string {
  if (!accept?.includes('text/csv')) return view;
  reply.header('content-type', 'text/csv; charset=utf-8');
  return usageCsv(view);
}

export const COMMON = [
  ApiResponse({ status: 401, description: 'MISSING_CREDENTIALS (the ops service credential)' }),
  ApiResponse({ status: 503, description: 'DEPENDENCY_UNAVAILABLE' }),
];
export const OrgErrors = () =>
  applyAll([
    ...COMMON,
    ApiResponse({ status: 400, description: 'INVALID_REQUEST (with the field)' }),
    ApiResponse({ status: 404, description: 'NOT_FOUND (no such organization)' }),
    ApiParam({ name: 'orgId', description: 'ORG-<ulid>' }),
  ]);

/** Ops reads over an organization's balance and usage (a service credential, never an API key). */
@ApiTags('ops')
@ApiSecurity('service')
@Controller('v1')
@UseGuards(ServiceAuthGuard)
export class OpsController {
  constructor(private readonly ops: OpsService) {}

  @Get('orgs/:orgId/balances')
  @ApiOperation({
    summary:
      'Per kind: granted, consumed, held, available (decimal strings); active packages with expiry; asOf (ledger position), pending events, burn rate (last hour, day) and forecast depletion.',
  })
  @ApiResponse({ status: 200, description: 'The balances' })
  @OrgErrors()
  balances(@Param('orgId') orgId: string) {
    return this.ops.balances(orgId);
  }

  @Get('orgs/:orgId/usage')
  @ApiOperation({
    summary:
      'Usage time series from the hourly roll-ups (per organization, key, action, shape, kind, or sandbox); Accept: text/csv returns CSV.',
  })
  @ApiProduces('application/json', 'text/csv')
  @UsageQueries()
  @ApiResponse({ status: 200, description: 'The series and its totals' })
  @OrgErrors()
  async usage(
    @Param('orgId') orgId: string,
    @Query() query: Record<string, string>,
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return negotiateUsage(await this.ops.usage(orgId, query), accept, reply);
  }

  @Get('orgs/:orgId/ledger')
  @ApiOperation({ summary: 'The ledger, newest first, each entry with the event that caused it (explain my balance).' })
  @ApiQuery({ name: 'cursor', required: false, description: 'nextCursor of the previous page' })
  @ApiQuery({ name: 'limit', required: false, description: '1..1000, default 100' })
  @ApiQuery({ name: 'kind', required: false, enum: ['sandbox', 'agent'] })
  @ApiResponse({ status: 200, description: 'A page of entries and the next cursor (null at the end)' })
  @OrgErrors()
  ledger(@Param('orgId') orgId: string, @Query() query: Record<string, string>) {
    return this.ops.ledger(orgId, query);
  }

  @Get('orgs/:orgId/alerts')
  @ApiOperation({ summary: 'Recent depletion alerts of an organization, newest first.' })
  @ApiQuery({ name: 'limit', required: false, description: '1..200, default 20' })
  @ApiResponse({ status: 200, description: 'The alerts' })
  @OrgErrors()
  alerts(@Param('orgId') orgId: string, @Query('limit') limit?: string) {
    return this.ops.alerts(orgId, limit);
  }

  @Get('usage/top')
  @ApiOperation({ summary: 'Organizations by consumption of one kind over a window.' })
  @ApiQuery({ name: 'kind', required: true, enum: ['sandbox', 'agent'] })
  @ApiQuery({ name: 'from', required: false, description: 'ISO 8601 (default: 30 days before to)' })
  @ApiQuery({ name: 'to', required: false, description: 'ISO 8601, exclusive (default: now)' })
  @ApiQuery({ name: 'limit', required: false, description: '1..1000, default 10' })
  @ApiResponse({ status: 200, description: 'Organizations, largest consumer first' })
  @ApiResponse({ status: 400, description: 'INVALID_REQUEST (with the field)' })
  @applyAll(COMMON)
  top(@Query() query: Record<string, string>) {
    return this.ops.top(query);
  }
}
