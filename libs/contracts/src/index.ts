export * from './actions';
export * from './api-key-format';
export * from './error-codes';
export * from './errors';
export * from './events';
export * from './org-id';
export * from './topics';
export * from './units';
