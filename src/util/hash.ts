import { createHash } from 'node:crypto';

/** sha256 of a text (UTF-8), lowercase hex: what `sha256sum` prints for the same bytes. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
