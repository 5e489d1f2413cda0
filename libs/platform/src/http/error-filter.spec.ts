import {
  BadRequestException,
  HttpException,
  NotFoundException,
  PayloadTooLargeException,
  ServiceUnavailableException,
  UnauthorizedException,
} from '@nestjs/common';
import { ErrorCode, ErrorStatus, TallyError } from '@tally/contracts';
import { mapError } from './error-filter';

describe('mapError', () => {
  describe('TallyError', () => {
    it.each(Object.entries(ErrorStatus) as [ErrorCode, number][])('%s maps to %i', (code, status) => {
      const mapped = mapError(new TallyError(code, `a ${code} happened`));
      expect(mapped.status).toBe(status);
      expect(mapped.body).toEqual({ code, message: `a ${code} happened` });
      expect(mapped.retryAfterSeconds).toBeUndefined();
    });

    it('spells out the statuses of docs/ARCHITECTURE.md §3', () => {
      expect(mapError(new TallyError('INSUFFICIENT_SANDBOX_HOURS', 'x')).status).toBe(402);
      expect(mapError(new TallyError('ROLE_FORBIDDEN', 'x')).status).toBe(403);
      expect(mapError(new TallyError('API_KEY_REVOKED', 'x')).status).toBe(401);
      expect(mapError(new TallyError('CONCURRENT_SANDBOX_LIMIT', 'x')).status).toBe(429);
      expect(mapError(new TallyError('DEPENDENCY_UNAVAILABLE', 'x')).status).toBe(503);
    });

    it('passes retryAfterSeconds through', () => {
      const mapped = mapError(new TallyError('RATE_LIMITED', 'slow down', { retryAfterSeconds: 7 }));
      expect(mapped).toEqual({
        status: 429,
        body: { code: 'RATE_LIMITED', message: 'slow down' },
        retryAfterSeconds: 7,
      });
    });

    it('passes the field into the body', () => {
      const mapped = mapError(new TallyError('INVALID_REQUEST', 'bad amount', { field: 'sandboxHours' }));
      expect(mapped.body).toEqual({ code: 'INVALID_REQUEST', message: 'bad amount', field: 'sandboxHours' });
    });
  });

  describe('fastify errors', () => {
    it('maps a body over the size limit to 413 PAYLOAD_TOO_LARGE', () => {
      const mapped = mapError({
        statusCode: 413,
        code: 'FST_ERR_CTP_BODY_TOO_LARGE',
        message: 'Request body is too large',
      });
      expect(mapped.status).toBe(413);
      expect(mapped.body.code).toBe('PAYLOAD_TOO_LARGE');
      expect(mapped.body.message).toBe('The request body is larger than the 64 KiB limit.');
    });

    it('maps invalid JSON to 400 INVALID_REQUEST, without quoting the request back', () => {
      const mapped = mapError({ statusCode: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY', message: 'Unexpected token' });
      expect(mapped.status).toBe(400);
      expect(mapped.body.code).toBe('INVALID_REQUEST');
      expect(mapped.body.message).toBe('The request body is not valid JSON.');
    });

    it('maps an empty JSON body to 400 INVALID_REQUEST', () => {
      const mapped = mapError({ statusCode: 400, code: 'FST_ERR_CTP_EMPTY_JSON_BODY', message: 'x' });
      expect(mapped).toEqual({
        status: 400,
        body: { code: 'INVALID_REQUEST', message: 'The request body is empty but declared as JSON.' },
      });
    });

    it('keeps the message of a validation error', () => {
      const mapped = mapError({ statusCode: 400, code: 'FST_ERR_VALIDATION', message: 'body/name must be string' });
      expect(mapped).toEqual({ status: 400, body: { code: 'INVALID_REQUEST', message: 'body/name must be string' } });
    });

    it('maps an unsupported media type (415) to 400 INVALID_REQUEST', () => {
      const mapped = mapError({ statusCode: 415 });
      expect(mapped.status).toBe(400);
      expect(mapped.body.code).toBe('INVALID_REQUEST');
    });

    it('maps 404 and 429 to their codes', () => {
      expect(mapError({ statusCode: 404, code: 'FST_ERR_NOT_FOUND', message: 'Route not found' })).toEqual({
        status: 404,
        body: { code: 'NOT_FOUND', message: 'Route not found' },
      });
      expect(mapError({ statusCode: 429, message: 'Too many' }).status).toBe(429);
      expect(mapError({ statusCode: 429, message: 'Too many' }).body.code).toBe('RATE_LIMITED');
    });

    it('treats a 5xx statusCode as an internal error', () => {
      expect(mapError({ statusCode: 500, message: 'db password is hunter2' })).toEqual({
        status: 500,
        body: { code: 'INTERNAL_ERROR', message: 'An unexpected error occurred.' },
      });
    });
  });

  describe('anything else', () => {
    it.each([new Error('secret detail'), new TypeError('x is undefined'), 'a string', 42, null, undefined, {}])(
      'maps %p to 500 INTERNAL_ERROR without leaking it',
      (thrown) => {
        const mapped = mapError(thrown);
        expect(mapped).toEqual({
          status: 500,
          body: { code: 'INTERNAL_ERROR', message: 'An unexpected error occurred.' },
        });
      },
    );
  });

  describe('Nest HttpException', () => {
    it('maps NotFoundException to 404 NOT_FOUND', () => {
      const mapped = mapError(new NotFoundException());
      expect(mapped.status).toBe(404);
      expect(mapped.body.code).toBe('NOT_FOUND');
    });

    it('maps other known statuses to their codes', () => {
      expect(mapError(new BadRequestException('nope'))).toEqual({
        status: 400,
        body: { code: 'INVALID_REQUEST', message: 'nope' },
      });
      expect(mapError(new UnauthorizedException()).body.code).toBe('MISSING_CREDENTIALS');
      expect(mapError(new PayloadTooLargeException()).status).toBe(413);
      expect(mapError(new ServiceUnavailableException()).body.code).toBe('DEPENDENCY_UNAVAILABLE');
      expect(mapError(new ServiceUnavailableException()).status).toBe(503);
    });

    it('keeps an unmapped 5xx status as INTERNAL_ERROR', () => {
      expect(mapError(new HttpException('bad gateway', 502))).toEqual({
        status: 502,
        body: { code: 'INTERNAL_ERROR', message: 'bad gateway' },
      });
    });
  });
});
