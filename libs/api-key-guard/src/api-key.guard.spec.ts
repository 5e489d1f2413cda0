import type { FastifyRequest } from 'fastify';
import { presentedApiKey } from './api-key.guard';

const request = (headers: Record<string, string>) => ({ headers }) as unknown as FastifyRequest;

describe('presentedApiKey', () => {
  it('reads x-api-key first, then a Bearer token', () => {
    expect(presentedApiKey(request({ 'x-api-key': ' lysk-a ' }))).toBe('lysk-a');
    expect(presentedApiKey(request({ authorization: 'Bearer lysk-b' }))).toBe('lysk-b');
    expect(presentedApiKey(request({ 'x-api-key': 'lysk-a', authorization: 'Bearer lysk-b' }))).toBe('lysk-a');
    expect(presentedApiKey(request({ authorization: 'bearer   lysk-c' }))).toBe('lysk-c');
  });

  it('finds nothing in other schemes or empty headers', () => {
    expect(presentedApiKey(request({}))).toBeUndefined();
    expect(presentedApiKey(request({ 'x-api-key': '  ' }))).toBeUndefined();
    expect(presentedApiKey(request({ authorization: 'Basic dXNlcjpwYXNz' }))).toBeUndefined();
    expect(presentedApiKey(request({ authorization: 'Bearer a b' }))).toBeUndefined();
  });
});
