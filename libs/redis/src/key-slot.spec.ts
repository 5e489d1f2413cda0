import { assertOneSlot, crc16, CrossSlotError, hashTag, keySlot } from './key-slot';

describe('keySlot', () => {
  it("computes Redis Cluster's CRC16 (XMODEM) and slots", () => {
    // The check value of CRC-16/XMODEM, and slots as CLUSTER KEYSLOT answers them.
    expect(crc16(Buffer.from('123456789'))).toBe(0x31c3);
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('bar')).toBe(5061);
    expect(keySlot('')).toBe(0);
  });

  it('hashes only the first non-empty hash tag', () => {
    expect(hashTag('tally:{ORG-1}:balance')).toBe('ORG-1');
    expect(hashTag('foo{}{bar}')).toBe('foo{}{bar}');
    expect(hashTag('foo{{bar}}zap')).toBe('{bar');
    expect(hashTag('foo{bar}{zap}')).toBe('bar');
    expect(hashTag('no-tag')).toBe('no-tag');
    expect(keySlot('{user1000}.following')).toBe(keySlot('{user1000}.followers'));
  });
});

describe('assertOneSlot', () => {
  it("accepts one organization's keys", () => {
    expect(() => assertOneSlot('s', ['p{ORG-1}:balance', 'p{ORG-1}:provisional', 'q{ORG-1}:rate:key:k'])).not.toThrow();
    expect(() => assertOneSlot('s', [])).not.toThrow();
  });

  it('refuses keys of two slots, naming the command and the keys', () => {
    const error = (() => {
      try {
        assertOneSlot('tallyX', ['p{ORG-1}:balance', 'p{ORG-2}:balance']);
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(CrossSlotError);
    expect((error as Error).message).toContain('tallyX');
    expect((error as Error).message).toContain('p{ORG-2}:balance');
  });
});
