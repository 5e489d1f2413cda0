import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiQuery, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { assertOrgId, Errors, TallyError } from '@tally/contracts';
import { DATA_SOURCE } from '@tally/database';
import { ServiceAuthGuard } from '@tally/platform';
import { Inject } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { NotifierService } from './notifier.service';
import { RegisterWebhookDto, WebhookEndpointView } from './register-webhook.dto';
import { EndpointRow } from './webhook.repository';

const view = (row: EndpointRow, extra: Partial<WebhookEndpointView> = {}): WebhookEndpointView => ({
  id: row.id,
  orgId: row.orgId,
  url: row.url,
  status: row.status,
  consecutiveFailures: row.consecutiveFailures,
  ...extra,
});

/** Webhook endpoints for depletion alerts, and their delivery log (ops credential). */
@ApiTags('webhooks')
@ApiSecurity('service')
@Controller('v1')
@UseGuards(ServiceAuthGuard)
@ApiResponse({ status: 401, description: 'MISSING_CREDENTIALS' })
@ApiResponse({ status: 503, description: 'DEPENDENCY_UNAVAILABLE' })
export class WebhooksController {
  constructor(
    private readonly notifier: NotifierService,
    @Inject(DATA_SOURCE) private readonly db: DataSource,
  ) {}

  @Post('orgs/:orgId/webhooks')
  @HttpCode(201)
  @ApiOperation({ summary: "Register an endpoint for an organization's alerts (the secret is returned once)." })
  @ApiBody({ type: RegisterWebhookDto })
  @ApiResponse({ status: 201, type: WebhookEndpointView })
  @ApiResponse({ status: 400, description: 'INVALID_REQUEST (with the field)' })
  @ApiResponse({ status: 404, description: 'NOT_FOUND (no such organization)' })
  async registerForOrg(@Param('orgId') orgId: string, @Body() body: RegisterWebhookDto): Promise<WebhookEndpointView> {
    assertOrgId(orgId);
    if ((await this.db.query('SELECT 1 FROM organizations WHERE id = $1', [orgId])).length === 0)
      throw Errors.orgNotFound();
    return this.register(orgId, body);
  }

  @Post('ops/webhooks')
  @HttpCode(201)
  @ApiOperation({ summary: "Register an ops endpoint: every organization's alerts (the secret is returned once)." })
  @ApiBody({ type: RegisterWebhookDto })
  @ApiResponse({ status: 201, type: WebhookEndpointView })
  @ApiResponse({ status: 400, description: 'INVALID_REQUEST (with the field)' })
  registerForOps(@Body() body: RegisterWebhookDto): Promise<WebhookEndpointView> {
    return this.register(null, body);
  }

  @Get('webhooks/:id')
  @ApiOperation({ summary: 'An endpoint: status (active or dead), consecutive failures, deliveries by status.' })
  @ApiResponse({ status: 200, type: WebhookEndpointView })
  @ApiResponse({ status: 400, description: 'INVALID_REQUEST (malformed id)' })
  @ApiResponse({ status: 404, description: 'NOT_FOUND' })
  async endpoint(@Param('id', new ParseUUIDPipe({ exceptionFactory: badId })) id: string) {
    const row = await this.notifier.repository.endpoint(id);
    if (!row) throw Errors.webhookEndpointNotFound();
    return view(row, { deliveries: await this.notifier.repository.deliveryCounts(id) });
  }

  @Get('webhooks/:id/deliveries')
  @ApiOperation({ summary: "The endpoint's delivery log: every attempt, newest first, with status and error." })
  @ApiQuery({ name: 'limit', required: false, description: '1..1000, default 100' })
  @ApiResponse({ status: 200, description: 'Attempts' })
  @ApiResponse({ status: 400, description: 'INVALID_REQUEST' })
  @ApiResponse({ status: 404, description: 'NOT_FOUND' })
  async deliveries(
    @Param('id', new ParseUUIDPipe({ exceptionFactory: badId })) id: string,
    @Query('limit') limit?: string,
  ) {
    const n = limit === undefined ? 100 : Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > 1_000)
      throw Errors.invalidRequest('limit', 'limit must be an integer in 1..1000.');
    if (!(await this.notifier.repository.endpoint(id))) throw Errors.webhookEndpointNotFound();
    return this.notifier.repository.attempts(id, n);
  }

  private async register(orgId: string | null, body: RegisterWebhookDto): Promise<WebhookEndpointView> {
    const secret = body.secret ?? `whsec_${randomBytes(24).toString('base64url')}`;
    const row = await this.notifier.repository.register(orgId, body.url, secret);
    return view(row, { secret });
  }
}

function badId(): TallyError {
  return Errors.invalidRequest('id', 'id must be a UUID.');
}
