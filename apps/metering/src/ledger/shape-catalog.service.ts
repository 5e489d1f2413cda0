import { Inject, Injectable } from '@nestjs/common';
import { DATA_SOURCE, loadShapePrices } from '@tally/database';
import { DataSource } from 'typeorm';

/**
 * Shape prices from the `shapes` table, cached: shapes change rarely, and a name the cache does
 * not know is looked up again before an event is declared to name an unknown shape.
 */
@Injectable()
export class ShapeCatalog {
  private prices = new Map<string, string>();
  private loadedAt = 0;

  constructor(@Inject(DATA_SOURCE) private readonly dataSource: DataSource) {}

  async pricesFor(names: Iterable<string>): Promise<Map<string, string>> {
    const wanted = [...new Set(names)];
    if (wanted.some((name) => !this.prices.has(name)) || Date.now() - this.loadedAt > 60_000) await this.reload();
    return this.prices;
  }

  private async reload(): Promise<void> {
    this.prices = await loadShapePrices(this.dataSource);
    this.loadedAt = Date.now();
  }
}
