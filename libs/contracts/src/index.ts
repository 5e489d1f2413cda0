export * from './actions';
export * from './api-key-format';
export * from './error-codes';
export * from './events';
export * from './topics';
export * from './units';
