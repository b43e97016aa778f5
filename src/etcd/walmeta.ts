/**
 * Reads the member id and cluster id of a stopped member from the start of one of its WAL files.
 *
 * Every WAL segment starts with a CRC record and then a metadata record whose payload is
 * `etcdserverpb.Metadata { uint64 NodeID = 1; uint64 ClusterID = 2; }`. This is the only place a stopped
 * member's cluster id can be read without starting it, and etcd-dr needs it to refuse to mix data from
 * two different clusters. Frames: little-endian uint64, low 56 bits = record length, top byte
 * 0x80 | padding when zero bytes follow the record to align it to 8 bytes. Record: walpb.Record { int64 type = 1;
 * uint32 crc = 2; bytes data = 3; }.
 */

export interface WalMetadata {
  /** member id, 16 lowercase hex digits */
  memberId: string;
  /** cluster id, 16 lowercase hex digits */
  clusterId: string;
}

const METADATA_TYPE = 1n;

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (let i = pos; i < buf.length && i < pos + 10; i++) {
    const b = buf[i] as number;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, i + 1];
    shift += 7n;
  }
  throw new Error('truncated varint');
}

/** Decodes a protobuf message into field number → list of (varint value | bytes). */
function decodeFields(buf: Buffer): Map<number, (bigint | Buffer)[]> {
  const out = new Map<number, (bigint | Buffer)[]>();
  let pos = 0;
  while (pos < buf.length) {
    const [key, p1] = readVarint(buf, pos);
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    let value: bigint | Buffer;
    if (wire === 0) {
      [value, pos] = readVarint(buf, p1);
    } else if (wire === 2) {
      const [len, p2] = readVarint(buf, p1);
      const end = p2 + Number(len);
      if (end > buf.length) throw new Error('truncated field');
      value = buf.subarray(p2, end);
      pos = end;
    } else if (wire === 1) {
      value = buf.subarray(p1, p1 + 8);
      pos = p1 + 8;
    } else if (wire === 5) {
      value = buf.subarray(p1, p1 + 4);
      pos = p1 + 4;
    } else {
      throw new Error(`unsupported wire type ${wire}`);
    }
    const list = out.get(field) ?? [];
    list.push(value);
    out.set(field, list);
  }
  return out;
}

const hex = (v: bigint): string => v.toString(16).padStart(16, '0');

/** Parses the head (a few KiB are enough) of a WAL segment; undefined when no metadata record is found. */
export function parseWalMetadata(head: Buffer): WalMetadata | undefined {
  let pos = 0;
  // The metadata record is the second record of a segment; look at a few records at most.
  for (let n = 0; n < 4 && pos + 8 <= head.length; n++) {
    const frame = head.readBigUInt64LE(pos);
    const len = Number(frame & 0x00ffffffffffffffn);
    const padded = (frame & 0x8000000000000000n) !== 0n;
    const pad = padded ? Number((frame >> 56n) & 0x7n) : 0;
    const start = pos + 8;
    const end = start + len; // the length excludes the padding that follows the record
    if (len === 0 || end > head.length) return undefined;
    let rec: Map<number, (bigint | Buffer)[]>;
    try {
      rec = decodeFields(head.subarray(start, end));
    } catch {
      return undefined;
    }
    const type = rec.get(1)?.[0];
    const data = rec.get(3)?.[0];
    if (type === METADATA_TYPE && Buffer.isBuffer(data)) {
      const md = decodeFields(data);
      const node = md.get(1)?.[0];
      const cluster = md.get(2)?.[0];
      if (typeof node === 'bigint' && typeof cluster === 'bigint') return { memberId: hex(node), clusterId: hex(cluster) };
      return undefined;
    }
    pos = end + pad;
  }
  return undefined;
}
