import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Errors, ORG_ID_PATTERN, ORG_ID_RULE } from '@tally/contracts';
import { IsString, Matches } from 'class-validator';
import { z } from 'zod';

const ADMISSION_ID = /^[\w.-]{1,128}$/;

/**
 * The request body, checked with zod rather than the class-validator pipe, which is too slow for
 * the gateway's hot path. AdmissionRequestDto below documents the same shape for OpenAPI.
 */
export const admissionRequestSchema = z.object({
  orgId: z.string().regex(ORG_ID_PATTERN, `orgId ${ORG_ID_RULE}`),
  keyId: z.string().regex(/^[\w.-]{1,64}$/, 'keyId must be 1-64 letters, digits, _ . or -'),
  action: z.string().min(1, 'action is required').max(64, 'action is too long'),
  resource: z
    .object({
      type: z.string().max(64, 'resource.type is too long'),
      id: z.string().min(1, 'resource.id is required').max(200, 'resource.id is too long'),
    })
    .nullable()
    .optional(),
  params: z.record(z.string(), z.unknown()).optional(),
  admissionId: z.string().regex(ADMISSION_ID, 'admissionId must be 1-128 letters, digits, _ . or -'),
});

export type AdmissionRequest = z.infer<typeof admissionRequestSchema>;

export function parseAdmissionRequest(body: unknown): AdmissionRequest {
  const parsed = admissionRequestSchema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue.path.join('.') || 'body';
  const message = issue.code === 'invalid_type' ? `${field} is missing or not of the right type` : issue.message;
  throw Errors.invalidRequest(field, message);
}

export const isAdmissionId = (value: string): boolean => ADMISSION_ID.test(value);

export class AdmissionRequestDto {
  @ApiProperty({ example: 'ORG-01JC0000000000000000000000' })
  orgId: string;

  @ApiProperty({ description: 'The API key (its public id) the request came with', example: '0h4xk2m9' })
  keyId: string;

  @ApiProperty({ description: 'An action of the catalog (docs/ARCHITECTURE.md §1)', example: 'sandbox.create' })
  action: string;

  @ApiPropertyOptional({
    description:
      'The resource addressed: {type: "sandbox", id}. sandbox.extend must name a running sandbox (404 otherwise): ' +
      "it is reserved at that sandbox's own price, whatever params.shape says. sandbox.create names the sandbox it makes.",
    example: { type: 'sandbox', id: 'SBX-01J...' },
    nullable: true,
  })
  resource?: { type: string; id: string } | null;

  @ApiPropertyOptional({
    description: 'sandbox.create: {shape, maxLifeSeconds}; sandbox.extend: {extendSeconds} (a shape is ignored).',
    type: 'object',
    additionalProperties: true,
    example: { shape: 'small', maxLifeSeconds: 3600 },
  })
  params?: Record<string, unknown>;

  @ApiProperty({
    description: 'Idempotency key: the same id answers the same and holds once. Also the id of the hold.',
    example: '01JC9ZK3V2Q8X7M4N5P6R7S8T9',
  })
  admissionId: string;
}

export class AdmissionGrantedDto {
  @ApiProperty({ example: true })
  admitted: true;

  @ApiProperty()
  admissionId: string;

  @ApiProperty()
  orgId: string;

  @ApiProperty()
  action: string;

  @ApiProperty({ description: 'Sandbox-ms held provisionally (integer string, 0 when nothing is held)' })
  reservedMs: string;

  @ApiProperty({ description: 'The same, in decimal sandbox hours', example: '1' })
  reservedHours: string;

  @ApiProperty({
    description:
      'Milli-credits held provisionally for agent.run (its fixed cost, until metering debits it; 0 for other actions)',
  })
  reservedAgentMc: string;

  @ApiProperty({ description: 'When the provisional hold releases itself unless made durable', nullable: true })
  holdExpiresAt: string | null;

  @ApiProperty({ description: 'True when this answers a retry of an admission already decided' })
  replay: boolean;

  @ApiPropertyOptional({
    description: 'Present when a dependency was down and the action is configured to fail open',
  })
  degraded?: string;
}

export class AdmissionReleasedDto {
  @ApiProperty()
  admissionId: string;

  @ApiProperty()
  orgId: string;

  @ApiProperty({ description: 'Sandbox-ms released (0 when the hold had already expired, settled or been released)' })
  releasedMs: string;

  @ApiProperty({ description: "Milli-credits released (an agent run's provisional hold; 0 otherwise)" })
  releasedAgentMc: string;
}

export class ReleaseQueryDto {
  @ApiProperty({ description: 'Organization of the admission (holds are kept per organization)' })
  @IsString()
  @Matches(ORG_ID_PATTERN, { message: `orgId ${ORG_ID_RULE}` })
  orgId: string;
}
