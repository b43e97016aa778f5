import { readFileSync } from 'node:fs';
import { parseWalMetadata } from '../../src/etcd/walmeta.js';

const fixture = (f: string) => readFileSync(new URL(`../fixtures/wal/${f}`, import.meta.url));

describe('parseWalMetadata', () => {
  it('reads member and cluster id from a real etcd 3.4 WAL head (member 33fe3a4f450c4896 per `member list`)', () => {
    const md = parseWalMetadata(fixture('3.4-single-33fe3a4f450c4896.head'));
    expect(md?.memberId).toBe('33fe3a4f450c4896');
    // cluster id as `member list -w fields` printed it in decimal: 15866561323022044553
    expect(md?.clusterId).toBe('dc31597569ae4d89');
  });
  it.each([
    ['empty', Buffer.alloc(0)],
    ['zeros', Buffer.alloc(64)],
    ['garbage', Buffer.from('this is not a wal file at all, just text that is long enough')],
    ['truncated', () => fixture('3.4-single-33fe3a4f450c4896.head').subarray(0, 40)],
  ])('returns undefined for %s input', (_name, input) => {
    const buf = typeof input === 'function' ? input() : input;
    expect(parseWalMetadata(buf)).toBeUndefined();
  });
});
