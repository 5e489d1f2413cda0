import { Column } from 'typeorm';
import { bigintTransformer } from './bigint.transformer';

/** What every usage roll-up row adds up, in integer units; each batch adds its events to them. */
export abstract class RollupCounters {
  @Column({ name: 'event_count', type: 'bigint', transformer: bigintTransformer, default: 0 })
  eventCount: bigint;

  /** Runtime captured, in priced sandbox-ms. */
  @Column({ name: 'sandbox_ms', type: 'bigint', transformer: bigintTransformer, default: 0 })
  sandboxMs: bigint;

  @Column({ name: 'agent_mc', type: 'bigint', transformer: bigintTransformer, default: 0 })
  agentMc: bigint;
}
