/**
 * Where a download's bytes go: a temp file next to the destination, hashed as it is written, then
 * fsynced and renamed over the destination.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ftruncate as ftruncateFd, close as fsClose, createWriteStream, fsync as fsFsync, open as fsOpen, type WriteStream } from 'node:fs';
import { EventEmitter } from 'node:events';
import { chmod, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { GrowingFile } from '../util/growing-file.js';

const openFd = promisify(fsOpen);
const fsyncFd = promisify(fsFsync);
const closeFd = promisify(fsClose);

/**
 * Where a download's bytes go: a temp file next to the destination (`.<name>.<random>.part`), hashed as
 * it is written. The temp files an earlier, interrupted download to the same destination left (a killed
 * process cannot discard its own) are removed first: one destination has one download at a time.
 */
export class FileSink implements GrowingFile {
  bytes = 0;
  /** bytes the file holds so far (writes that completed), for a reader following it */
  written = 0;
  state: GrowingFile['state'] = 'writing';
  private readonly changes = new EventEmitter();
  private readonly hash = createHash('sha256');
  private fdOpen = true;
  /** the first failed write (a full disk): the rest of the stream is read and dropped, commit throws it */
  failed: NodeJS.ErrnoException | undefined;
  private constructor(
    // a plain descriptor, not a FileHandle: FileHandle.close() waits for a write stream made from it to
    // close, and with autoClose off (we fsync before closing) it never does
    private readonly fd: number,
    private readonly ws: WriteStream,
    readonly tmp: string,
    readonly finalPath: string,
  ) {
    this.changes.setMaxListeners(0);
  }

  get path(): string {
    return this.tmp;
  }

  watch(cb: () => void): () => void {
    this.changes.on('change', cb);
    return () => this.changes.off('change', cb);
  }

  private changed(state?: GrowingFile['state']): void {
    if (state) this.state = state;
    this.changes.emit('change');
  }

  static async create(localPath: string): Promise<FileSink> {
    const dir = dirname(localPath);
    const prefix = `.${basename(localPath)}.`;
    const stale = (await readdir(dir)).filter((f) => f.startsWith(prefix) && f.endsWith('.part'));
    await Promise.all(stale.map((f) => unlink(join(dir, f)).catch(() => undefined)));
    const tmp = join(dir, `${prefix}${randomBytes(6).toString('hex')}.part`);
    const fd = await openFd(tmp, 'wx', 0o600);
    const sink = new FileSink(fd, createWriteStream('', { fd, autoClose: false }), tmp, localPath);
    // a write error (ENOSPC) is kept and reported by commit, never an unhandled 'error' event
    sink.ws.on('error', (e: NodeJS.ErrnoException) => {
      if (sink.failed) return;
      sink.failed = e;
      // the bytes written so far are no use: give their room back at once (the journal shares that disk)
      if (sink.fdOpen) ftruncateFd(fd, 0, () => undefined);
    });
    return sink;
  }

  /** false when the caller should wait for `onDrain` */
  write(chunk: Buffer): boolean {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    if (this.failed || this.ws.destroyed) return true;
    return this.ws.write(chunk, (err) => {
      if (err || this.failed) return;
      this.written += chunk.length;
      this.changed();
    });
  }

  onDrain(cb: () => void): void {
    if (this.failed) return cb();
    const go = (): void => {
      this.ws.off('drain', go);
      this.ws.off('error', go);
      cb();
    };
    this.ws.once('drain', go);
    this.ws.once('error', go);
  }

  private async flush(): Promise<void> {
    if (this.failed) throw this.failed;
    if (this.ws.writableFinished) return;
    await new Promise<void>((resolve, reject) => {
      this.ws.once('error', reject);
      this.ws.end(() => resolve());
    });
  }

  private async closeFd(): Promise<void> {
    if (!this.fdOpen) return;
    this.fdOpen = false;
    await closeFd(this.fd);
  }

  /** fsync, set the mode, rename over the destination, fsync the directory */
  async commit(localPath: string, mode: number): Promise<{ bytes: number; sha256: string }> {
    try {
      await this.flush();
      await fsyncFd(this.fd);
    } finally {
      await this.closeFd();
    }
    if (mode !== 0o600) await chmod(this.tmp, mode);
    await rename(this.tmp, localPath);
    const dirFd = await openFd(dirname(localPath), 'r');
    try {
      await fsyncFd(dirFd);
    } finally {
      await closeFd(dirFd);
    }
    this.changed('complete');
    return { bytes: this.bytes, sha256: this.hash.digest('hex') };
  }

  async discard(): Promise<void> {
    this.changed('discarded');
    await this.flush().catch(() => {});
    await this.closeFd().catch(() => {});
    await unlink(this.tmp).catch(() => {});
  }
}

