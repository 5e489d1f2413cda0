import { Body, Controller, Delete, Get, HttpCode, Optional, Param, Post, Put } from '@nestjs/common';
import { ApiOperation, ApiProperty, ApiPropertyOptional, ApiResponse, ApiTags } from '@nestjs/swagger';
import { RequireAction, Verified, VerifiedAction } from '@tally/api-key-guard';
import { UsageReporter } from '@tally/usage-reporter';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { createHash } from 'node:crypto';
import { ulid } from 'ulid';

export class CreateSandboxDto {
  @ApiPropertyOptional({ example: 'small', description: 'A shape of the catalog (default small)' })
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
  @ApiPropertyOptional({ description: 'Id of the usage event reported to Tally (when usage reporting is on)' })
  usageEventId?: string;
}

const DEFAULT_SHAPE = 'small';

/** A new sandbox's id: derived from the caller's Idempotency-Key when it sends one, fresh otherwise. */
const sandboxIdFor = (idempotencyKey: string | undefined): string =>
  idempotencyKey ? `SBX-${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 32)}` : `SBX-${ulid()}`;

const answer = (verified: VerifiedAction, extra: Partial<UpstreamAnswerDto> = {}): UpstreamAnswerDto => ({
  orgId: verified.orgId,
  keyId: verified.keyId,
  action: verified.action,
  eventId: verified.eventId,
  ...extra,
});

/**
 * A stand-in for the platform's sandbox API: each route declares the action it needs and the
 * guard asks auth; what "ran" is reported with the UsageReporter (when KAFKA_BROKERS is set).
 * Nothing here runs a sandbox; it shows what an upstream writes.
 */
@ApiTags('sandboxes (example upstream)')
@Controller('v1/orgs/:orgId')
export class SandboxesController {
  /** When each sandbox started and its shape (an example: a real runtime knows its sandboxes). */
  private readonly started = new Map<string, { at: number; shape: string }>();

  constructor(@Optional() private readonly usage?: UsageReporter) {}

  @Post('sandboxes')
  @HttpCode(201)
  @RequireAction('sandbox.create', {
    // Minted before auth is asked (metering holds the sandbox under the id its reports carry), never
    // taken from the caller: a retry with the same Idempotency-Key names the same sandbox.
    resource: ({ idempotencyKey }) => ({ type: 'sandbox', id: sandboxIdFor(idempotencyKey) }),
    params: ({ body }) => {
      const { shape, maxLifeSeconds } = (body ?? {}) as CreateSandboxDto;
      return { shape: shape ?? DEFAULT_SHAPE, maxLifeSeconds: maxLifeSeconds ?? 3600 };
    },
  })
  @ApiOperation({ summary: 'Create a sandbox (metered: sandbox.create)' })
  @ApiResponse({ status: 201, type: UpstreamAnswerDto })
  create(@Verified() verified: VerifiedAction, @Body() body: CreateSandboxDto): UpstreamAnswerDto {
    const sandboxId = verified.resource!.id;
    const shape = body?.shape ?? DEFAULT_SHAPE;
    this.started.set(sandboxId, { at: Date.now(), shape });
    const reported = this.usage?.sandboxStarted({ orgId: verified.orgId, sandboxId, shape });
    return answer(verified, { sandboxId, usageEventId: reported?.id });
  }

  @Delete('sandboxes/:sandboxId')
  @RequireAction('sandbox.delete', { resource: ({ params }) => ({ type: 'sandbox', id: params.sandboxId }) })
  @ApiOperation({ summary: 'Delete a sandbox (sandbox.delete): its last usage report' })
  @ApiResponse({ status: 200, type: UpstreamAnswerDto })
  remove(@Verified() verified: VerifiedAction, @Param('sandboxId') sandboxId: string): UpstreamAnswerDto {
    const started = this.started.get(sandboxId);
    this.started.delete(sandboxId);
    const reported =
      started &&
      this.usage?.sandboxStopped({
        orgId: verified.orgId,
        sandboxId,
        shape: started.shape,
        runtimeMs: Date.now() - started.at,
      });
    return answer(verified, { sandboxId, usageEventId: reported ? reported.id : undefined });
  }

  @Post('agent-runs')
  @HttpCode(201)
  @RequireAction('agent.run')
  @ApiOperation({ summary: 'Run an agent step (agent.run): reports the credits it consumed' })
  @ApiResponse({ status: 201, type: UpstreamAnswerDto })
  runAgent(@Verified() verified: VerifiedAction): UpstreamAnswerDto {
    const reported = this.usage?.agentConsumed({
      orgId: verified.orgId,
      runId: `run-${verified.eventId}`,
      step: 1,
      milliCredits: 1_000,
      kind: 'inference',
    });
    return answer(verified, { usageEventId: reported?.id });
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
