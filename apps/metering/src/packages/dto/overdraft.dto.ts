import { ApiProperty } from '@nestjs/swagger';
import { IsString, Matches } from 'class-validator';

/** The most an overdraft may be: the same ceiling as one package's agent credits (docs/EVENTS.md). */
export const OVERDRAFT_CEILING_CREDITS = 1_000_000_000n;

export class SetOverdraftDto {
  @ApiProperty({
    description:
      "How far below zero the organization's agent credits may go when an agent.run is admitted, a decimal " +
      'string (up to 3 decimals), at most 1000000000; "0" (the default) allows no overdraft',
    example: '50',
  })
  @IsString()
  @Matches(/^\d{1,15}(\.\d{1,9})?$/, { message: 'agentCredits must be a non-negative decimal string' })
  agentCredits: string;
}

export class OverdraftView {
  @ApiProperty()
  orgId: string;

  @ApiProperty({ description: 'The overdraft limit in agent credits (decimal string)', example: '50' })
  agentCredits: string;

  @ApiProperty({ description: 'The same in milli-credits (integer string)', example: '50000' })
  agentMilliCredits: string;
}
