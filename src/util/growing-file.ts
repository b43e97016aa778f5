/**
 * Reading a file while another part of the same process still writes it: a download to the bastion
 * read on its way, so its bytes can be sent on before the download ends. The reader never holds more
 * than one chunk: it reads what the file holds so far, waits when it has caught up, and ends when the
 * writer says the file is complete.
 */
import { close, open, read } from 'node:fs';
import { Readable } from 'node:stream';

/**
 * A file while it is written: what a reader may read of it so far and how it ends. Bytes below
 * `written` are in the file and stay as they are; once `state` is `complete` the file stands at
 * `finalPath` (renamed there), and a `discarded` one is gone (its writer failed).
 */
export interface GrowingFile {
  /** the file the bytes are written to */
  readonly path: string;
  /** where the file stands once complete */
  readonly finalPath: string;
  readonly written: number;
  readonly state: 'writing' | 'complete' | 'discarded';
  /** calls `cb` at each change (bytes written, complete, discarded); returns the unsubscribe */
  watch(cb: () => void): () => void;
}

export class FileDiscardedError extends Error {
  constructor(path: string) {
    super(`${path} was discarded while it was read: its writer failed`);
    this.name = 'FileDiscardedError';
  }
}

/**
 * A stream of `f`'s bytes from the first, following it as it grows; it ends once `f` is complete and
 * read to its end, and fails if `f` is discarded first. The file is opened once (by its temp path, or
 * by its final path when it was renamed there before the open), so the rename never cuts the read.
 */
export function readGrowing(f: GrowingFile, chunkBytes = 1 << 20): Readable {
  let fd: number | undefined;
  let pos = 0;
  let busy = false;
  let unwatch: (() => void) | undefined;
  const stream: Readable = new Readable({
    highWaterMark: chunkBytes,
    construct(cb) {
      open(f.path, 'r', (err, d) => {
        if (!err) {
          fd = d;
          return cb();
        }
        if (err.code !== 'ENOENT' || f.state !== 'complete') return cb(f.state === 'discarded' ? new FileDiscardedError(f.path) : err);
        open(f.finalPath, 'r', (err2, d2) => {
          if (err2) return cb(err2);
          fd = d2;
          cb();
        });
      });
    },
    read() {
      pump();
    },
    destroy(err, cb) {
      unwatch?.();
      unwatch = undefined;
      if (fd === undefined) return cb(err);
      const d = fd;
      fd = undefined;
      close(d, () => cb(err));
    },
  });

  function pump(): void {
    if (busy || fd === undefined || stream.destroyed) return;
    if (f.state === 'discarded') {
      stream.destroy(new FileDiscardedError(f.path));
      return;
    }
    // read `state` before `written`: a writer marks a file complete only after its last write counted
    const complete = f.state === 'complete';
    const left = f.written - pos;
    // whole chunks while the writer is at work: a reader woken by each of its small writes would read
    // (and send on) a few KiB at a time, at a cost per read
    if (left >= chunkBytes || (left > 0 && complete)) {
      busy = true;
      const buf = Buffer.allocUnsafe(Math.min(left, chunkBytes));
      read(fd, buf, 0, buf.length, pos, (err, n) => {
        busy = false;
        if (err) return stream.destroy(err);
        if (n === 0) return stream.destroy(new Error(`${f.path}: ended at ${pos} bytes, ${f.written} expected`));
        pos += n;
        if (stream.push(n === buf.length ? buf : buf.subarray(0, n))) pump();
      });
      return;
    }
    if (complete) {
      stream.push(null);
      return;
    }
    // caught up with the writer (or less than a chunk ahead of it): wait for its next change
    if (unwatch) return;
    unwatch = f.watch(() => {
      unwatch?.();
      unwatch = undefined;
      pump();
    });
  }

  return stream;
}
