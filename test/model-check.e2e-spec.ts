import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

/**
 * The model check (scripts/check-model.ts, issue 10) as CI runs it: 10 seeds of a small workload
 * against a real metering process with faults (duplicates, reports re-sent under a new id,
 * reordering across topics, poison, SIGKILL, Redis keys lost), each compared with the reference model. More by environment:
 * MODEL_CHECK_SEED (first seed), MODEL_CHECK_SEEDS (how many), MODEL_CHECK_EVENTS (per seed),
 * MODEL_CHECK_FLAGS (more of the script's flags).
 */
const ROOT = resolve(__dirname, '..');
const SEED = process.env.MODEL_CHECK_SEED ?? '1';
const SEEDS = process.env.MODEL_CHECK_SEEDS ?? '10';
const EVENTS = process.env.MODEL_CHECK_EVENTS ?? '40';
/** Extra flags, e.g. `--no-sequence-resends` (no runtime report re-sent under a new id). */
const FLAGS = (process.env.MODEL_CHECK_FLAGS ?? '').split(' ').filter(Boolean);

describe('model check', () => {
  jest.setTimeout(Number(SEEDS) * 120_000 + 120_000);

  it(`${SEEDS} seeds from ${SEED}, ${EVENTS} events each: the ledger equals the reference model`, async () => {
    const child = spawn(
      process.execPath,
      [resolve(ROOT, 'dist/scripts/check-model.js'), '--seed', SEED, '--seeds', SEEDS, '--events', EVENTS, ...FLAGS],
      { env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
    const code = await new Promise<number | null>((done) => child.once('exit', done));
    const summary = output.split('\n').filter((line) => /^(seed |model check| {2})/.test(line));
    expect({ code, summary }).toEqual({
      code: 0,
      summary: expect.arrayContaining([expect.stringMatching(/0 failed$/)]),
    });
  });
});
