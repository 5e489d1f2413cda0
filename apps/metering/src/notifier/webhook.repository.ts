import { DataSource, EntityManager } from 'typeorm';

export interface ClaimedDelivery {
  id: string;
  endpointId: string;
  alertId: string;
  payload: unknown;
  attempts: number;
  url: string;
  secret: string;
}

export interface AttemptOutcome {
  ok: boolean;
  httpStatus: number | null;
  error: string | null;
  durationMs: number;
}

export interface EndpointRow {
  id: string;
  orgId: string | null;
  url: string;
  status: 'active' | 'dead';
  consecutiveFailures: number;
  createdAt: Date;
}

/**
 * The notifier's SQL: endpoints, the delivery queue (with leases) and the attempt log. An UPDATE
 * ... RETURNING is wrapped in a CTE and SELECTed: TypeORM answers a bare UPDATE with [rows, count].
 */
export class WebhookRepository {
  constructor(private readonly db: DataSource) {}

  async register(orgId: string | null, url: string, secret: string): Promise<EndpointRow> {
    const [row] = await this.db.query(
      `INSERT INTO webhook_endpoints (org_id, url, secret) VALUES ($1, $2, $3)
       RETURNING id, org_id, url, status, consecutive_failures, created_at`,
      [orgId, url, secret],
    );
    return endpoint(row);
  }

  async endpoint(id: string): Promise<EndpointRow | null> {
    const [row] = await this.db.query(
      'SELECT id, org_id, url, status, consecutive_failures, created_at FROM webhook_endpoints WHERE id = $1',
      [id],
    );
    return row ? endpoint(row) : null;
  }

  async orgExists(orgId: string): Promise<boolean> {
    return (await this.db.query('SELECT 1 FROM organizations WHERE id = $1', [orgId])).length > 0;
  }

  /** An org's endpoints (null: the ops endpoints), oldest first. */
  async list(orgId: string | null): Promise<EndpointRow[]> {
    const rows: Parameters<typeof endpoint>[0][] = await this.db.query(
      `SELECT id, org_id, url, status, consecutive_failures, created_at FROM webhook_endpoints
        WHERE org_id IS NOT DISTINCT FROM $1 ORDER BY created_at, id`,
      [orgId],
    );
    return rows.map(endpoint);
  }

  /**
   * Changes an endpoint's url and/or secret; `revive` makes a dead endpoint active again with no
   * failures counted (deliveries abandoned when it died stay abandoned). Null: no such endpoint.
   */
  async update(id: string, changes: { url?: string; secret?: string; revive?: boolean }): Promise<EndpointRow | null> {
    const [row] = await this.db.query(
      `WITH changed AS (
         UPDATE webhook_endpoints SET url = COALESCE($2, url), secret = COALESCE($3, secret),
           status = CASE WHEN $4::boolean THEN 'active' ELSE status END,
           consecutive_failures = CASE WHEN $4::boolean THEN 0 ELSE consecutive_failures END
         WHERE id = $1 RETURNING id, org_id, url, status, consecutive_failures, created_at)
       SELECT * FROM changed`,
      [id, changes.url ?? null, changes.secret ?? null, changes.revive === true],
    );
    return row ? endpoint(row) : null;
  }

