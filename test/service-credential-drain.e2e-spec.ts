import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createTestContext, TestContext } from '@tally/testing';
import { connect } from 'node:net';
import { listeningPort } from '@tally/platform';
import { startApp } from './apps';
import { startAuth } from './auth-harness';

/** What the server did with a request that failed the service credential and came with a large body. */
interface Poured {
  status: number;
  connection: string | undefined;
  /** Body bytes the server took before it closed the connection. */
  sent: number;
  closedByServer: boolean;
}

const POUR_BYTES = 32 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 'a');

/**
 * Sends `method path` with a wrong x-service-token and a body of POUR_BYTES (declared, or chunked
 * and undeclared), writing as fast as the server reads, until the server closes the connection or
 * the whole body is out (then waits 2 s for a close that a draining server never does).
 */
function pour(port: number, method: string, path: string, framing: 'declared' | 'chunked'): Promise<Poured> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let response = '';
    let sent = 0;
    let closed = false;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      socket.destroy();
      const head = response.split('\r\n\r\n')[0];
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      const connection = /\r\nconnection: ([^\r]+)/i.exec(head)?.[1]?.toLowerCase();
      resolve({ status, connection, sent, closedByServer: closed });
    };
    socket.on('data', (chunk) => (response += chunk.toString('latin1')));
    socket.on('error', () => undefined); // EPIPE/ECONNRESET: the server cut us off
    socket.on('close', () => {
      closed = true;
      finish();
    });
    const head = [
      `${method} ${path} HTTP/1.1`,
      'host: 127.0.0.1',
      'content-type: application/json',
      'x-service-token: not-the-credential',
      framing === 'declared' ? `content-length: ${POUR_BYTES}` : 'transfer-encoding: chunked',
    ];
    const frame = (data: Buffer) =>
      framing === 'declared'
        ? data
        : Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]);
    socket.on('connect', async () => {
      try {
        socket.write(`${head.join('\r\n')}\r\n\r\n`);
        while (sent < POUR_BYTES && !closed) {
          const ok = socket.write(frame(CHUNK));
          sent += CHUNK.length;
          if (!ok) await new Promise((next) => socket.once('drain', next).once('close', next));
        }
        if (!closed && framing === 'chunked') socket.write('0\r\n\r\n');
        setTimeout(finish, 2_000);
      } catch (error) {
        reject(error);
      }
    });
  });
}

/**
 * Issue 11, finding 8: a request failing the service credential is not drained without limit.
 * The hot routes (auth's verify, quota's admissions) check the credential from the headers and
 * close the connection instead of reading the rest; a Fastify route stops at the body limit.
 */
describe('a request failing the service credential is cut off, not drained', () => {
  jest.setTimeout(120_000);
  let ctx: TestContext;
  let auth: NestFastifyApplication;
  let quota: NestFastifyApplication;

  beforeAll(async () => {
    ctx = await createTestContext();
    auth = (await startAuth(ctx)).app;
    quota = await startApp('quota', ctx.env());
  });

  afterAll(async () => {
    await auth?.close();
    await quota?.close();
    await ctx?.dispose();
  });

  // A Fastify route reads the body (to its limit) before the guard runs: 413 there, then closed.
  const targets = () =>
    [
      ['auth POST /v1/verify (hot route)', listeningPort(auth), 'POST', '/v1/verify', 401],
      ['quota POST /v1/admissions (hot route)', listeningPort(quota), 'POST', '/v1/admissions', 401],
      ['quota DELETE /v1/admissions/:id (Fastify)', listeningPort(quota), 'DELETE', '/v1/admissions/ADM-1', 413],
    ] as const;

  it.each(['declared', 'chunked'] as const)('answers and closes the connection (%s body)', async (framing) => {
    for (const [name, port, method, path, status] of targets()) {
      const poured = await pour(port, method, path, framing);
      expect({ name, ...poured, sent: poured.sent < POUR_BYTES / 4 }).toEqual({
        name,
        status,
        connection: 'close',
        sent: true,
        closedByServer: true,
      });
    }
  });
});
