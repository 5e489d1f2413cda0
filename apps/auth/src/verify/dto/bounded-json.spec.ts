import { outOfBounds } from './bounded-json';

describe('outOfBounds (verify params)', () => {
  it('accepts ordinary params', () => {
    expect(
      outOfBounds({ shape: 'large', maxLifeSeconds: 3600, tags: ['a', 'b'], env: { A: '1' } }, 'params'),
    ).toBeUndefined();
  });

  it('names the field that breaks a bound', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 30_000; i++) deep = [deep];
    expect(outOfBounds({ deep }, 'params')).toMatchObject({ field: 'params.deep[0][0][0]' });
    expect(outOfBounds({ a: { b: { c: { d: 1 } } } }, 'params')).toBeUndefined();
    expect(outOfBounds({ a: { b: { c: { d: { e: 1 } } } } }, 'params')).toMatchObject({ field: 'params.a.b.c.d' });
    const wide = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i]));
    expect(outOfBounds(wide, 'params')).toMatchObject({ field: 'params' });
    expect(outOfBounds({ shape: 'lar\u0000ge' }, 'params')).toMatchObject({ field: 'params.shape' });
    expect(outOfBounds({ 'a\nb': 1 }, 'params')).toMatchObject({ field: 'params' });
    expect(outOfBounds({ blob: 'x'.repeat(5_000) }, 'params')).toMatchObject({ field: 'params' });
  });
});
