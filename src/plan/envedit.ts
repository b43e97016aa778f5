import { diffEnv } from '../etcd/envdiff.js';
import { parseEnvFile, render, setVars } from '../etcd/envfile.js';

/** The env file text with `changes` applied (every other byte kept) and the diff a reviewer reads. */
export function editEnvText(before: string, changes: Record<string, string>, path?: string): { text: string; diff: string } {
  const text = render(setVars(parseEnvFile(before), changes));
  return { text, diff: diffEnv(before, text, path === undefined ? {} : { path }).trimEnd() };
}
