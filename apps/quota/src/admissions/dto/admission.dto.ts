import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsNotEmpty, IsObject, IsOptional, IsString, Matches, MaxLength } from 'class-validator';

export class AdmissionRequestDto {
  @ApiProperty({ example: 'ORG-01JC0000000000000000000000' })
  @IsString()
  @Matches(/^ORG-[0-9A-HJKMNP-TV-Z]{26}$/, { message: 'orgId must look like ORG-<ulid>' })
  orgId: string;

  @ApiProperty({ description: 'The API key (its public id) the request came with', example: '0h4xk2m9' })
  @IsString()
  @Matches(/^[\w.-]{1,64}$/, { message: 'keyId must be 1-64 letters, digits, _ . or -' })
  keyId: string;

  @ApiProperty({ description: 'An action of the catalog (DESIGN §1)', example: 'sandbox.create' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(64)
  action: string;

  @ApiPropertyOptional({
    description:
      'sandbox.create: {shape, maxLifeSeconds}; sandbox.extend: {shape, extendSeconds}. Missing shape: the default shape.',
    type: 'object',
    additionalProperties: true,
    example: { shape: 'small', maxLifeSeconds: 3600 },
  })
  @IsOptional()
  @IsObject()
  params?: Record<string, unknown>;

  @ApiProperty({
    description: 'Idempotency key: the same id answers the same and holds once. Also the id of the hold.',
    example: '01JC9ZK3V2Q8X7M4N5P6R7S8T9',
  })
  @IsString()
  @Matches(/^[\w.-]{1,128}$/, { message: 'admissionId must be 1-128 letters, digits, _ . or -' })
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
}

export class ReleaseQueryDto {
  @ApiProperty({ description: 'Organization of the admission (holds are kept per organization)' })
  @IsString()
  @Matches(/^ORG-[0-9A-HJKMNP-TV-Z]{26}$/, { message: 'orgId must look like ORG-<ulid>' })
  orgId: string;
}
