/** A public key blob in SSH wire format: string type, string key bytes (enough for matching known_hosts). */
export function blob(type: string, seed: number): Buffer {
  const t = Buffer.from(type);
  const k = Buffer.alloc(32, seed);
  const b = Buffer.alloc(8 + t.length + k.length);
  b.writeUInt32BE(t.length, 0);
  t.copy(b, 4);
  b.writeUInt32BE(k.length, 4 + t.length);
  k.copy(b, 8 + t.length);
  return b;
}
