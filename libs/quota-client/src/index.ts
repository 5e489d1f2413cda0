export * from './admission-client';
