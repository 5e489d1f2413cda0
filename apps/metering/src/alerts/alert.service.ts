import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { BalanceKind, cloudEvent, Topics, topicName, UsageEventTypes } from '@tally/contracts';
import { KAFKA_OPTIONS, KafkaModuleOptions } from '@tally/kafka';
import { METERING_CONFIG } from '../config/metering-config.token';
import { MeteringConfig } from '../config/metering.config';
import { METERING_SOURCE } from '../ledger/ledger.service';
import { PostedChange, PostingObserver, PostingObservers } from '../ledger/posting-observers';
import {
  AlertDecision,
  AlertPolicy,
  AlertState,
  burnRatePerHour,
  evaluateAlerts,
  initialAlertState,
} from './alert-policy';
import { AlertStateRepository, StoredAlert } from './alert-state.repository';

/**
 * Depletion alerts: after every posting (a batch of usage, or a grant), in its transaction,
 * evaluates the alert state machine for each organization and kind it touched, persists the new
 * state and writes the alerts to the outbox. The clock is the posting's own: the latest event time
 * of the org in the batch (so a replayed or simulated stream forecasts as it would have live),
 * or now for a grant. Thresholds are the org's own (PUT /v1/orgs/:orgId/alert-thresholds) or, when
 * it set none, ALERT_THRESHOLDS.
 */
@Injectable()
export class AlertService implements PostingObserver, OnModuleInit {
  private readonly policy: AlertPolicy;

  constructor(
    @Inject(METERING_CONFIG) config: MeteringConfig,
    @Inject(KAFKA_OPTIONS) private readonly kafka: KafkaModuleOptions,
    private readonly observers: PostingObservers,
  ) {
    this.policy = {
      thresholds: config.ALERT_THRESHOLDS,
      forecastHorizonMs: config.ALERT_FORECAST_HORIZON_HOURS * 3_600_000,
    };
  }

  onModuleInit(): void {
    this.observers.register(this);
  }

  async afterPosting({ manager, orgIds, events }: PostedChange): Promise<void> {
    if (orgIds.length === 0) return;
    const clocks = postingClocks(orgIds, events);
    const repo = new AlertStateRepository(manager);
    // One transaction is one connection: queries run one after another (pg deprecates overlapping them).
    const orgs = orgIds.map((orgId) => ({ orgId, at: clocks.get(orgId)! }));
    const totals = await repo.activeTotals(orgs);
    const buckets = groupByOrg(await repo.recentBuckets(orgs, 1));
    const states = await repo.load(orgIds);
    const thresholds = await repo.thresholds(orgIds);
    const changed: { orgId: string; kind: BalanceKind; state: AlertState }[] = [];
    const raised: StoredAlert[] = [];
    for (const { orgId, kind, total, remaining } of totals) {
      const at = clocks.get(orgId)!;
      const burnPerHour = burnRatePerHour(bucketsOf(buckets.get(orgId), kind), at, 1);
      const previous = states.get(`${orgId}|${kind}`) ?? initialAlertState();
      const { state, alerts } = evaluateAlerts(
        previous,
        { kind, total, remaining, burnPerHour, at },
        { ...this.policy, thresholds: thresholds.get(orgId) ?? this.policy.thresholds },
      );
      if (state !== previous) changed.push({ orgId, kind, state });
      raised.push(...alerts.map((alert) => this.toAlert(orgId, kind, alert, at)));
    }
    await repo.save(changed);
    await repo.raise(raised);
  }

  private toAlert(orgId: string, kind: BalanceKind, alert: AlertDecision, at: Date): StoredAlert {
    const { id, type, threshold } = alertIdentity(orgId, kind, alert);
    return {
      id,
      orgId,
      kind,
      type,
      threshold,
      topic: topicName(this.kafka.topicPrefix, Topics.alerts),
      payload: cloudEvent({
        id,
        source: METERING_SOURCE,
        type,
        subject: orgId,
        time: at,
        data: {
          orgId,
          kind,
          threshold,
          remaining: alert.remaining.toString(),
          forecastDepletionAt: alert.type === 'forecast' ? alert.depletionAt.toISOString() : null,
        },
      }),
    };
  }
}

/** Each org's clock: its latest event time in the batch, or now when it has none (a grant). */
function postingClocks(orgIds: string[], events: PostedChange['events']): Map<string, Date> {
  const latest = new Map<string, Date>();
  for (const event of events) {
    const seen = latest.get(event.orgId);
    if (!seen || event.at > seen) latest.set(event.orgId, event.at);
  }
  const now = new Date();
  return new Map(orgIds.map((orgId) => [orgId, latest.get(orgId) ?? now]));
}

// Grouped once: a batch touches up to every org, and each org reads only its own buckets.
function groupByOrg<T extends { orgId: string }>(rows: T[]): Map<string, T[]> {
  const byOrg = new Map<string, T[]>();
  for (const row of rows) {
    const mine = byOrg.get(row.orgId);
    if (mine) mine.push(row);
    else byOrg.set(row.orgId, [row]);
  }
  return byOrg;
}

function bucketsOf(buckets: { hour: Date; sandbox: bigint; agent: bigint }[] = [], kind: BalanceKind) {
  return buckets.map((b) => ({ hour: b.hour, amount: kind === 'sandbox' ? b.sandbox : b.agent }));
}

/** An alert's id (one per firing: the sequence counts firings), event type and threshold. */
function alertIdentity(orgId: string, kind: BalanceKind, alert: AlertDecision) {
  switch (alert.type) {
    case 'threshold':
      return {
        id: `threshold-${orgId}-${kind}-${alert.threshold}-${alert.sequence}`,
        type: UsageEventTypes.balanceThreshold,
        threshold: String(alert.threshold),
      };
    case 'depleted':
      return {
        id: `depleted-${orgId}-${kind}-${alert.sequence}`,
        type: UsageEventTypes.balanceDepleted,
        threshold: '100',
      };
    case 'replenished':
      return {
        id: `replenished-${orgId}-${kind}-${alert.sequence}`,
        type: UsageEventTypes.balanceReplenished,
        threshold: null,
      };
    case 'forecast':
      return {
        id: `forecast-${orgId}-${kind}-${alert.sequence}`,
        type: UsageEventTypes.balanceForecast,
        threshold: null,
      };
  }
}
