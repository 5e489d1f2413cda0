import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, IsUrl, MaxLength, MinLength } from 'class-validator';

export class RegisterWebhookDto {
  @ApiProperty({ description: 'Where alerts are POSTed (http or https)', example: 'https://example.com/hooks/tally' })
  @IsUrl(
    { protocols: ['http', 'https'], require_tld: false, require_protocol: true },
    { message: 'url must be an http(s) URL' },
  )
  @MaxLength(2_000)
  url: string;

  @ApiPropertyOptional({ description: 'Signing secret (generated when omitted; returned once)', minLength: 16 })
  @IsOptional()
  @IsString()
  @MinLength(16)
  @MaxLength(200)
  secret?: string;
}

export class UpdateWebhookDto {
  @ApiPropertyOptional({ description: 'New target URL (http or https)' })
  @IsOptional()
  @IsUrl(
    { protocols: ['http', 'https'], require_tld: false, require_protocol: true },
    { message: 'url must be an http(s) URL' },
  )
  @MaxLength(2_000)
  url?: string;

  @ApiPropertyOptional({
    description: 'New signing secret (min 16 characters), or "rotate" for a generated one (returned once)',
    minLength: 16,
  })
  @IsOptional()
  @IsString()
  @MinLength(6)
  @MaxLength(200)
  secret?: string;

  @ApiPropertyOptional({
    enum: ['active'],
    description: 'active: revive a dead endpoint (its failure count reset; abandoned deliveries stay abandoned)',
  })
  @IsOptional()
  @IsIn(['active'], { message: "status may only be set to 'active'" })
  status?: 'active';
}

export class WebhookEndpointView {
  @ApiProperty() id: string;
  @ApiProperty({ nullable: true, description: 'null: an ops endpoint receiving every organization' })
  orgId: string | null;
  @ApiProperty() url: string;
  @ApiProperty({ enum: ['active', 'dead'] }) status: string;
  @ApiProperty() consecutiveFailures: number;
  @ApiPropertyOptional({ description: 'Only in the registration answer' }) secret?: string;
  @ApiPropertyOptional({ description: 'Deliveries by status' }) deliveries?: Record<string, number>;
}
