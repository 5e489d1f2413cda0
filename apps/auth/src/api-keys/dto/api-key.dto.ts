import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';

export class CreateApiKeyDto {
  @ApiProperty({ description: 'A name to recognise the key by', example: 'CI pipeline', maxLength: 100 })
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  name: string;
}

export class ListApiKeysQueryDto {
  @ApiPropertyOptional({
    enum: ['mine', 'org'],
    default: 'mine',
    description: '`mine`: keys the caller created; `org`: every key of the org (owners and admins)',
  })
  @IsOptional()
  @IsIn(['mine', 'org'])
  scope?: 'mine' | 'org';
}

export class ApiKeySummaryDto {
  @ApiProperty({ description: 'Public lookup id (part of the key, not a secret)' })
  id: string;

  @ApiProperty()
  name: string;

  @ApiProperty({ example: 'lysk-0h4xk2ab', description: 'Enough to recognise a key, useless to use it' })
  displayPrefix: string;

  @ApiProperty({ description: 'User id of the creator' })
  createdBy: string;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  lastUsedAt: string | null;
}

export class CreatedApiKeyDto extends ApiKeySummaryDto {
  @ApiProperty({ description: 'The full key. Shown this once; Tally keeps only an HMAC of its secret.' })
  key: string;
}

export class ApiKeyListDto {
  @ApiProperty({ type: [ApiKeySummaryDto] })
  items: ApiKeySummaryDto[];
}
