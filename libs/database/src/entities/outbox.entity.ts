import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * Events written in the same transaction as the ledger change they describe, then relayed to
 * Kafka (at least once; consumers dedupe by CloudEvent id), so an entry and its event never
 * disagree. Rows are deleted once Kafka acknowledged them.
 */
@Entity({ name: 'outbox' })
export class OutboxEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  /** The full topic name (prefix included). */
  @Column({ type: 'text' })
  topic: string;

  /** The Kafka key: the organization id. */
  @Column({ name: 'message_key', type: 'text' })
  messageKey: string;

  @Column({ type: 'jsonb' })
  payload: unknown;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
