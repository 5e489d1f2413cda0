import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  ParseUUIDPipe,
  Patch,
  Post,
  Query,
  UseGuards,
} from '@nestjs/common';
import { ApiBody, ApiOperation, ApiQuery, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { assertOrgId, Errors, TallyError } from '@tally/contracts';
import { ServiceAuthGuard } from '@tally/platform';
import { randomBytes } from 'node:crypto';
import { NotifierService } from './notifier.service';
import { RegisterWebhookDto, UpdateWebhookDto, WebhookEndpointView } from './register-webhook.dto';
import { SIGNATURE_FORMAT } from './webhook-signature';
import { EndpointRow } from './webhook.repository';
import { literalTargetRefusal, privateTargetsAllowed } from './webhook-target';
import { METERING_CONFIG } from '../config/metering-config.token';
import { MeteringConfig } from '../config/metering.config';

const view = (row: EndpointRow, extra: Partial<WebhookEndpointView> = {}): WebhookEndpointView => ({
  id: row.id,
  orgId: row.orgId,
  url: row.url,
  status: row.status,
  consecutiveFailures: row.consecutiveFailures,
  ...extra,
});

const newSecret = () => `whsec_${randomBytes(24).toString('base64url')}`;

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
    @Inject(METERING_CONFIG) private readonly config: MeteringConfig,
  ) {}

  @Post('orgs/:orgId/webhooks')
  @HttpCode(201)
  @ApiOperation({
    summary: "Register an endpoint for an organization's alerts (the secret is returned once).",
    description: SIGNATURE_FORMAT,
  })
  @ApiBody({ type: RegisterWebhookDto })
  @ApiResponse({ status: 201, type: WebhookEndpointView })
  @ApiResponse({ status: 400, description: 'INVALID_REQUEST (with the field)' })
  @ApiResponse({ status: 404, description: 'NOT_FOUND (no such organization)' })
  async registerForOrg(@Param('orgId') orgId: string, @Body() body: RegisterWebhookDto): Promise<WebhookEndpointView> {
    await this.assertOrg(orgId);
    return this.register(orgId, body);
  }

  @Get('orgs/:orgId/webhooks')
  @ApiOperation({ summary: "An organization's endpoints (never their secrets), oldest first." })
  @ApiResponse({ status: 200, type: [WebhookEndpointView] })
  @ApiResponse({ status: 400, description: 'INVALID_REQUEST (malformed orgId)' })
  @ApiResponse({ status: 404, description: 'NOT_FOUND (no such organization)' })
  async listForOrg(@Param('orgId') orgId: string): Promise<WebhookEndpointView[]> {
    await this.assertOrg(orgId);
    return (await this.notifier.repository.list(orgId)).map((row) => view(row));
  }

  @Get('ops/webhooks')
  @ApiOperation({ summary: "The ops endpoints (every organization's alerts), oldest first." })
  @ApiResponse({ status: 200, type: [WebhookEndpointView] })
  async listForOps(): Promise<WebhookEndpointView[]> {
    return (await this.notifier.repository.list(null)).map((row) => view(row));
  }

  @Post('ops/webhooks')
  @HttpCode(201)
  @ApiOperation({
    summary: "Register an ops endpoint: every organization's alerts (the secret is returned once).",
    description: SIGNATURE_FORMAT,
  })
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

  @Patch('webhooks/:id')
  @ApiOperation({
    summary:
      'Change an endpoint: url, secret ("rotate" for a generated one, returned once), status active to revive a dead one.',
    description: SIGNATURE_FORMAT,
  })
  @ApiBody({ type: UpdateWebhookDto })
  @ApiResponse({ status: 200, type: WebhookEndpointView })
  @ApiResponse({ status: 400, description: 'INVALID_REQUEST (with the field)' })
  @ApiResponse({ status: 404, description: 'NOT_FOUND' })
  async update(
    @Param('id', new ParseUUIDPipe({ exceptionFactory: badId })) id: string,
    @Body() body: UpdateWebhookDto,
  ): Promise<WebhookEndpointView> {
    if (body.url === undefined && body.secret === undefined && body.status === undefined)
      throw Errors.invalidRequest('url', 'Name a new url, secret or status.');
    if (body.secret !== undefined && body.secret !== 'rotate' && body.secret.length < 16)
      throw Errors.invalidRequest('secret', 'secret must be at least 16 characters, or "rotate".');
    if (body.url !== undefined) this.assertTarget(body.url);
    const secret = body.secret === 'rotate' ? newSecret() : body.secret;
    const row = await this.notifier.repository.update(id, { url: body.url, secret, revive: body.status === 'active' });
    if (!row) throw Errors.webhookEndpointNotFound();
    return view(row, secret === undefined ? {} : { secret });
  }

  @Delete('webhooks/:id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete an endpoint with its pending deliveries and its delivery log.' })
  @ApiResponse({ status: 204, description: 'Deleted' })
  @ApiResponse({ status: 400, description: 'INVALID_REQUEST (malformed id)' })
  @ApiResponse({ status: 404, description: 'NOT_FOUND' })
  async remove(@Param('id', new ParseUUIDPipe({ exceptionFactory: badId })) id: string): Promise<void> {
    if (!(await this.notifier.repository.remove(id))) throw Errors.webhookEndpointNotFound();
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

  private async assertOrg(orgId: string): Promise<void> {
    assertOrgId(orgId);
    if (!(await this.notifier.repository.orgExists(orgId))) throw Errors.orgNotFound();
  }

  /** A target written as a private address or a local name is refused at once (a resolved one before each delivery). */
  private assertTarget(url: string): void {
    if (privateTargetsAllowed(this.config)) return;
    const refused = literalTargetRefusal(url);
    if (refused) throw Errors.invalidRequest('url', `Webhooks cannot target ${refused}.`);
  }

  private async register(orgId: string | null, body: RegisterWebhookDto): Promise<WebhookEndpointView> {
    this.assertTarget(body.url);
    const secret = body.secret ?? newSecret();
    const row = await this.notifier.repository.register(orgId, body.url, secret);
    return view(row, { secret });
  }
}

function badId(): TallyError {
  return Errors.invalidRequest('id', 'id must be a UUID.');
}
