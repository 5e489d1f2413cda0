import { Controller, Get, Param, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ServiceAuthGuard } from '@tally/platform';
import { BalancesService, BalanceView } from './balances.service';

@ApiTags('balances')
@ApiSecurity('service')
@Controller('v1/orgs/:orgId/balances')
@UseGuards(ServiceAuthGuard)
export class BalancesController {
  constructor(private readonly balances: BalancesService) {}

  @Get()
  @ApiOperation({ summary: 'Available balances of an organization, as admission reads them.' })
  @ApiResponse({ status: 200, description: 'Balances in decimal strings and integer units.' })
  @ApiResponse({ status: 400, description: 'INVALID_REQUEST (malformed orgId)' })
  @ApiResponse({ status: 401, description: 'MISSING_CREDENTIALS' })
  @ApiResponse({ status: 503, description: 'DEPENDENCY_UNAVAILABLE' })
  read(@Param('orgId') orgId: string): Promise<BalanceView> {
    return this.balances.read(orgId);
  }
}
