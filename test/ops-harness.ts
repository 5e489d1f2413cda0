import { cloudEvent, Topics, topicName, UsageEventTypes } from '@tally/contracts';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { RawEvent } from './metering-harness';

/** Agent usage at a chosen event time (the alert engine's clock is the events' time). */
export function agentUsageAt(prefix: string, orgId: string, milliCredits: number, at: Date, id: string): RawEvent {
  return {
    topic: topicName(prefix, Topics.usageAgent),
    key: orgId,
    value: cloudEvent({
      id,
      source: '//test/agent-runtime',
      type: UsageEventTypes.agentConsumed,
      subject: orgId,
      time: at,
      data: { orgId, runId: `run-${id}`, credits: milliCredits, kind: 'inference' },
    }),
  };
}

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

/**
 * A webhook receiver on 127.0.0.1: `respond(path, eventId, attemptNo)` picks the status (or
 * 'hang' to never answer). Every request is recorded.
 */
export async function startReceiver(respond: (path: string, eventId: string, attempt: number) => number | 'hang') {
  const received: Received[] = [];
  const attempts = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const eventId = String(req.headers['x-tally-event-id'] ?? '');
      const key = `${req.url}|${eventId}`;
      const attempt = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, attempt);
      const status = respond(req.url ?? '/', eventId, attempt);
      if (status === 'hang') {
        received.push({ path: req.url ?? '/', headers: req.headers, body, status: 0 });
        return; // never answered: the notifier's timeout must cut it off
      }
      received.push({ path: req.url ?? '/', headers: req.headers, body, status });
      res.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
