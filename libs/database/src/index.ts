export * from './array-literal';
export * from './data-source';
export * from './entities';
export * from './migrate';
export * from './repositories/balance.repository';
export * from './repositories/package.repository';
export * from './database.module';
export * from './seed/demo-organization';
