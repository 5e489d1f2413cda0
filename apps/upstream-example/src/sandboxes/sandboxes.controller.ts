import { Body, Controller, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiOperation, ApiProperty, ApiPropertyOptional, ApiResponse, ApiTags } from '@nestjs/swagger';
import { RequireAction, Verified, VerifiedAction } from '@tally/api-key-guard';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { ulid } from 'ulid';

export class CreateSandboxDto {
  @ApiPropertyOptional({ example: 'standard' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  shape?: string;

  @ApiPropertyOptional({ example: 3600 })
  @IsOptional()
  @IsInt()
  @Min(60)
  @Max(86_400)
  maxLifeSeconds?: number;
}

export class UpstreamAnswerDto {
  @ApiProperty()
  orgId: string;
  @ApiProperty()
  keyId: string;
  @ApiProperty()
  action: string;
  @ApiProperty({ description: 'Id of the verified event auth published' })
  eventId: string;
  @ApiPropertyOptional()
  sandboxId?: string;
}

const answer = (verified: VerifiedAction, extra: Partial<UpstreamAnswerDto> = {}): UpstreamAnswerDto => ({
  orgId: verified.orgId,
  keyId: verified.keyId,
  action: verified.action,
  eventId: verified.eventId,
  ...extra,
});

/**
 * A stand-in for the platform's sandbox API: each route declares the action it needs and the
 * guard asks auth. Nothing here runs a sandbox; it shows what an upstream writes.
 */
@ApiTags('sandboxes (example upstream)')
@Controller('v1/orgs/:orgId')
export class SandboxesController {
  @Post('sandboxes')
  @HttpCode(201)
  @RequireAction('sandbox.create', {
    params: ({ body }) => {
      const { shape, maxLifeSeconds } = (body ?? {}) as CreateSandboxDto;
      return { shape: shape ?? 'standard', maxLifeSeconds: maxLifeSeconds ?? 3600 };
    },
  })
  @ApiOperation({ summary: 'Create a sandbox (metered: sandbox.create)' })
  @ApiResponse({ status: 201, type: UpstreamAnswerDto })
  create(@Verified() verified: VerifiedAction, @Body() _body: CreateSandboxDto): UpstreamAnswerDto {
    return answer(verified, { sandboxId: `SBX-${ulid()}` });
  }

  @Get('sandboxes')
  @RequireAction('sandbox.list')
  @ApiOperation({ summary: 'List sandboxes (sandbox.list)' })
  @ApiResponse({ status: 200, type: UpstreamAnswerDto })
  list(@Verified() verified: VerifiedAction): UpstreamAnswerDto {
    return answer(verified);
  }

  @Get('sandboxes/:sandboxId')
  @RequireAction('sandbox.get', { resource: ({ params }) => ({ type: 'sandbox', id: params.sandboxId }) })
  @ApiOperation({ summary: 'Get a sandbox (sandbox.get)' })
  @ApiResponse({ status: 200, type: UpstreamAnswerDto })
  get(@Verified() verified: VerifiedAction, @Param('sandboxId') sandboxId: string): UpstreamAnswerDto {
    return answer(verified, { sandboxId });
  }

  @Put('settings')
  @RequireAction('org.settings.update')
  @ApiOperation({ summary: 'Update organization settings (administrative: always refused to API keys)' })
  @ApiResponse({ status: 200, type: UpstreamAnswerDto })
  updateSettings(@Verified() verified: VerifiedAction): UpstreamAnswerDto {
    return answer(verified);
  }
}
