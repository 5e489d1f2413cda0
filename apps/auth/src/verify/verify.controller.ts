import { Body, Controller, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ServiceAuthGuard } from '@tally/platform';
import type { FastifyRequest } from 'fastify';
import { ErrorBodyDto, VerifyAllowedDto, VerifyRequestDto } from './dto/verify-request.dto';
import { VerifyService } from './verify.service';

@ApiTags('verify')
@ApiSecurity('service')
@Controller('v1/verify')
@UseGuards(ServiceAuthGuard)
export class VerifyController {
  constructor(private readonly verifier: VerifyService) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({ summary: 'May this API key perform this action in this organization?' })
  @ApiBody({ type: VerifyRequestDto })
  @ApiResponse({ status: 200, type: VerifyAllowedDto, description: 'Allowed; the verified event is published.' })
  @ApiResponse({ status: 400, type: ErrorBodyDto, description: 'INVALID_REQUEST (unknown action, wrong types)' })
  @ApiResponse({
    status: 401,
    type: ErrorBodyDto,
    description: 'INVALID_API_KEY, API_KEY_REVOKED, MISSING_CREDENTIALS',
  })
  @ApiResponse({ status: 403, type: ErrorBodyDto, description: 'ACTION_NOT_ALLOWED_FOR_API_KEY' })
  @ApiResponse({ status: 404, type: ErrorBodyDto, description: 'NOT_FOUND (also another organization)' })
  @ApiResponse({ status: 413, type: ErrorBodyDto, description: 'PAYLOAD_TOO_LARGE' })
  @ApiResponse({ status: 503, type: ErrorBodyDto, description: 'DEPENDENCY_UNAVAILABLE' })
  verify(@Body() body: VerifyRequestDto, @Req() request: FastifyRequest): Promise<VerifyAllowedDto> {
    return this.verifier.verify(body, request.ip);
  }
}
