/**
 * Exit codes are part of etcd-dr's contract with scripts and CI jobs; README.md documents them.
 * Only src/cli/main.ts turns an error into an exit code.
 */
export const EXIT = {
  ok: 0,
  /** a step failed while applying a change */
  failed: 1,
  /** bad input: usage, inventory, plan file; nothing was done on any node */
  badInput: 2,
  /** refused for safety: quorum intact, stale plan, lock held, unknown or changed host key */
  refused: 3,
  /** verification failed after a change */
  verifyFailed: 4,
  /** `status`: quorum holds but some members are down or lagging */
  degraded: 5,
  /** `status`: too few members are up for a quorum */
  quorumLost: 6,
  /** `status`: members disagree on membership or cluster id, or env files disagree with membership */
  inconsistent: 7,
  /** a write on the bastion failed (disk full, read-only, permissions): the message names the path and the room needed; the run resumes after room is made, or from a copy of its run dir in another state dir */
  bastionWrite: 8,
  /** interrupted by SIGINT (128 + 2, as a shell reports it); the current step finished, the journal says where */
  interrupted: 130,
  /** stopped by SIGTERM (128 + 15, as a shell reports it); the current step finished, the journal says where */
  terminated: 143,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error that carries the exit code and a message written for the operator. */
export class ExitError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    /** what the user can do about it, printed after the message */
    readonly hint?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** One problem with user input, located as precisely as the input allows. */
export interface InputProblem {
  file?: string;
  line?: number;
  column?: number;
  /** dotted path of the field, e.g. `nodes[1].address` */
  field?: string;
  message: string;
}

export function formatProblem(p: InputProblem): string {
  const where = [p.file, p.line !== undefined ? String(p.line) : undefined, p.column !== undefined && p.line !== undefined ? String(p.column) : undefined]
    .filter((x): x is string => x !== undefined)
    .join(':');
  const field = p.field ? `${p.field}: ` : '';
  return where ? `${where}: ${field}${p.message}` : `${field}${p.message}`;
}

/** Bad input (exit 2). Holds every problem found, so the user can fix them all in one go. */
export class InputError extends ExitError {
  constructor(
    readonly problems: InputProblem[],
    headline?: string,
  ) {
    const head = headline ?? (problems.length === 1 ? 'invalid input' : `${problems.length} problems in the input`);
    super(`${head}:\n${problems.map((p) => `  - ${formatProblem(p)}`).join('\n')}`, EXIT.badInput);
  }
}

/** Refused for safety (exit 3): the message says why and what would make it safe. */
export class RefusedError extends ExitError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.refused, hint);
  }
}

/** A step failed while changing the cluster (exit 1). */
export class ApplyError extends ExitError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.failed, hint);
  }
}

export class VerificationError extends ExitError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.verifyFailed, hint);
  }
}

/** A bug or an impossible state: reported with its stack, exit 1. */
export class InternalError extends Error {
  override name = 'InternalError';
}
