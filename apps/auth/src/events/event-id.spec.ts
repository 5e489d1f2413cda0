import { decodeTime } from 'ulid';
import { eventId } from './event-id';

describe('eventId', () => {
  it('is a ULID whose time part decodes to the given millisecond', () => {
    const now = 1_795_711_000_123;
    const id = eventId(now);
    expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(decodeTime(id)).toBe(now);
  });

  it('does not repeat over many ids (80 random bits each, across pool refills)', () => {
    const ids = new Set(Array.from({ length: 5_000 }, () => eventId(1)));
    expect(ids.size).toBe(5_000);
  });
});
