/**
 * The bounds of every field metering stores from an upstream event (docs/EVENTS.md): an event
 * beyond one is poison, dead-lettered with the field named, never retried. Chosen so that no
 * stored value can fail a PostgreSQL column (text without NUL, btree-sized keys, int4 sequence,
 * int8 amounts) and no cost can overflow int8 at any catalog price.
 */
export const EVENT_BOUNDS = {
  /** CloudEvents `id`, key, admission, sandbox and run ids. */
  maxIdLength: 200,
  /** CloudEvents `source`. */
  maxSourceLength: 500,
  /** Shape names (`params.shape`, `data.shape`). */
  maxShapeLength: 64,
  /** `sandbox.create` lifetime and `sandbox.extend` seconds: ten years. */
  maxSeconds: 10 * 365 * 86_400,
  /** A runtime report's `runtimeMs` (time since the previous report): 31 days. */
  maxRuntimeMs: 31n * 86_400_000n,
  /** A runtime report's `sequence`: the holds column is int4. */
  maxSequence: 2 ** 31 - 1,
  /** An agent usage report's `credits`, in milli-credits: one billion credits. */
  maxAgentMilliCredits: 1_000_000_000_000n,
  /** How long before the broker's timestamp an event may be dated (buffered reports, backfills). */
  maxAgeMs: 35 * 86_400_000,
  /** How far after the broker's timestamp an event may be dated (clock skew). */
  maxAheadMs: 5 * 60_000,
} as const;
