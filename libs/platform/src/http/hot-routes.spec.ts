import { TallyError } from '@tally/contracts';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Histogram, Registry } from 'prom-client';
import { BODY_LIMIT_BYTES } from './body';
import { HotRequest, HotRoutes } from './hot-routes';

/** HotRoutes on a real Node HTTP server (in process): the same rules as the Fastify routes. */
describe('HotRoutes', () => {
  let server: Server;
  let url: string;
  let fallbackHits = 0;
  const seen: HotRequest[] = [];
  const registry = new Registry();
  const latency = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'test',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });

  beforeAll(async () => {
    const routes = new HotRoutes();
    routes.observeWith(latency);
    routes.register('POST', '/v1/echo', {
      authenticate: (headers) => {
        if (headers['x-service-token'] !== 'secret') throw new TallyError('MISSING_CREDENTIALS', 'no token');
      },
      handle: async (request) => {
        seen.push(request);
        const body = request.body as { fail?: string };
        if (body.fail === 'domain') throw new TallyError('RATE_LIMITED', 'slow down', { retryAfterSeconds: 3 });
        if (body.fail === 'bug') throw new Error('database password is hunter2');
        return { echoed: request.body };
      },
    });
    server = createServer((req, res) => {
      if (routes.handle(req, res)) return;
      fallbackHits++;
      res.writeHead(404).end('fallback');
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise((done) => server.close(done)));

  const post = (body: string, headers: Record<string, string> = {}, path = '/v1/echo') =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-service-token': 'secret', ...headers },
      body,
    });

  it('answers 200 with the handler result, the request id header and the peer address', async () => {
    const response = await post('{"a":1}', { 'x-request-id': 'req-42' });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toBe('req-42');
    expect(await response.json()).toEqual({ echoed: { a: 1 } });
    expect(seen.at(-1)).toMatchObject({ id: 'req-42', body: { a: 1 }, ip: '127.0.0.1' });
  });

  it('replaces an unusable request id with a fresh one', async () => {
    const response = await post('{}', { 'x-request-id': 'bad id with spaces' });
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('checks the credential before reading the body', async () => {
    const response = await post('not json', { 'x-service-token': 'wrong' });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ code: 'MISSING_CREDENTIALS', requestId: expect.any(String) });
  });

  it.each([
    ['not JSON', '{"a":', 'application/json', 'The request body is not valid JSON'],
    ['empty', '', 'application/json', 'The request body is empty but declared as JSON.'],
    ['not declared as JSON', '{"a":1}', 'text/plain', 'must be JSON'],
    ['prototype poisoning', '{"__proto__":{"admin":true}}', 'application/json', 'not valid JSON'],
  ])('answers 400 INVALID_REQUEST to a body that is %s', async (_case, body, type, message) => {
    const response = await post(body, { 'content-type': type });
    expect(response.status).toBe(400);
    const error = (await response.json()) as { code: string; message: string };
    expect(error.code).toBe('INVALID_REQUEST');
    expect(error.message).toContain(message);
  });

  it('answers 413 to a body over 64 KiB, declared or streamed', async () => {
    const large = JSON.stringify({ pad: 'x'.repeat(BODY_LIMIT_BYTES) });
    const declared = await post(large);
    expect(declared.status).toBe(413);
    expect(await declared.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    const chunks = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(large));
        controller.close();
      },
    });
    const streamed = await fetch(`${url}/v1/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-service-token': 'secret' },
      body: chunks,
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
  });

  it('maps domain errors to their status with Retry-After, and hides unexpected ones', async () => {
    const limited = await post('{"fail":"domain"}');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');
    const bug = await post('{"fail":"bug"}');
    expect(bug.status).toBe(500);
    expect(JSON.stringify(await bug.json())).not.toContain('hunter2');
  });

  it('hands other routes and methods to the fallback, and ignores the query string when matching', async () => {
    const before = fallbackHits;
    expect((await post('{}', {}, '/v1/other')).status).toBe(404);
    expect((await fetch(`${url}/v1/echo`)).status).toBe(404);
    expect(fallbackHits).toBe(before + 2);
    expect((await post('{}', {}, '/v1/echo?trace=1')).status).toBe(200);
  });

  it('observes every answer in the latency histogram, by route and status', async () => {
    const text = await registry.metrics();
    expect(text).toMatch(/http_request_duration_seconds_count\{method="POST",route="\/v1\/echo",status="200"\} \d+/);
    expect(text).toMatch(/http_request_duration_seconds_count\{method="POST",route="\/v1\/echo",status="413"\} \d+/);
  });
});
