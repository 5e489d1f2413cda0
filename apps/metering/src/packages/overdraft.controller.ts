import { Body, Controller, Get, Param, Put, UseGuards } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiParam, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ServiceAuthGuard } from '@tally/platform';
import { OverdraftView, SetOverdraftDto } from './dto/overdraft.dto';
import { OverdraftService } from './overdraft.service';

/** An organization's agent overdraft limit, set by billing or ops (a service credential). */
@ApiTags('packages')
@ApiSecurity('service')
@Controller('v1/orgs/:orgId/overdraft')
@UseGuards(ServiceAuthGuard)
export class OverdraftController {
  constructor(private readonly overdrafts: OverdraftService) {}

  @Put()
  @ApiOperation({
    summary:
      "Set how far below zero the organization's agent credits may go when agent.run is admitted (default 0). " +
      'Overage already run up counts against it; admission uses the new limit at once.',
  })
  @ApiParam({ name: 'orgId', description: 'ORG-<ulid>' })
  @ApiBody({ type: SetOverdraftDto })
  @ApiResponse({ status: 200, type: OverdraftView, description: 'Set (idempotent)' })
  @ApiResponse({ status: 400, description: 'INVALID_REQUEST (with the field)' })
  @ApiResponse({ status: 401, description: 'MISSING_CREDENTIALS' })
  @ApiResponse({ status: 404, description: 'NOT_FOUND (no such organization)' })
  @ApiResponse({ status: 503, description: 'DEPENDENCY_UNAVAILABLE' })
  set(@Param('orgId') orgId: string, @Body() body: SetOverdraftDto): Promise<OverdraftView> {
    return this.overdrafts.set(orgId, body.agentCredits);
  }

  @Get()
  @ApiOperation({ summary: "The organization's agent overdraft limit." })
  @ApiParam({ name: 'orgId', description: 'ORG-<ulid>' })
  @ApiResponse({ status: 200, type: OverdraftView })
  @ApiResponse({ status: 400, description: 'INVALID_REQUEST (malformed orgId)' })
  @ApiResponse({ status: 401, description: 'MISSING_CREDENTIALS' })
  @ApiResponse({ status: 404, description: 'NOT_FOUND (no such organization)' })
  get(@Param('orgId') orgId: string): Promise<OverdraftView> {
    return this.overdrafts.get(orgId);
  }
}
