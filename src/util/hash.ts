import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** sha256 of a text (UTF-8), lowercase hex: what `sha256sum` prints for the same bytes. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** sha256 (lowercase hex) and size of a file, read as a stream: for files of any size. */
export async function sha256OfFile(path: string): Promise<{ bytes: number; sha256: string }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    h.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { bytes, sha256: h.digest('hex') };
}
