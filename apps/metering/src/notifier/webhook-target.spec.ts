import { isPrivateAddress, literalTargetRefusal, targetRefusal } from './webhook-target';

describe('webhook targets', () => {
  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '172.20.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '::1',
    '::',
    'fd00::1',
    'fe80::1',
    '::ffff:127.0.0.1',
  ])('refuses %s', (address) => expect(isPrivateAddress(address)).toBe(true));
  it.each(['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8'])('allows %s', (address) =>
    expect(isPrivateAddress(address)).toBe(false),
  );

  it('refuses local names and private literals as written', () => {
    expect(literalTargetRefusal('http://localhost:3000/x')).toMatch(/not a public host/);
    expect(literalTargetRefusal('http://metadata.google.internal/computeMetadata')).toMatch(/not a public host/);
    expect(literalTargetRefusal('http://[::1]:6379/')).toMatch(/private address/);
    expect(literalTargetRefusal('https://hooks.example.com/tally')).toBeNull();
  });

  it('refuses a name that resolves inward, before each delivery', async () => {
    const resolveTo = (address: string) => (async () => [{ address, family: 4 }]) as never;
    expect(await targetRefusal('https://evil.example/hook', resolveTo('10.0.0.5'))).toMatch(/resolves to the private/);
    expect(await targetRefusal('https://hooks.example/hook', resolveTo('93.184.216.34'))).toBeNull();
  });
});
