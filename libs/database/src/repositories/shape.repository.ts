import { DataSource } from 'typeorm';

/** Every shape's price per hour (a decimal string, as the `shapes` table holds it), by name. */
export async function loadShapePrices(db: DataSource): Promise<Map<string, string>> {
  const rows: { name: string; price_per_hour: string }[] = await db.query('SELECT name, price_per_hour FROM shapes');
  return new Map(rows.map((row) => [row.name, row.price_per_hour]));
}
