export * from './usage-events';
export * from './usage-reporter';
export * from './usage-reporter.module';