  /** Deletes an endpoint with its queue and attempt log, in one transaction; false when there was none. */
  async remove(id: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const [locked] = await tx.query('SELECT id FROM webhook_endpoints WHERE id = $1 FOR UPDATE', [id]);
      if (!locked) return false;
      await tx.query('DELETE FROM webhook_attempts WHERE endpoint_id = $1', [id]);
      await tx.query('DELETE FROM webhook_deliveries WHERE endpoint_id = $1', [id]);
      await tx.query('DELETE FROM webhook_endpoints WHERE id = $1', [id]);
      return true;
    });
  }

  /**
   * One delivery per active endpoint of the org and per ops endpoint; a repeated alert adds none.
   * FOR SHARE waits for an endpoint dying in record(), then sees it dead: nothing pending outlives
   * the abandoning of its queue.
   */
  async enqueue(orgId: string, alertId: string, payload: unknown): Promise<number> {
    const rows: unknown[] = await this.db.query(
      `INSERT INTO webhook_deliveries (endpoint_id, alert_id, payload)
       SELECT id, $2, $3::jsonb FROM webhook_endpoints WHERE status = 'active' AND (org_id = $1 OR org_id IS NULL)
       FOR SHARE
       ON CONFLICT (endpoint_id, alert_id) DO NOTHING RETURNING id`,
      [orgId, alertId, JSON.stringify(payload)],
    );
    return rows.length;
  }

  /**
   * Claims due deliveries of live endpoints and leases them (their next attempt moves past the
   * lease) so another instance does not send them while this one is.
   */
  async claim(limit: number, leaseMs: number, exclude: string[]): Promise<ClaimedDelivery[]> {
    if (limit <= 0) return [];
    const rows: {
      id: string;
      endpoint_id: string;
      alert_id: string;
      payload: unknown;
      attempts: number;
      url: string;
      secret: string;
    }[] = await this.db.query(
      `WITH due AS (
         SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
          WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND e.status = 'active'
            AND NOT (d.id = ANY($3::bigint[]))
          ORDER BY d.next_attempt_at LIMIT $1 FOR UPDATE OF d SKIP LOCKED),
       claimed AS (
         UPDATE webhook_deliveries d SET next_attempt_at = now() + make_interval(secs => $2::double precision / 1000)
           FROM due, webhook_endpoints e
          WHERE d.id = due.id AND e.id = d.endpoint_id
         RETURNING d.id::text AS id, d.endpoint_id, d.alert_id, d.payload, d.attempts, e.url, e.secret)
       SELECT * FROM claimed`,
      [limit, leaseMs, exclude],
    );
    return rows.map((r) => ({
      id: r.id,
      endpointId: r.endpoint_id,
      alertId: r.alert_id,
      payload: r.payload,
      attempts: r.attempts,
      url: r.url,
      secret: r.secret,
    }));
  }

  /**
   * Logs the attempt and moves the delivery and its endpoint on, in one transaction. The endpoint
   * row is locked first, so concurrent outcomes for one endpoint serialize (no deadlock with the
   * abandoning of its queue). An endpoint's failure count is of deliveries given up on in a row
   * (attempts exhausted), reset by any success: a flaky endpoint that answers on a retry never dies.
   */
  async record(
    delivery: ClaimedDelivery,
    outcome: AttemptOutcome,
    next: { retryInMs: number | null; deadAfter: number },
  ): Promise<{ endpointDied: boolean }> {
    return this.db.transaction(async (tx) => {
      const attempt = delivery.attempts + 1;
      const locked = await lockEndpoint(tx, delivery.endpointId);
      // Deleted while this attempt was in flight: nothing of it is kept.
      if (!locked) return { endpointDied: false };
      await logAttempt(tx, delivery, attempt, outcome);
      if (outcome.ok) {
        await markDelivered(tx, delivery, attempt);
        return { endpointDied: false };
      }
      if (next.retryInMs !== null) {
        await scheduleRetry(tx, delivery.id, attempt, next.retryInMs);
        return { endpointDied: false };
      }
      await tx.query(`UPDATE webhook_deliveries SET attempts = $2, status = 'failed' WHERE id = $1`, [
        delivery.id,
        attempt,
      ]);
      const status = await countGivenUp(tx, delivery.endpointId, next.deadAfter);
      if (status !== 'dead' || locked.status === 'dead') return { endpointDied: false };
      await tx.query(
        `UPDATE webhook_deliveries SET status = 'abandoned' WHERE endpoint_id = $1 AND status = 'pending'`,
        [delivery.endpointId],
      );
      return { endpointDied: true };
    });
  }

  async attempts(endpointId: string, limit: number) {
    const rows: {
      id: string;
      alert_id: string;
      delivery_id: string;
      attempt: number;
      http_status: number | null;
      ok: boolean;
      error: string | null;
      duration_ms: number;
      at: Date;
    }[] = await this.db.query(
      `SELECT id::text AS id, alert_id, delivery_id::text AS delivery_id, attempt, http_status, ok, error, duration_ms, at
         FROM webhook_attempts WHERE endpoint_id = $1 ORDER BY webhook_attempts.id DESC LIMIT $2`,
      [endpointId, limit],
    );
    return rows.map((r) => ({
      id: r.id,
      alertId: r.alert_id,
      deliveryId: r.delivery_id,
      attempt: r.attempt,
      httpStatus: r.http_status,
      ok: r.ok,
      error: r.error,
      durationMs: r.duration_ms,
      at: r.at.toISOString(),
    }));
  }

  async deliveryCounts(endpointId: string): Promise<Record<string, number>> {
    const rows: { status: string; n: string }[] = await this.db.query(
      'SELECT status, COUNT(*)::text AS n FROM webhook_deliveries WHERE endpoint_id = $1 GROUP BY status',
      [endpointId],
    );
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }
}

