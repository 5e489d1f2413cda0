import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DATA_SOURCE, loadOrgBalances } from '@tally/database';
import { ADMIT_LUA, APPLY_SNAPSHOT_LUA, preloadScripts, REDIS, RELEASE_LUA, type RedisClient } from '@tally/redis';
import { DataSource } from 'typeorm';
import { CatalogService } from '../catalog/catalog.service';

/** An organization id no row has: the balance query runs and finds nothing. */
const NO_ORG = 'ORG-00000000000000000000000000';

/**
 * Before quota reports ready, everything a first admission would do for the first time: the
 * catalog in memory, the Lua scripts compiled in Redis, the cold-load query run once. Otherwise
 * the first decision after a start pays all of it inside its deadline and fails closed (503).
 * A warm-up that fails only logs: the first decision then pays it, as before.
 */
@Injectable()
export class AdmissionWarmup implements OnApplicationBootstrap {
  private readonly logger = new Logger(AdmissionWarmup.name);

  constructor(
    private readonly catalog: CatalogService,
    @Inject(REDIS) private readonly redis: RedisClient,
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const started = Date.now();
    try {
      await Promise.all([
        this.catalog.plan('free'),
        this.catalog.orgPlan(NO_ORG),
        preloadScripts(this.redis, [ADMIT_LUA, RELEASE_LUA, APPLY_SNAPSHOT_LUA]),
        loadOrgBalances(this.dataSource, [NO_ORG], new Date()),
      ]);
      this.logger.log({ ms: Date.now() - started }, 'admission path warmed up');
    } catch (error) {
      this.logger.warn({ err: error }, 'admission warm-up failed; the first decisions pay the cold start');
    }
  }
}
