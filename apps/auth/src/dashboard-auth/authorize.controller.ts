import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProperty, ApiResponse, ApiTags } from '@nestjs/swagger';
import { assertAction, Errors } from '@tally/contracts';
import { IsNotEmpty, IsString, MaxLength } from 'class-validator';
import { ApiErrors, BODY_ERRORS } from '../http/api-errors.decorator';
import { decide } from '../permissions/permission-matrix';
import { CurrentUser, DashboardUserGuard } from './dashboard-user.guard';
import type { DashboardUser } from './jwt-verifier';

export class AuthorizeRequestDto {
  @ApiProperty({ example: 'billing.read' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(64)
  action: string;

  @ApiProperty({ example: 'ORG-01JABCDEFGHJKMNPQRSTVWXYZ0' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(64)
  orgId: string;
}

export class AuthorizeAllowedDto {
  @ApiProperty({ example: true })
  allowed: true;
  @ApiProperty()
  userId: string;
  @ApiProperty()
  orgId: string;
  @ApiProperty({ enum: ['owner', 'admin', 'member'] })
  role: string;
  @ApiProperty()
  action: string;
}

/**
 * The dashboard's counterpart of /v1/verify: may this logged-in user perform this action in
 * this organization? Members may do every resource action, administrative ones need the role
 * the catalog names; an org the user does not belong to is NOT_FOUND.
 */
@ApiTags('dashboard')
@ApiBearerAuth('dashboard')
@Controller('v1/authorize')
@UseGuards(DashboardUserGuard)
export class AuthorizeController {
  @Post()
  @HttpCode(200)
  @ApiOperation({ summary: 'May this dashboard user perform this action in this organization?' })
  @ApiResponse({ status: 200, type: AuthorizeAllowedDto })
  @ApiErrors({
    ...BODY_ERRORS,
    400: 'INVALID_REQUEST: wrong types or an unknown action',
    401: 'MISSING_CREDENTIALS: no dashboard JWT, or an invalid/expired one',
    403: 'ROLE_FORBIDDEN (role too low) or ACTION_NOT_ALLOWED_FOR_API_KEY (an API key was presented)',
    404: 'NOT_FOUND: the user is not a member of this organization',
    503: 'DEPENDENCY_UNAVAILABLE: dashboard logins not configured (fail closed)',
  })
  authorize(@CurrentUser() user: DashboardUser, @Body() body: AuthorizeRequestDto): AuthorizeAllowedDto {
    assertAction(body.action);
    const role = user.memberships.get(body.orgId);
    if (!role) throw Errors.orgNotFound();
    const decision = decide({ kind: 'user', role }, body.action);
    if (!decision.allowed) throw Errors.decided(decision.code, decision.reason);
    return { allowed: true, userId: user.userId, orgId: body.orgId, role, action: body.action };
  }
}
