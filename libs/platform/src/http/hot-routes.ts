import { Logger } from '@nestjs/common';
import { Errors, TallyError } from '@tally/contracts';
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Histogram } from 'prom-client';
import secureJson from 'secure-json-parse';
import { BODY_LIMIT_BYTES, bodyProblems } from './body';
import { mapError } from './error-filter';

/** What a hot handler sees of its request: the parsed JSON body, the headers, who sent it. */
export interface HotRequest {
  id: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  /** The peer's address (Tally is not configured to trust proxy headers). */
  ip: string;
}

export interface HotHandler {
  /** Checks the caller's credential from the headers, before the body is read; throws to refuse. */
  authenticate(headers: IncomingHttpHeaders): void;
  /** Answers 200 with the returned object; anything thrown becomes the error body of docs/ARCHITECTURE.md §3. */
  handle(request: HotRequest): Promise<unknown>;
}

/** The request id: the caller's if it is a sane one, else a new one (same rule as createHttpApp). */
export function requestId(headers: IncomingHttpHeaders): string {
  const incoming = headers['x-request-id'];
  return typeof incoming === 'string' && /^[\w.:-]{1,128}$/.test(incoming) ? incoming : randomUUID();
}

/**
 * The gateway's hot routes (auth's /v1/verify, quota's /v1/admissions), served straight from
 * Node's HTTP server, ahead of Fastify and Nest, whose per-request layers were the larger part of
 * the CPU on those routes (docs/BENCHMARKS.md, verify and admission).
 *
 * The contract is unchanged: the route is still declared on its Nest controller (OpenAPI, and the
 * fallback if nothing is registered here), which registers the same handler method here; the
 * body limit, the JSON parsing rules, the error body,
 * the x-request-id header and the per-route latency histogram are the same. What a hot route
 * does not do is write an access-log line per request: its decisions are counted in metrics, and
 * failures (5xx) are logged.
 */
export class HotRoutes {
  private readonly routes = new Map<string, HotHandler>();
  private readonly logger = new Logger('HotRoutes');
  private latency?: Histogram<'method' | 'route' | 'status'>;

  register(method: 'POST', path: string, handler: HotHandler): void {
    this.routes.set(`${method} ${path}`, handler);
  }

  /** `register` behind a guard's credential check (ServiceAuthGuard's), done before the body is read. */
  registerGuarded(
    method: 'POST',
    path: string,
    guard: { check(headers: IncomingHttpHeaders): void },
    handle: HotHandler['handle'],
  ): void {
    this.register(method, path, { authenticate: (headers) => guard.check(headers), handle });
  }

  /** Called by createHttpApp once the metrics registry exists. */
  observeWith(latency: Histogram<'method' | 'route' | 'status'>): this {
    this.latency = latency;
    return this;
  }

  /** Serves the request if it is for a hot route; false hands it to Fastify. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.routes.size === 0 || req.method !== 'POST') return false;
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    const handler = this.routes.get(`POST ${path}`);
    if (!handler) return false;
    void this.serve(handler, path, req, res);
    return true;
  }

  private async serve(handler: HotHandler, path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const id = requestId(req.headers);
    let status = 200;
    let payload: unknown;
    let retryAfter: number | undefined;
    let closing = false;
    try {
      handler.authenticate(req.headers);
      const body = await readJsonBody(req);
      payload = await handler.handle({ id, headers: req.headers, body, ip: req.socket.remoteAddress ?? '' });
    } catch (error) {
      const mapped = mapError(error);
      // A body left unread is discarded so the connection can be reused, but only a small declared
      // one after the credential passed; any other (unauthenticated, undeclared, too large) closes it.
      if (!req.complete) {
        if (mapped.status !== 401 && Number(req.headers['content-length']) <= BODY_LIMIT_BYTES) req.resume();
        else closing = true;
      }
      if (mapped.status >= 500 && mapped.body.code === 'INTERNAL_ERROR') {
        this.logger.error({ err: error, requestId: id, route: path }, 'unhandled error');
      }
      status = mapped.status;
      retryAfter = mapped.retryAfterSeconds;
      payload = { ...mapped.body, requestId: id };
    }
    const json = JSON.stringify(payload);
    const headers: Record<string, string | number> = {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(json),
      'x-request-id': id,
    };
    if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
    // A body not read to its end is not drained: close the connection rather than read the rest.
    if (closing) headers.connection = 'close';
    if (!res.destroyed) res.writeHead(status, headers).end(json);
    this.latency?.labels('POST', path, String(status)).observe((performance.now() - started) / 1000);
  }
}

/** The JSON body, with Fastify's rules: JSON content type, at most 64 KiB, no prototype poisoning. */
function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type'];
  if (typeof type !== 'string' || !/^application\/json\s*(;|$)/i.test(type)) {
    return Promise.reject(Errors.invalidBody('The request body must be JSON (content-type: application/json).'));
  }
  const declared = Number(req.headers['content-length']);
  if (declared > BODY_LIMIT_BYTES) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > BODY_LIMIT_BYTES) {
        req.removeAllListeners('data');
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (size > BODY_LIMIT_BYTES) return;
      const text = chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8');
      if (text.trim().length === 0) {
        reject(Errors.invalidBody(bodyProblems.empty));
        return;
      }
      try {
        resolve(secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }));
      } catch {
        reject(Errors.invalidBody(bodyProblems.notJson));
      }
    });
  });
}

function tooLarge(): TallyError {
  return Errors.payloadTooLarge(bodyProblems.tooLarge);
}
