export * from './api-key-guard.module';
export * from './api-key.guard';
export * from './require-action.decorator';
export * from './required-action';
export * from './verify-client';
