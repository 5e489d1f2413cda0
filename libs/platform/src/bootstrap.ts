import { Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { createServer, type IncomingMessage, type RequestListener } from 'node:http';
import type { Registry } from 'prom-client';
import { TallyErrorFilter } from './http/error-filter';
import { BODY_LIMIT_BYTES } from './http/body';
import { HotRoutes, requestId } from './http/hot-routes';
import { tallyValidationPipe } from './http/validation';
import { METRICS_REGISTRY, httpRequestHistogram } from './metrics/metrics';

export interface HttpAppOptions {
  title: string;
  description: string;
  host: string;
  port: number;
  /** Off in tests that boot several apps in one process. */
  shutdownHooks?: boolean;
  /** Extra OpenAPI settings, e.g. another security scheme (auth's dashboard Bearer JWT). */
  document?: (builder: DocumentBuilder) => DocumentBuilder;
}

/** Builds a Fastify-backed Nest app with the conventions every Tally HTTP API shares. */
export async function createHttpApp(module: Type<unknown> | object, options: HttpAppOptions) {
  // Filled once the app exists: its providers register the hot routes (see HotRoutes).
  const hot: { routes?: HotRoutes } = {};
  const app = await NestFactory.create<NestFastifyApplication>(module as Type<unknown>, fastifyAdapter(hot), {
    bufferLogs: true,
    abortOnError: false,
  });
  app.useLogger(app.get(Logger));
  app.useGlobalFilters(new TallyErrorFilter());
  app.useGlobalPipes(tallyValidationPipe());
  const latency = httpRequestHistogram(app.get<Registry>(METRICS_REGISTRY));
  hot.routes = app.get(HotRoutes).observeWith(latency);
  observeResponses(app, latency);
  serveOpenApi(app, options);
  await app.listen(options.port, options.host);
  if (options.shutdownHooks !== false) exitGracefullyOnSignals(app);
  return app;
}

/** Fastify behind a Node server that hands the hot routes their requests first. */
function fastifyAdapter(hot: { routes?: HotRoutes }): FastifyAdapter {
  return new FastifyAdapter({
    bodyLimit: BODY_LIMIT_BYTES,
    // One request id for the log line, the error body and the response header.
    genReqId: (req: IncomingMessage) => {
      const id = requestId(req.headers);
      req.headers['x-request-id'] = id;
      return id;
    },
    serverFactory: (fastifyHandler: RequestListener) =>
      createServer((req, res) => {
        if (!hot.routes?.handle(req, res)) fastifyHandler(req, res);
      }),
  });
}

/** Every Fastify response carries its request id and is timed by route and status. */
function observeResponses(app: NestFastifyApplication, latency: ReturnType<typeof httpRequestHistogram>): void {
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  fastify.addHook('onResponse', async (request, reply) => {
    latency
      .labels(request.method, request.routeOptions.url ?? 'unmatched', String(reply.statusCode))
      .observe(reply.elapsedTime / 1000);
  });
}

function serveOpenApi(app: NestFastifyApplication, options: HttpAppOptions): void {
  const builder = new DocumentBuilder()
    .setTitle(options.title)
    .setDescription(options.description)
    .addApiKey({ type: 'apiKey', in: 'header', name: 'x-service-token' }, 'service');
  const document = SwaggerModule.createDocument(app, (options.document?.(builder) ?? builder).build());
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json' });
}

/**
 * SIGTERM/SIGINT close the app (consumers drain and commit their batch in flight, then connections
 * close) and the process exits 0; a shutdown that hangs is cut off and exits 1.
 */
function exitGracefullyOnSignals(app: NestFastifyApplication, timeoutMs = 25_000): void {
  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    app.get(Logger).log({ signal }, 'shutting down');
    setTimeout(() => process.exit(1), timeoutMs).unref();
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

/** The port an app actually listens on (tests ask for port 0). */
export function listeningPort(app: NestFastifyApplication): number {
  const address = app.getHttpServer().address();
  return typeof address === 'object' && address ? address.port : 0;
}
