import { EntityManager } from 'typeorm';

export interface OutboxRow {
  id: string;
  topic: string;
  messageKey: string;
  /** The payload as PostgreSQL holds it: relayed as these bytes, never parsed and re-serialized. */
  payload: string;
}

/** The outbox's rows, inside the relay's transaction. */
export class OutboxRepository {
  constructor(private readonly tx: EntityManager) {}

  /** The oldest `limit` rows no other relay holds, locked until the transaction ends. */
  async claim(limit: number): Promise<OutboxRow[]> {
    const rows: { id: string; topic: string; message_key: string; payload: string }[] = await this.tx.query(
      `SELECT id, topic, message_key, payload::text AS payload FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [limit],
    );
    return rows.map((row) => ({ id: row.id, topic: row.topic, messageKey: row.message_key, payload: row.payload }));
  }

  /** Removes rows once Kafka has them. */
  async remove(ids: string[]): Promise<void> {
    await this.tx.query('DELETE FROM outbox WHERE id = ANY($1::bigint[])', [ids]);
  }
}
