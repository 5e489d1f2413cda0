import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { CurrentUser, DashboardUserGuard } from '../dashboard-auth/dashboard-user.guard';
import type { DashboardUser } from '../dashboard-auth/jwt-verifier';
import { ApiErrors, BODY_ERRORS } from '../http/api-errors.decorator';
import { ApiKeysService, RequestOrigin } from './api-keys.service';
import { ApiKeyListDto, CreateApiKeyDto, CreatedApiKeyDto, ListApiKeysQueryDto } from './dto/api-key.dto';

const origin = (request: FastifyRequest): RequestOrigin => ({
  sourceAddress: request.ip ?? null,
  userAgent: typeof request.headers['user-agent'] === 'string' ? request.headers['user-agent'].slice(0, 500) : null,
  requestId: String(request.id),
});

const CREDENTIAL_ERRORS = {
  401: 'MISSING_CREDENTIALS: no dashboard JWT, or an invalid/expired one',
  403: 'ACTION_NOT_ALLOWED_FOR_API_KEY (an API key was presented) or ROLE_FORBIDDEN (role too low)',
  404: 'NOT_FOUND: the caller is not a member of this organization (or no such key)',
  503: 'DEPENDENCY_UNAVAILABLE: dashboard logins not configured, or PostgreSQL/Redis down (fail closed)',
};

@ApiTags('api-keys')
@ApiBearerAuth('dashboard')
@ApiParam({ name: 'orgId', example: 'ORG-01JABCDEFGHJKMNPQRSTVWXYZ0' })
@Controller('v1/orgs/:orgId/api-keys')
@UseGuards(DashboardUserGuard)
export class ApiKeysController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Create an API key (owners and admins); the key is shown once' })
  @ApiResponse({ status: 201, type: CreatedApiKeyDto })
  @ApiErrors({ ...BODY_ERRORS, ...CREDENTIAL_ERRORS })
  create(
    @CurrentUser() user: DashboardUser,
    @Param('orgId') orgId: string,
    @Body() body: CreateApiKeyDto,
    @Req() request: FastifyRequest,
  ): Promise<CreatedApiKeyDto> {
    return this.apiKeys.create(user, orgId, body.name, origin(request));
  }

  @Get()
  @ApiOperation({ summary: "List the caller's keys, or (scope=org, owners and admins) every key of the org" })
  @ApiResponse({ status: 200, type: ApiKeyListDto })
  @ApiErrors({ 400: 'INVALID_REQUEST: unknown scope', ...CREDENTIAL_ERRORS })
  list(
    @CurrentUser() user: DashboardUser,
    @Param('orgId') orgId: string,
    @Query() query: ListApiKeysQueryDto,
  ): Promise<ApiKeyListDto> {
    return this.apiKeys.list(user, orgId, query.scope ?? 'mine');
  }

  @Delete(':keyId')
  @HttpCode(204)
  @ApiOperation({
    summary:
      'Revoke a key: your own, or (owners and admins) any key of the org; audited; effective everywhere within 1 s',
  })
  @ApiParam({ name: 'keyId', description: 'The key id (as listed)' })
  @ApiResponse({ status: 204, description: 'Revoked (also when it already was)' })
  @ApiErrors(CREDENTIAL_ERRORS)
  async revoke(
    @CurrentUser() user: DashboardUser,
    @Param('orgId') orgId: string,
    @Param('keyId') keyId: string,
    @Req() request: FastifyRequest,
  ): Promise<void> {
    await this.apiKeys.revoke(user, orgId, keyId, origin(request));
  }
}
