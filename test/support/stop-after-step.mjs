/**
 * Preloaded into an etcd-dr process by the fault suites (`node --import <this file> bin/etcd-dr.js …`)
 * to hold it at an exact step boundary: when the run's journal records `step-done` of the step named in
 * ETCD_DR_STOP_AFTER_STEP (`*`: of any step), the process stops itself (SIGSTOP) in the same instant,
 * before any code of the next step runs. The suite then kills it with SIGKILL, so "killed right after
 * step N" means exactly that, whatever the machine's load.
 *
 * Nothing else changes: etcd-dr writes its journal with appendFileSync, which is wrapped here and still
 * does the write itself first.
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const step = process.env.ETCD_DR_STOP_AFTER_STEP;
if (step) {
  // `*`: whichever step this process finishes first
  const marker = step === '*' ? '"event":"step-done"' : `"event":"step-done","step":${JSON.stringify(step)}`;
  const append = fs.appendFileSync;
  fs.appendFileSync = function appendFileSync(path, data, ...rest) {
    append.call(fs, path, data, ...rest);
    if (String(path).endsWith('journal.jsonl') && String(data).includes(marker)) process.kill(process.pid, 'SIGSTOP');
  };
  // the ESM named export `appendFileSync` of node:fs follows the patched function from here on
  syncBuiltinESMExports();
}
