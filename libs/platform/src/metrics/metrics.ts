import { Controller, Get, Header, Inject } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');

/** One registry per app (not the global one), so several apps can share a test process. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

export function httpRequestHistogram(registry: Registry): Histogram<'method' | 'route' | 'status'> {
  return new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5],
    registers: [registry],
  });
}

/** The `code` of an allowed decision in `tally_decisions_total`; any other code is the error code answered. */
export const DECISION_ALLOWED = 'ALLOWED';
/** quota: admitted without a check because a dependency was down and the action fails open. */
export const DECISION_FAILED_OPEN = 'FAILED_OPEN';
/** quota: refused because the caller's deadline passed first (answered 503, but no dependency was down). */
export const DECISION_DEADLINE_PASSED = 'DEADLINE_PASSED';

/**
 * Decisions by outcome, the same series on every decision service (auth's verify, quota's
 * admissions; the `service` label tells them apart): `action` is a catalog action (`unknown` for
 * anything else), `code` is ALLOWED, FAILED_OPEN, DEADLINE_PASSED or the error code answered.
 * ops/prometheus/alerts.yml reads it.
 */
export function decisionCounter(registry: Registry): Counter<'action' | 'code'> {
  return new Counter({
    name: 'tally_decisions_total',
    help: 'Decisions by action and code (ALLOWED, FAILED_OPEN, DEADLINE_PASSED or the error code answered)',
    labelNames: ['action', 'code'],
    registers: [registry],
  });
}

@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(@Inject(METRICS_REGISTRY) private readonly registry: Registry) {}

  @Get()
  @Header('content-type', 'text/plain; version=0.0.4')
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
