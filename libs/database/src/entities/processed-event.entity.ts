import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** Every event metering has applied, forever (not a time window): the dedupe gate of the ledger. */
@Entity({ name: 'processed_events' })
export class ProcessedEventEntity {
  @PrimaryColumn({ type: 'text' })
  source: string;

  @PrimaryColumn({ type: 'text' })
  id: string;

  @Column({ type: 'text' })
  topic: string;

  @Column({ type: 'integer' })
  partition: number;

  @Column({ name: 'kafka_offset', type: 'bigint' })
  kafkaOffset: string;

  @CreateDateColumn({ name: 'processed_at', type: 'timestamptz' })
  processedAt: Date;
}
