import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIP, IsNotEmpty, IsObject, IsOptional, IsString, Matches, MaxLength, ValidateNested } from 'class-validator';

export class ResourceRefDto {
  @ApiProperty({ example: 'sandbox' })
  @IsString()
  @MaxLength(64)
  type: string;

  @ApiProperty({ example: 'SBX-01J...' })
  @IsString()
  @MaxLength(200)
  id: string;
}

export class VerifyRequestDto {
  @ApiProperty({ description: 'The API key the end user presented', example: 'lysk-...' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  key: string;

  @ApiProperty({ description: 'An action of the catalog (docs/ARCHITECTURE.md §1)', example: 'sandbox.list' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(64)
  action: string;

  @ApiProperty({ description: 'The organization the request addresses', example: 'ORG-01J...' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(64)
  orgId: string;

  @ApiPropertyOptional({
    type: ResourceRefDto,
    description:
      'The resource the action addresses. Required for sandbox.create, sandbox.extend and sandbox.delete: ' +
      '{type: "sandbox", id: <the sandbox id its runtime reports carry>} (400 naming resource.id otherwise).',
  })
  @IsOptional()
  @ValidateNested()
  @Type(() => ResourceRefDto)
  resource?: ResourceRefDto;

  @ApiPropertyOptional({
    description: 'Action parameters, e.g. {shape, maxLifeSeconds}',
    type: 'object',
    additionalProperties: true,
  })
  @IsOptional()
  @IsObject()
  params?: Record<string, unknown>;

  @ApiPropertyOptional({
    description: "The end user's address as the gateway saw it; failed verifications are throttled per address",
    example: '203.0.113.7',
  })
  @IsOptional()
  @IsIP()
  sourceAddress?: string;

  @ApiPropertyOptional({
    description:
      "The gateway's idempotency key for this request (or the Idempotency-Key header; the body wins). A retry with " +
      'the same key replays the first decision: the same admission and the same verified event, never a second hold ' +
      'or charge. 1-128 printable ASCII characters.',
    example: '6f1c1a52-3d4e-4c7a-9a55-0b4f0d2c9e11',
  })
  @IsOptional()
  @Matches(/^[\x21-\x7e]{1,128}$/)
  idempotencyKey?: string;
}

export class VerifyAllowedDto {
  @ApiProperty({ example: true })
  allowed: true;

  @ApiProperty()
  orgId: string;

  @ApiProperty()
  keyId: string;

  @ApiProperty()
  userId: string;

  @ApiProperty()
  action: string;

  @ApiProperty({ description: 'Id of the auth.action.verified.v1 event' })
  eventId: string;

  @ApiProperty({
    description:
      'The admission id of a metered action (derived from the org and the idempotency key when one was sent; null when not metered)',
    nullable: true,
    type: String,
  })
  admissionId: string | null;
}

export class ErrorBodyDto {
  @ApiProperty({ example: 'INVALID_API_KEY' })
  code: string;

  @ApiProperty({ example: 'The API key is not valid.' })
  message: string;

  @ApiProperty()
  requestId: string;

  @ApiPropertyOptional({ description: 'For INVALID_REQUEST: the field that failed' })
  field?: string;
}
