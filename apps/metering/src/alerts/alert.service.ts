import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { BalanceKind, cloudEvent, Topics, topicName, UsageEventTypes } from '@tally/contracts';
import { KAFKA_OPTIONS, KafkaModuleOptions } from '@tally/kafka';
import { METERING_CONFIG } from '../config/metering-config.token';
import { MeteringConfig } from '../config/metering.config';
import { METERING_SOURCE } from '../ledger/ledger.service';
import { PostedChange, PostingObserver, PostingObservers } from '../ledger/posting-observers';
import { AlertDecision, AlertPolicy, burnRatePerHour, evaluateAlerts, initialAlertState } from './alert-policy';
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
    const clock = new Map<string, Date>();
    for (const event of events) {
      const seen = clock.get(event.orgId);
      if (!seen || event.at > seen) clock.set(event.orgId, event.at);
    }
    const now = new Date();
    const orgs = orgIds.map((orgId) => ({ orgId, at: clock.get(orgId) ?? now }));
    const repo = new AlertStateRepository(manager);
    // One transaction is one connection: queries run one after another (pg deprecates overlapping them).
    const totals = await repo.activeTotals(orgs);
    const buckets = await repo.recentBuckets(orgs, 1);
    const states = await repo.load(orgIds);
    const thresholds = await repo.thresholds(orgIds);
    const at = new Map(orgs.map((o) => [o.orgId, o.at]));
    // Grouped once: a batch touches up to every org, and each org reads only its own buckets.
    const bucketsByOrg = new Map<string, typeof buckets>();
    for (const bucket of buckets) {
      const mine = bucketsByOrg.get(bucket.orgId);
      if (mine) mine.push(bucket);
      else bucketsByOrg.set(bucket.orgId, [bucket]);
    }
    const changed: { orgId: string; kind: BalanceKind; state: ReturnType<typeof initialAlertState> }[] = [];
    const raised: StoredAlert[] = [];
    for (const { orgId, kind, total, remaining } of totals) {
      const when = at.get(orgId)!;
      const mine = (bucketsByOrg.get(orgId) ?? []).map((b) => ({
        hour: b.hour,
        amount: kind === 'sandbox' ? b.sandbox : b.agent,
      }));
      const previous = states.get(`${orgId}|${kind}`) ?? initialAlertState();
      const { state, alerts } = evaluateAlerts(
        previous,
        { kind, total, remaining, burnPerHour: burnRatePerHour(mine, when, 1), at: when },
        { ...this.policy, thresholds: thresholds.get(orgId) ?? this.policy.thresholds },
      );
      if (state !== previous) changed.push({ orgId, kind, state });
      raised.push(...alerts.map((alert) => this.toAlert(orgId, kind, alert, when)));
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
