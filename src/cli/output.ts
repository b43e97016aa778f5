/**
 * The `--json` contract (docs/json.md): every command prints exactly one JSON document on stdout, errors
 * included. Commands hand their result to `ctx.out` instead of writing JSON themselves; main.ts writes the
 * one document when the command ends, whichever way it ends.
 */
import type { Writable } from 'node:stream';
import { EXIT, ExitError, InputError, type InputProblem } from '../util/errors.js';
import { terminalSafe } from '../util/terminal.js';

/** Bumped when a field is removed or changes meaning; new fields may appear in any version. */
export const JSON_SCHEMA_VERSION = 1;

/** What a command contributes to its document: `partial` parts as it goes (kept on error), the result at the end. */
export class JsonOut {
  private partial: Record<string, unknown> = {};
  private result: Record<string, unknown> | undefined;
  /** the command path, e.g. `status`, `plan recover`, `lab up` */
  command = '';

  /** Fields the document carries even if the command fails later (the plan, the run's id and dir). */
  add(fields: Record<string, unknown>): void {
    Object.assign(this.partial, fields);
  }

  /** The command's result: its fields go at the top level of the document. */
  set(fields: Record<string, unknown>): void {
    this.result = fields;
  }

  document(exitCode: number): Record<string, unknown> {
    return { schemaVersion: JSON_SCHEMA_VERSION, command: this.command, exitCode, ...this.partial, ...(this.result ?? {}) };
  }

  errorDocument(err: unknown, exitCode: number): Record<string, unknown> {
    return { schemaVersion: JSON_SCHEMA_VERSION, command: this.command, ...this.partial, exitCode, ...errorFields(err, exitCode) };
  }
}

const KINDS: Record<number, string> = {
  [EXIT.failed]: 'failed',
  [EXIT.badInput]: 'bad-input',
  [EXIT.refused]: 'refused',
  [EXIT.verifyFailed]: 'verification-failed',
  [EXIT.interrupted]: 'interrupted',
  [EXIT.terminated]: 'terminated',
};

/** `error` (the message), `kind`, `hint`, and for bad input the problems with file, line and field. */
export function errorFields(err: unknown, exitCode: number): Record<string, unknown> {
  if (!(err instanceof ExitError)) {
    return { error: err instanceof Error ? err.message : String(err), kind: 'internal' };
  }
  const problems: InputProblem[] | undefined = err instanceof InputError ? err.problems : undefined;
  const first = problems?.[0];
  return {
    error: err.message,
    kind: KINDS[exitCode] ?? 'failed',
    ...(err.hint ? { hint: err.hint } : {}),
    ...(first?.file ? { file: first.file } : {}),
    ...(first?.field ? { field: first.field } : {}),
    ...(problems ? { problems } : {}),
  };
}

/** The command path from parsed arguments: `plan recover`, `lab up`, `status`. */
export function commandPath(words: readonly (string | number)[]): string {
  const w = words.map(String);
  return (w[0] === 'plan' || w[0] === 'lab' || w[0] === 'inventory' ? w.slice(0, 2) : w.slice(0, 1)).join(' ');
}

/** `--json` as written on the command line, for errors found before yargs has parsed it. */
export function jsonRequested(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '--json' || a === '--json=true') return true;
  }
  return false;
}

/** Write the one document; everything in it is made terminal-safe (C1 controls become \u escapes). */
export function writeDocument(stdout: Writable, doc: Record<string, unknown>): void {
  stdout.write(terminalSafe(`${JSON.stringify(doc, null, 2)}\n`));
}