function endpoint(row: {
  id: string;
  org_id: string | null;
  url: string;
  status: 'active' | 'dead';
  consecutive_failures: number;
  created_at: Date;
}): EndpointRow {
  return {
    id: row.id,
    orgId: row.org_id,
    url: row.url,
    status: row.status,
    consecutiveFailures: row.consecutive_failures,
    createdAt: row.created_at,
  };
}

// The steps of WebhookRepository.record, each one statement inside its transaction.

async function lockEndpoint(tx: EntityManager, endpointId: string): Promise<{ status: string } | undefined> {
  const [locked]: { status: string }[] = await tx.query(
    'SELECT status FROM webhook_endpoints WHERE id = $1 FOR UPDATE',
    [endpointId],
  );
  return locked;
}

async function logAttempt(tx: EntityManager, delivery: ClaimedDelivery, attempt: number, outcome: AttemptOutcome) {
  await tx.query(
    `INSERT INTO webhook_attempts (endpoint_id, delivery_id, alert_id, attempt, http_status, ok, error, duration_ms)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      delivery.endpointId,
      delivery.id,
      delivery.alertId,
      attempt,
      outcome.httpStatus,
      outcome.ok,
      outcome.error,
      outcome.durationMs,
    ],
  );
}

/** Delivered: a success resets the endpoint's count of deliveries given up on in a row. */
async function markDelivered(tx: EntityManager, delivery: ClaimedDelivery, attempt: number) {
  await tx.query(
    `UPDATE webhook_deliveries SET status = 'delivered', attempts = $2, delivered_at = now() WHERE id = $1`,
    [delivery.id, attempt],
  );
  await tx.query('UPDATE webhook_endpoints SET consecutive_failures = 0 WHERE id = $1', [delivery.endpointId]);
}

async function scheduleRetry(tx: EntityManager, deliveryId: string, attempt: number, retryInMs: number) {
  await tx.query(
    `UPDATE webhook_deliveries SET attempts = $2, next_attempt_at = now() + make_interval(secs => $3::double precision / 1000)
      WHERE id = $1`,
    [deliveryId, attempt, retryInMs],
  );
}

/** One more delivery given up on; the endpoint dies at `deadAfter` in a row. Its status after. */
async function countGivenUp(tx: EntityManager, endpointId: string, deadAfter: number): Promise<string | undefined> {
  const [endpoint]: { status: string }[] = await tx.query(
    `WITH changed AS (
       UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1,
         status = CASE WHEN consecutive_failures + 1 >= $2 THEN 'dead' ELSE status END
       WHERE id = $1 RETURNING status)
     SELECT * FROM changed`,
    [endpointId, deadAfter],
  );
  return endpoint?.status;
}
