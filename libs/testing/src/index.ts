export * from './expect-eventually';
export * from './services';
export * from './test-context';
