import { Body, Controller, Delete, Headers, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBody, ApiHeader, ApiOperation, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { DEADLINE_HEADER, deadlineFrom } from '@tally/contracts';
import { HotRoutes, ServiceAuthGuard } from '@tally/platform';
import { AdmissionsService } from './admissions.service';
import {
  AdmissionGrantedDto,
  AdmissionReleasedDto,
  AdmissionRequestDto,
  parseAdmissionRequest,
  ReleaseQueryDto,
} from './dto/admission.dto';

@ApiTags('admissions')
@ApiSecurity('service')
@Controller('v1/admissions')
@UseGuards(ServiceAuthGuard)
export class AdmissionsController {
  constructor(
    private readonly admissions: AdmissionsService,
    hotRoutes: HotRoutes,
    guard: ServiceAuthGuard,
  ) {
    // A hot route (libs/platform/src/http/hot-routes.ts): Node's HTTP server calls `admit` below.
    hotRoutes.registerGuarded('POST', '/v1/admissions', guard, (request) =>
      this.admit(request.body, request.headers[DEADLINE_HEADER]),
    );
  }

  @Post()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Admit or deny an action: balance, holds, concurrent sandboxes and request rate, decided atomically.',
  })
  @ApiResponse({ status: 200, type: AdmissionGrantedDto, description: 'Admitted (a provisional hold is taken)' })
  @ApiResponse({ status: 400, description: 'INVALID_REQUEST (with the field)' })
  @ApiResponse({ status: 401, description: 'MISSING_CREDENTIALS' })
  @ApiResponse({ status: 402, description: 'INSUFFICIENT_SANDBOX_HOURS, INSUFFICIENT_AGENT_CREDITS' })
  @ApiResponse({ status: 403, description: 'PLAN_TIER_TOO_LOW' })
  @ApiResponse({
    status: 404,
    description: 'NOT_FOUND (no such organization; for sandbox.extend, no running sandbox with that resource.id)',
  })
  @ApiResponse({ status: 409, description: 'CONFLICT (admission id reused for another request, or released)' })
  @ApiResponse({ status: 429, description: 'RATE_LIMITED, CONCURRENT_SANDBOX_LIMIT (with Retry-After)' })
  @ApiResponse({ status: 503, description: 'DEPENDENCY_UNAVAILABLE (failed closed; says which dependency)' })
  @ApiBody({ type: AdmissionRequestDto })
  @ApiHeader({
    name: DEADLINE_HEADER,
    required: false,
    description:
      "Milliseconds the caller still waits: past them nothing new is held (a retry's recorded answer is still replayed)",
  })
  admit(@Body() body: unknown, @Headers(DEADLINE_HEADER) deadline?: string | string[]): Promise<AdmissionGrantedDto> {
    // `unknown` leaves the global class-validator pipe out; zod checks the body (see the DTO file).
    return this.admissions.admit(parseAdmissionRequest(body), deadlineFrom(deadline));
  }

  @Delete(':admissionId')
  @ApiOperation({
    summary:
      'Release an admission the upstream could not start: its provisional hold is dropped and an admission.voided ' +
      'event tells metering to release the durable hold or reverse the debit (or bill nothing if it comes first).',
  })
  @ApiResponse({ status: 200, type: AdmissionReleasedDto, description: 'Released and voided (idempotent)' })
  @ApiResponse({ status: 400, description: 'INVALID_REQUEST (orgId query parameter)' })
  @ApiResponse({ status: 401, description: 'MISSING_CREDENTIALS' })
  @ApiResponse({ status: 503, description: 'DEPENDENCY_UNAVAILABLE (Redis, or Kafka did not take the void): retry' })
  release(@Param('admissionId') admissionId: string, @Query() query: ReleaseQueryDto): Promise<AdmissionReleasedDto> {
    return this.admissions.release(query.orgId, admissionId);
  }
}
