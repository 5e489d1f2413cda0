import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { ErrorBodyDto } from '../verify/dto/verify-request.dto';

/** Documents the error statuses of an endpoint, each with the one error body of docs/ARCHITECTURE.md §3. */
export const ApiErrors = (errors: Record<number, string>) =>
  applyDecorators(
    ...Object.entries(errors).map(([status, description]) =>
      ApiResponse({
        status: Number(status),
        type: ErrorBodyDto,
        description,
        ...(Number(status) === 429
          ? { headers: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' } } } }
          : {}),
      }),
    ),
  );

/** Statuses every endpoint with a JSON body may answer. */
export const BODY_ERRORS = {
  400: 'INVALID_REQUEST: not JSON, wrong types (the body names the field)',
  413: 'PAYLOAD_TOO_LARGE: body over 64 KiB',
  500: 'INTERNAL_ERROR: unexpected; never for a malformed request',
};
