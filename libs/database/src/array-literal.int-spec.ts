import { createTestContext, TestContext } from '@tally/testing';
import fc from 'fast-check';
import { Client } from 'pg';
import { pgArrayLiteral, withArrayLiterals } from './array-literal';

/** PostgreSQL reads each literal as the same array node-postgres' own serialization gives it. */
describe('pgArrayLiteral', () => {
  jest.setTimeout(60_000);
  let ctx: TestContext;
  let client: Client;

  beforeAll(async () => {
    ctx = await createTestContext();
    client = new Client({ connectionString: ctx.databaseUrl });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
    await ctx?.dispose();
  });

  const same = async (type: string, values: unknown[]) => {
    const { rows } = await client.query(`SELECT $1::${type}[] IS NOT DISTINCT FROM $2::${type}[] AS same`, [
      pgArrayLiteral(values),
      values,
    ]);
    return rows[0].same as boolean;
  };
  const nullable = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null });

  it('text, with quotes, backslashes, braces, commas, blanks, NULL as a word and unicode', async () => {
    const text = fc.string({ unit: 'binary', maxLength: 20 }).filter((s) => !s.includes('\u0000'));
    const tricky = fc.constantFrom('NULL', 'null', '', ' ', '"', '\\', '{a,b}', 'a,b', '\\"', 'ORG-01');
    await fc.assert(
      fc.asyncProperty(fc.array(nullable(fc.oneof(text, tricky)), { maxLength: 30 }), async (values) => {
        expect(await same('text', values)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('integers, bigints (as numbers and strings), booleans and timestamps', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(nullable(fc.integer()), { maxLength: 20 }),
        fc.array(nullable(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })), { maxLength: 20 }),
        fc.array(nullable(fc.boolean()), { maxLength: 20 }),
        fc.array(nullable(fc.date({ min: new Date('1970-01-01'), max: new Date('2200-01-01'), noInvalidDate: true })), {
          maxLength: 20,
        }),
        async (ints, bigints, booleans, dates) => {
          expect(await same('int', ints)).toBe(true);
          expect(await same('bigint', bigints)).toBe(true);
          expect(
            await same(
              'bigint',
              bigints.map((b) => (b === null ? null : b.toString())),
            ),
          ).toBe(true);
          expect(await same('boolean', booleans)).toBe(true);
          expect(await same('timestamptz', dates)).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('leaves what it does not know to node-postgres, and scalars alone', () => {
    const nested = [[1, 2]];
    expect(pgArrayLiteral(nested)).toBe(nested);
    const invalid = [new Date(Number.NaN)];
    const params = withArrayLiterals(['x', 3, ['a', null], invalid]);
    expect(params.slice(0, 3)).toEqual(['x', 3, '{"a",NULL}']);
    expect(params[3]).toBe(invalid);
  });
});
