import { Body, Controller, Get, HttpCode, Param, Patch, Post, Put, UseGuards } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { assertOrgId, Errors } from '@tally/contracts';
import { ServiceAuthGuard } from '@tally/platform';
import {
  AlertThresholdsDto,
  AlertThresholdsView,
  CreateOrgDto,
  OrgView,
  SuspendOrgDto,
  UpdateOrgDto,
} from './dto/org.dto';
import { OrgRow } from './orgs.repository';
import { OrgsService } from './orgs.service';

const view = (org: OrgRow): OrgView => ({
  ...org,
  createdAt: org.createdAt.toISOString(),
  updatedAt: org.updatedAt.toISOString(),
});

/**
 * The platform's internal API for organizations (service credential); the same operations as
 * the platform.org.v1 topic (docs/ORGANIZATIONS.md).
 */
@ApiTags('organizations')
@ApiSecurity('service')
@Controller('v1/orgs')
@UseGuards(ServiceAuthGuard)
@ApiResponse({ status: 401, description: 'MISSING_CREDENTIALS' })
@ApiResponse({
  status: 503,
  description: 'DEPENDENCY_UNAVAILABLE (PostgreSQL, or Redis after the change was saved: repeat it)',
})
export class OrgsController {
  constructor(private readonly orgs: OrgsService) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Create an organization (plan free unless named).' })
  @ApiBody({ type: CreateOrgDto })
  @ApiResponse({ status: 201, type: OrgView })
  @ApiResponse({ status: 400, description: 'INVALID_REQUEST (with the field; plan: not a plan of the catalog)' })
  @ApiResponse({ status: 409, description: 'CONFLICT: an organization with this id exists' })
  async create(@Body() body: CreateOrgDto): Promise<OrgView> {
    return view(await this.orgs.create(body));
  }

  @Get(':orgId')
  @ApiOperation({ summary: 'An organization: name, plan, status (active or suspended), version.' })
  @ApiResponse({ status: 200, type: OrgView })
  @ApiResponse({ status: 400, description: 'INVALID_REQUEST (malformed orgId)' })
  @ApiResponse({ status: 404, description: 'NOT_FOUND' })
  async get(@Param('orgId') orgId: string): Promise<OrgView> {
    assertOrgId(orgId);
    return view(await this.orgs.get(orgId));
  }

  @Patch(':orgId')
  @ApiOperation({
    summary: "Rename and/or change the plan; a new plan's tier and concurrency limit apply to the next admission.",
  })
  @ApiBody({ type: UpdateOrgDto })
  @ApiResponse({ status: 200, type: OrgView })
  @ApiResponse({ status: 400, description: 'INVALID_REQUEST (with the field; neither name nor plan)' })
  @ApiResponse({ status: 404, description: 'NOT_FOUND' })
  async update(@Param('orgId') orgId: string, @Body() body: UpdateOrgDto): Promise<OrgView> {
    assertOrgId(orgId);
    if (body.name === undefined && body.plan === undefined)
      throw Errors.invalidRequest('name', 'Name a new name or plan.');
    return view(await this.orgs.update(orgId, { name: body.name, plan: body.plan }));
  }

  @Post(':orgId/suspend')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Suspend: every verify for the org answers 403 ORG_SUSPENDED until resumed; holds and balances are kept.',
  })
  @ApiBody({ type: SuspendOrgDto, required: false })
  @ApiResponse({ status: 200, type: OrgView })
  @ApiResponse({ status: 404, description: 'NOT_FOUND' })
  async suspend(@Param('orgId') orgId: string, @Body() body: SuspendOrgDto = {}): Promise<OrgView> {
    assertOrgId(orgId);
    return view(await this.orgs.apply({ orgId, operation: 'suspend', reason: body?.reason }));
  }

  @Post(':orgId/resume')
  @HttpCode(200)
  @ApiOperation({ summary: 'Resume a suspended organization (a no-op for an active one).' })
  @ApiResponse({ status: 200, type: OrgView })
  @ApiResponse({ status: 404, description: 'NOT_FOUND' })
  async resume(@Param('orgId') orgId: string): Promise<OrgView> {
    assertOrgId(orgId);
    return view(await this.orgs.apply({ orgId, operation: 'resume' }));
  }

  @Get(':orgId/alert-thresholds')
  @ApiOperation({
    summary: "The org's balance alert thresholds: its own, or metering's ALERT_THRESHOLDS (source default).",
  })
  @ApiResponse({ status: 200, type: AlertThresholdsView })
  @ApiResponse({ status: 404, description: 'NOT_FOUND' })
  alertThresholds(@Param('orgId') orgId: string): Promise<AlertThresholdsView> {
    assertOrgId(orgId);
    return this.orgs.alertThresholds(orgId);
  }

  @Put(':orgId/alert-thresholds')
  @ApiOperation({
    summary:
      "Set the org's balance alert thresholds (percent consumed, 1..100, up to 10; 100 is depletion), or null for the default. " +
      'They apply from its next posting; a threshold already fired does not fire again until a grant re-arms it.',
  })
  @ApiBody({ type: AlertThresholdsDto })
  @ApiResponse({ status: 200, type: AlertThresholdsView })
  @ApiResponse({ status: 400, description: 'INVALID_REQUEST (field thresholds)' })
  @ApiResponse({ status: 404, description: 'NOT_FOUND' })
  setAlertThresholds(@Param('orgId') orgId: string, @Body() body: AlertThresholdsDto): Promise<AlertThresholdsView> {
    assertOrgId(orgId);
    return this.orgs.setAlertThresholds(orgId, body.thresholds);
  }
}
