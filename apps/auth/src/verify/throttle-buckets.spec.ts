import { addressBucket } from './throttle-buckets';

describe('addressBucket', () => {
  it('keeps an IPv4 address, also IPv4-mapped', () => {
    expect(addressBucket('198.51.100.7')).toBe('198.51.100.7');
    expect(addressBucket('::ffff:198.51.100.7')).toBe('198.51.100.7');
  });

  it('groups IPv6 addresses by /64, however they are written', () => {
    const bucket = addressBucket('2001:db8:7:1::1');
    expect(bucket).toBe('2001:db8:7:1::/64');
    expect(addressBucket('2001:0db8:0007:0001:ffff:1:2:3')).toBe(bucket);
    expect(addressBucket('2001:db8:7:1:0:0:0:9')).toBe(bucket);
    expect(addressBucket('2001:db8:7:2::1')).not.toBe(bucket);
    expect(addressBucket('::1')).toBe('0:0:0:0::/64');
    expect(addressBucket('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressBucket('2001:db8::1.2.3.4')).toBe('2001:db8:0:0::/64');
  });
});
