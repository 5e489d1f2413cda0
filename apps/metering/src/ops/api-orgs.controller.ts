import { Controller, Get, Headers, Param, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import { RequireAction } from '@tally/api-key-guard';
import type { FastifyReply } from 'fastify';
import { PackageView } from '../packages/dto/grant-package.dto';
import { PackagesService } from '../packages/packages.service';
import { negotiateUsage, UsageQueries } from './ops.controller';
import { OpsService } from './ops.service';

/**
 * What an API key may read about its own organization (auth's verify decides, through the
 * guard: another org's id is denied like a missing one).
 */
@ApiTags('api')
@Controller('api/orgs/:orgId')
export class ApiOrgsController {
  constructor(
    private readonly ops: OpsService,
    private readonly packages: PackagesService,
  ) {}

  @Get('packages')
  @RequireAction('org.packages.read')
  @ApiOperation({ summary: "The key's organization's packages with remaining balances." })
  @ApiParam({ name: 'orgId', description: 'ORG-<ulid>' })
  @ApiResponse({ status: 200, type: [PackageView] })
  @ApiResponse({ status: 400, description: 'INVALID_REQUEST' })
  list(@Param('orgId') orgId: string): Promise<PackageView[]> {
    return this.packages.list(orgId);
  }

  @Get('usage')
  @RequireAction('org.usage.read')
  @ApiOperation({ summary: "The key's organization's usage series; Accept: text/csv returns CSV." })
  @ApiParam({ name: 'orgId', description: 'ORG-<ulid>' })
  @ApiProduces('application/json', 'text/csv')
  @UsageQueries()
  @ApiResponse({ status: 200, description: 'The series and its totals' })
  @ApiResponse({ status: 400, description: 'INVALID_REQUEST (with the field)' })
  async usage(
    @Param('orgId') orgId: string,
    @Query() query: Record<string, string>,
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return negotiateUsage(await this.ops.usage(orgId, query), accept, reply);
  }

  @Get('stats')
  @RequireAction('org.usage.read')
  @ApiOperation({ summary: 'Live sandboxes, projects and MCP servers, counted from verified create/delete actions.' })
  @ApiParam({ name: 'orgId', description: 'ORG-<ulid>' })
  @ApiResponse({ status: 200, description: '{sandboxes, projects, mcpServers}' })
  @ApiResponse({ status: 400, description: 'INVALID_REQUEST' })
  stats(@Param('orgId') orgId: string) {
    return this.ops.stats(orgId);
  }
}
