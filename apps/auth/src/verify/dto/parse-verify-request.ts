import { Errors, IDEMPOTENCY_KEY_PATTERN, namesSandbox } from '@tally/contracts';
import { isIP } from 'node:net';
import { hasControlCharacters, outOfBounds } from './bounded-json';
import { VerifyRequestDto } from './verify-request.dto';

const fail = (field: string, message: string): never => {
  throw Errors.invalidRequest(field, message);
};

function text(value: unknown, field: string, max: number, required: boolean): string | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string') return fail(field, `${field} must be a string`);
  if (required && value.length === 0) return fail(field, `${field} should not be empty`);
  if (value.length > max) return fail(field, `${field} must be shorter than or equal to ${max} characters`);
  if (hasControlCharacters(value)) return fail(field, `${field} must not contain control characters`);
  return value;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * sandbox.create, extend and delete move the sandbox's hold, keyed by the sandbox id its runtime
 * reports carry: without it a create would be held under its admission id and again under the
 * sandbox id (two holds, two concurrency slots).
 */
function requireSandbox(request: VerifyRequestDto): void {
  if (!request.resource)
    fail('resource.id', `${request.action} must name its sandbox: resource {"type": "sandbox", "id": "<sandbox id>"}`);
  else if (request.resource.type !== 'sandbox')
    fail('resource.type', `${request.action} must name a resource of type "sandbox"`);
}

/**
 * The verify body, validated by hand: the same rules as the DTO's decorators (which document it
 * in OpenAPI), at a fraction of class-validator's cost on the hottest route. Unknown fields are
 * dropped; the first failure names its field. `params` travels in the verified event: bounded by
 * PARAMS_BOUNDS (depth, keys and items, serialized size, no control characters).
 */
export function parseVerifyRequest(body: unknown, idempotencyHeader?: string | string[]): VerifyRequestDto {
  if (!isPlainObject(body)) return fail('body', 'The request body must be a JSON object.');
  const request = new VerifyRequestDto();
  request.key = text(body.key, 'key', 200, true)!;
  request.action = text(body.action, 'action', 64, true)!;
  request.orgId = text(body.orgId, 'orgId', 64, true)!;
  if (body.resource !== undefined) {
    if (!isPlainObject(body.resource)) return fail('resource', 'resource must be an object');
    request.resource = {
      type: text(body.resource.type, 'resource.type', 64, true)!,
      id: text(body.resource.id, 'resource.id', 200, true)!,
    };
  }
  if (namesSandbox(request.action)) requireSandbox(request);
  if (body.params !== undefined) {
    if (!isPlainObject(body.params)) return fail('params', 'params must be an object');
    const outside = outOfBounds(body.params, 'params');
    if (outside) return fail(outside.field, outside.reason);
    request.params = body.params;
  }
  if (body.sourceAddress !== undefined) {
    if (typeof body.sourceAddress !== 'string' || isIP(body.sourceAddress) === 0)
      return fail('sourceAddress', 'sourceAddress must be an ip address');
    request.sourceAddress = body.sourceAddress;
  }
  const idempotencyKey = body.idempotencyKey ?? idempotencyHeader;
  if (idempotencyKey !== undefined) {
    if (typeof idempotencyKey !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(idempotencyKey))
      return fail(
        'idempotencyKey',
        'idempotencyKey (or the Idempotency-Key header) must be 1-128 printable ASCII characters',
      );
    request.idempotencyKey = idempotencyKey;
  }
  return request;
}
