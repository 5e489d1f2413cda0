import { Controller, Get, HttpCode, Inject, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';

/**
 * One dependency the app cannot serve without. `check` rejects when it is unreachable; it may
 * resolve to a report `{status, detail}` to say more than "up" (e.g. a dependency switched off).
 */
export interface HealthIndicator {
  name: string;
  check(): Promise<unknown>;
}

const isReport = (value: unknown): value is { status: string; detail?: string } =>
  typeof value === 'object' && value !== null && typeof (value as { status?: unknown }).status === 'string';

export const HEALTH_INDICATORS = Symbol('HEALTH_INDICATORS');
// Under the 2 s every endpoint answers within while a dependency is down (issue 16).
const CHECK_TIMEOUT_MS = 1_500;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

export type HealthReport = { status: string; detail?: string; error?: string };

/** Runs every check (each bounded by a timeout): the readiness answer and the ops console's dependencies. */
export async function runHealthChecks(indicators: HealthIndicator[]): Promise<Record<string, HealthReport>> {
  const results = await Promise.all(
    indicators.map(async (indicator) => {
      try {
        const report = await withTimeout(indicator.check(), CHECK_TIMEOUT_MS);
        return [indicator.name, isReport(report) ? report : { status: 'up' }] as const;
      } catch (error) {
        return [indicator.name, { status: 'down', error: (error as Error).message }] as const;
      }
    }),
  );
  return Object.fromEntries(results);
}

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(@Inject(HEALTH_INDICATORS) private readonly indicators: HealthIndicator[]) {}

  @Get('live')
  @HttpCode(200)
  @ApiOperation({ summary: 'The process is up (no dependency is checked).' })
  live() {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({ summary: 'Every dependency (PostgreSQL, Redis, Kafka as used) answers; 503 otherwise.' })
  async ready(@Res() reply: FastifyReply) {
    const checks = await runHealthChecks(this.indicators);
    const down = Object.entries(checks)
      .filter(([, result]) => result.status === 'down')
      .map(([name]) => name);
    if (down.length === 0) return reply.status(200).send({ status: 'ok', checks });
    return reply.status(503).send({
      code: 'DEPENDENCY_UNAVAILABLE',
      message: `Not ready: ${down.join(', ')} unavailable.`,
      requestId: String(reply.request.id),
      checks,
    });
  }
}
