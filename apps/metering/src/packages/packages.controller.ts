import { Body, Controller, Get, HttpCode, Param, Post, Res, UseGuards } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ServiceAuthGuard } from '@tally/platform';
import type { FastifyReply } from 'fastify';
import { GrantPackageDto, PackageView } from './dto/grant-package.dto';
import { PackagesService } from './packages.service';

/** Packages are granted by billing or ops (a service credential), never by an API key. */
@ApiTags('packages')
@ApiSecurity('service')
@Controller('v1/orgs/:orgId/packages')
@UseGuards(ServiceAuthGuard)
export class PackagesController {
  constructor(private readonly packages: PackagesService) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Grant a package; the same externalId twice creates one package.' })
  @ApiBody({ type: GrantPackageDto })
  @ApiResponse({ status: 201, type: PackageView, description: 'Granted' })
  @ApiResponse({ status: 200, type: PackageView, description: 'Already granted under this externalId (unchanged)' })
  @ApiResponse({ status: 400, description: 'INVALID_REQUEST (with the field)' })
  @ApiResponse({ status: 401, description: 'MISSING_CREDENTIALS' })
  @ApiResponse({ status: 404, description: 'NOT_FOUND (no such organization)' })
  @ApiResponse({ status: 503, description: 'DEPENDENCY_UNAVAILABLE' })
  async grant(
    @Param('orgId') orgId: string,
    @Body() body: GrantPackageDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<PackageView> {
    const granted = await this.packages.grant(orgId, body);
    if (!granted.created) reply.status(200);
    return granted;
  }

  @Get()
  @ApiOperation({ summary: "An organization's packages, in consumption order, with remaining balances." })
  @ApiResponse({ status: 200, type: [PackageView] })
  @ApiResponse({ status: 400, description: 'INVALID_REQUEST (malformed orgId)' })
  @ApiResponse({ status: 401, description: 'MISSING_CREDENTIALS' })
  @ApiResponse({ status: 404, description: 'NOT_FOUND (no such organization)' })
  @ApiResponse({ status: 503, description: 'DEPENDENCY_UNAVAILABLE' })
  list(@Param('orgId') orgId: string): Promise<PackageView[]> {
    return this.packages.list(orgId);
  }
}
