/* The configuration `npm start` gave the apps (.tally/stack.env, written by scripts/stack.sh), for
 * the tools run after it (simulate, token): a variable set in the environment wins. */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** The repository root, from dist/scripts/ or scripts/. */
export const repositoryRoot = (): string => join(__dirname, basename(dirname(__dirname)) === 'dist' ? '../..' : '..');

/** TALLY_STACK_ENV names another file (a stack started elsewhere; the tests). */
export function loadStackEnv(
  file = process.env.TALLY_STACK_ENV || join(repositoryRoot(), '.tally', 'stack.env'),
): void {
  if (!existsSync(file)) return;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const at = line.indexOf('=');
    if (at <= 0) continue;
    const name = line.slice(0, at);
    if (process.env[name] === undefined) process.env[name] = line.slice(at + 1);
  }
}

/** A required variable, named in the error together with how to get it. */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required: run \`npm start\` first (it writes .tally/stack.env) or set it`);
  return value;
}
