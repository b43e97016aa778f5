import { EventEmitter } from 'node:events';
import { appendFileSync, mkdtempSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { FileDiscardedError, readGrowing, type GrowingFile } from '../../src/util/growing-file.js';

/** A file written chunk by chunk on a timer, as a download writes its temp file, then renamed or dropped. */
class Writer implements GrowingFile {
  written = 0;
  state: GrowingFile['state'] = 'writing';
  private readonly ev = new EventEmitter();
  constructor(
    readonly path: string,
    readonly finalPath: string,
  ) {
    writeFileSync(path, '');
  }
  watch(cb: () => void): () => void {
    this.ev.on('c', cb);
    return () => this.ev.off('c', cb);
  }
  write(b: Buffer): void {
    appendFileSync(this.path, b);
    this.written += b.length;
    this.ev.emit('c');
  }
  complete(): void {
    renameSync(this.path, this.finalPath);
    this.state = 'complete';
    this.ev.emit('c');
  }
  discard(): void {
    this.state = 'discarded';
    unlinkSync(this.path);
    this.ev.emit('c');
  }
}

const tick = () => new Promise((r) => setTimeout(r, 1));

async function drain(s: NodeJS.ReadableStream, slow = false): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) {
    parts.push(c as Buffer);
    if (slow) await tick();
  }
  return Buffer.concat(parts);
}

function writer(): Writer {
  const dir = mkdtempSync(join(tmpdir(), 'etcd-dr-grow-'));
  return new Writer(join(dir, '.db.x.part'), join(dir, 'db'));
}

describe('readGrowing: a file read while it is written', () => {
  const chunks = Array.from({ length: 40 }, (_, i) => randomBytes(1000 + i * 997));
  const whole = Buffer.concat(chunks);

  it.each([
    ['a reader as fast as the writer', false, 1 << 20],
    ['a reader slower than the writer', true, 1 << 20],
    ['a reader whose chunks are smaller than the writes', false, 777],
  ])('%s gets every byte in order and ends once the file is complete and renamed', async (_name, slow, chunk) => {
    const w = writer();
    const reading = drain(readGrowing(w, chunk), slow);
    for (const c of chunks) {
      w.write(c);
      await tick();
    }
    w.complete();
    expect((await reading).equals(whole)).toBe(true);
  });

  it('a reader that starts after the file was renamed into place reads the final file', async () => {
    const w = writer();
    for (const c of chunks) w.write(c);
    w.complete();
    expect((await drain(readGrowing(w))).equals(whole)).toBe(true);
  });

  it('a reader that has caught up waits, and does not end before the file is complete', async () => {
    const w = writer();
    let ended = false;
    const reading = drain(readGrowing(w)).then((b) => ((ended = true), b));
    w.write(chunks[0]!);
    for (let i = 0; i < 20; i++) await tick();
    expect(ended).toBe(false);
    w.write(chunks[1]!);
    w.complete();
    expect((await reading).equals(Buffer.concat([chunks[0]!, chunks[1]!]))).toBe(true);
  });

  it.each([
    ['before the reader opened it', 0],
    ['after some bytes were read', 5],
  ])('a file discarded %s fails the reader', async (_name, before) => {
    const w = writer();
    for (const c of chunks.slice(0, before)) w.write(c);
    const s = readGrowing(w);
    if (!before) w.discard();
    const reading = drain(s);
    if (before) {
      await tick();
      w.discard();
    }
    await expect(reading).rejects.toBeInstanceOf(before ? FileDiscardedError : Error);
  });
});
