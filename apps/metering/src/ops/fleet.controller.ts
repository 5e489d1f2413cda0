import { Controller, Get, Param, Query, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ServiceAuthGuard } from '@tally/platform';
import { FLEET_SORTS } from './fleet.repository';
import { FleetService } from './fleet.service';
import { applyAll, COMMON, OrgErrors } from './ops.controller';

/** The ops console's reads: the fleet, the pipeline, an organization's sandboxes and its explained balance. */
@ApiTags('ops')
@ApiSecurity('service')
@Controller('v1')
@UseGuards(ServiceAuthGuard)
export class FleetController {
  constructor(private readonly fleet: FleetService) {}

  @Get('fleet')
  @ApiOperation({
    summary:
      'Every organization with its balances (granted, remaining, held, available), burn per hour over the last 24 h of hourly roll-ups, time to empty at that rate (emptyAt, the earlier of the two kinds) and its firing alerts (the highest threshold, depleted, forecast). attention: empty (a kind with nothing available: further usage is overage), dry-within-24h, ok. One query, sorted and paged in PostgreSQL.',
  })
  @ApiQuery({ name: 'q', required: false, description: 'part of the organization id or name (case-insensitive)' })
  @ApiQuery({
    name: 'sort',
    required: false,
    enum: FLEET_SORTS,
    description:
      'attention (default: empty, then running dry within 24 h, then the rest; each by emptyAt), emptyAt (soonest first), name, id',
  })
  @ApiQuery({ name: 'limit', required: false, description: '1..1000, default 100' })
  @ApiQuery({ name: 'offset', required: false, description: '0..1000000, default 0' })
  @ApiResponse({ status: 200, description: '{at, total, offset, limit, sort, organizations: [...]}' })
  @ApiResponse({ status: 400, description: 'INVALID_REQUEST (with the field)' })
  @applyAll(COMMON)
  list(@Query() query: Record<string, string>) {
    return this.fleet.fleet(query);
  }

  @Get('pipeline')
  @ApiOperation({
    summary:
      "The pipeline's health: the metering group's lag per topic and partition and the dead-letter topics' sizes (from the lag monitor's last poll, every 5 s), the outbox backlog, the last drift check and the dependencies' health (as /health/ready).",
  })
  @ApiResponse({ status: 200, description: '{at, consumer, deadLetters, outbox, drift, dependencies}' })
  @applyAll(COMMON)
  pipeline() {
    return this.fleet.pipeline();
  }

  @Get('orgs/:orgId/sandboxes')
  @ApiOperation({
    summary:
      'Running sandboxes of an organization: each active, unexpired hold with what it reserved, captured and still holds (sandbox hours), newest first, at most 500.',
  })
  @ApiResponse({ status: 200, description: 'The sandboxes and their holds' })
  @OrgErrors()
  sandboxes(@Param('orgId') orgId: string) {
    return this.fleet.sandboxes(orgId);
  }

  @Get('orgs/:orgId/balances/explain')
  @ApiOperation({
    summary:
      "Explain this balance: per kind, the ledger's sums by entry type; the package entries add up to every package's remainder (balanced), less what is not active now and what holds reserve: the available balance. Overage is in the ledger, never on a package.",
  })
  @ApiResponse({ status: 200, description: 'The sums and the arithmetic' })
  @OrgErrors()
  explain(@Param('orgId') orgId: string) {
    return this.fleet.explain(orgId);
  }
}
