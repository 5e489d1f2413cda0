import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsISO8601, IsNotEmpty, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';

const DECIMAL = /^\d{1,15}(\.\d{1,9})?$/;

/** The most one package grants (docs/EVENTS.md): every sum of balances stays exact and within int8. */
export const GRANT_CEILINGS = { sandboxHours: 1_000_000n, agentCredits: 1_000_000_000n } as const;

export class GrantPackageDto {
  @ApiProperty({ description: 'Sandbox hours granted, a decimal string, at most 1000000', example: '10.5' })
  @IsString()
  @Matches(DECIMAL, { message: 'sandboxHours must be a non-negative decimal string' })
  sandboxHours: string;

  @ApiProperty({
    description: 'Agent credits granted, a decimal string (up to 3 decimals), at most 1000000000',
    example: '100',
  })
  @IsString()
  @Matches(DECIMAL, { message: 'agentCredits must be a non-negative decimal string' })
  agentCredits: string;

  @ApiPropertyOptional({ description: 'Higher is consumed first', default: 0 })
  @IsOptional()
  @IsInt()
  @Min(-1000)
  @Max(1000)
  priority?: number;

  @ApiPropertyOptional({ description: 'Active from (inclusive), ISO 8601; null = at once', nullable: true })
  @IsOptional()
  @IsISO8601({ strict: true })
  notBefore?: string | null;

  @ApiPropertyOptional({ description: 'Active until (exclusive), ISO 8601; null = never expires', nullable: true })
  @IsOptional()
  @IsISO8601({ strict: true })
  notAfter?: string | null;

  @ApiProperty({ description: 'The granting system, e.g. billing, promo, ops', example: 'billing' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  source: string;

  @ApiProperty({ description: "The granting system's id: the same externalId twice creates one package" })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  externalId: string;
}

export class PackageView {
  @ApiProperty()
  id: string;

  @ApiProperty()
  orgId: string;

  @ApiProperty({ example: '10' })
  sandboxHours: string;

  @ApiProperty({ example: '7.25' })
  sandboxHoursRemaining: string;

  @ApiProperty({ description: 'Integer sandbox-milliseconds remaining' })
  sandboxMsRemaining: string;

  @ApiProperty({ example: '100' })
  agentCredits: string;

  @ApiProperty({ example: '99' })
  agentCreditsRemaining: string;

  @ApiProperty({ description: 'Integer milli-credits remaining' })
  agentMilliCreditsRemaining: string;

  @ApiProperty()
  priority: number;

  @ApiProperty({ nullable: true, type: String })
  notBefore: string | null;

  @ApiProperty({ nullable: true, type: String })
  notAfter: string | null;

  @ApiProperty()
  grantedAt: string;

  @ApiProperty()
  source: string;

  @ApiProperty()
  externalId: string;

  @ApiProperty({ description: 'Whether consumption may draw from it now' })
  active: boolean;

  @ApiProperty({ description: 'False when this externalId had already been granted (nothing new was created)' })
  created?: boolean;
}
