import { ValueTransformer } from 'typeorm';

/** PostgreSQL bigint travels as a string through `pg`; on the money path it becomes a BigInt, never a float. */
export const bigintTransformer: ValueTransformer = {
  to: (value: bigint | null | undefined) => (value === null || value === undefined ? value : value.toString()),
  from: (value: string | null) => (value === null ? null : BigInt(value)),
};
