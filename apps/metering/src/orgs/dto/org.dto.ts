import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ORG_ID_PATTERN } from '@tally/contracts';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateIf,
} from 'class-validator';

// eslint-disable-next-line no-control-regex
const NO_CONTROL = /^[^\u0000-\u001f\u007f]+$/;
const PLAN = /^[a-z][a-z0-9_-]{0,49}$/;

export class CreateOrgDto {
  @ApiPropertyOptional({ description: 'ORG-<ulid>; generated when omitted', example: 'ORG-01JD0000000000000000000000' })
  @IsOptional()
  @IsString()
  @Matches(ORG_ID_PATTERN, { message: 'id must look like ORG-<ulid>' })
  id?: string;

  @ApiProperty({ description: 'Display name, 1..200 characters', example: 'Acme' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @Matches(NO_CONTROL, { message: 'name must not contain control characters' })
  name: string;

  @ApiPropertyOptional({ description: 'A plan of the catalog (free, pro, team, enterprise)', default: 'free' })
  @IsOptional()
  @IsString()
  @Matches(PLAN, { message: 'plan must be a plan name of the catalog' })
  plan?: string;
}

export class UpdateOrgDto {
  @ApiPropertyOptional({ description: 'New display name' })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @Matches(NO_CONTROL, { message: 'name must not contain control characters' })
  name?: string;

  @ApiPropertyOptional({
    description: "New plan: its tier and concurrent-sandbox limit apply to the org's next admission",
  })
  @IsOptional()
  @IsString()
  @Matches(PLAN, { message: 'plan must be a plan name of the catalog' })
  plan?: string;
}

export class SuspendOrgDto {
  @ApiPropertyOptional({ description: 'Why (kept with the organization)', maxLength: 500 })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  reason?: string;
}

export class OrgView {
  @ApiProperty() id: string;
  @ApiProperty() name: string;
  @ApiProperty() plan: string;
  @ApiProperty({ enum: ['active', 'suspended'] }) status: string;
  @ApiProperty({ nullable: true, type: String }) suspendedReason: string | null;
  @ApiProperty({ description: 'Bumped by every change' }) version: number;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
}

export class AlertThresholdsDto {
  @ApiProperty({
    description:
      'Percent of the active package total consumed at which balance.threshold fires (100: balance.depleted); ' +
      "null: back to metering's ALERT_THRESHOLDS",
    type: [Number],
    nullable: true,
    example: [25, 50, 90, 100],
  })
  @ValidateIf((body: AlertThresholdsDto) => body.thresholds !== null)
  @IsArray({ message: 'thresholds must be an array of integers in 1..100, or null' })
  @ArrayMinSize(1)
  @ArrayMaxSize(10)
  @IsInt({ each: true, message: 'thresholds must be integers in 1..100' })
  @Min(1, { each: true, message: 'thresholds must be integers in 1..100' })
  @Max(100, { each: true, message: 'thresholds must be integers in 1..100' })
  thresholds: number[] | null;
}

export class AlertThresholdsView {
  @ApiProperty({ type: [Number], description: 'Ascending' }) thresholds: number[];
  @ApiProperty({ enum: ['organization', 'default'], description: "default: metering's ALERT_THRESHOLDS" })
  source: 'organization' | 'default';
}
