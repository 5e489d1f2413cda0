/** Redis Cluster's hash slots: CRC16 (XMODEM) of the key's hash tag, modulo 16384. */
export const SLOT_COUNT = 16384;

const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
})();

export function crc16(data: Buffer): number {
  let crc = 0;
  for (const byte of data) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ byte) & 0xff];
  return crc;
}

/** The part of a key that is hashed: the first non-empty `{...}`, else the whole key. */
export function hashTag(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  if (close < 0 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

export function keySlot(key: string): number {
  return crc16(Buffer.from(hashTag(key), 'utf8')) % SLOT_COUNT;
}

/** Thrown before a multi-key command is sent whose keys would live on different cluster slots. */
export class CrossSlotError extends Error {
  constructor(
    readonly command: string,
    readonly keys: string[],
  ) {
    super(`CROSSSLOT: ${command} touches keys of different Redis Cluster slots: ${keys.join(', ')}`);
    this.name = 'CrossSlotError';
  }
}

/** Throws CrossSlotError unless every key hashes to one slot (what a cluster requires of a script). */
export function assertOneSlot(command: string, keys: readonly string[]): void {
  if (keys.length < 2) return;
  const slot = keySlot(keys[0]);
  if (keys.some((key) => keySlot(key) !== slot)) throw new CrossSlotError(command, [...keys]);
}
