import { FleetKindRow } from './fleet.repository';
import { kindView } from './fleet.service';

const row = (over: Partial<FleetKindRow>): FleetKindRow => ({
  granted: '36000000',
  remaining: '3600000',
  held: '1800000',
  available: '1800000',
  burnPerHour: '1234',
  owed: '0',
  emptyAt: null,
  firing: [],
  forecast: false,
  ...over,
});

describe('kindView', () => {
  it('shows integer units as decimal hours or credits', () => {
    expect(kindView('sandbox', row({}))).toMatchObject({
      granted: '10',
      remaining: '1',
      held: '0.5',
      available: '0.5',
      burnPerHour: '0.000343',
    });
    expect(kindView('agent', row({ available: '-1500' })).available).toBe('-1.5');
  });

  it('names the highest threshold firing (the lower ones were passed), depletion above all, then the forecast', () => {
    expect(kindView('sandbox', row({ firing: ['50', '80'] })).firing).toEqual(['80%']);
    expect(kindView('sandbox', row({ firing: ['95', '100', 'depleted'], forecast: true })).firing).toEqual([
      'depleted',
      'forecast',
    ]);
    expect(kindView('agent', row({ forecast: true })).firing).toEqual(['forecast']);
  });

  it('keeps time to empty as an ISO instant, or null when it never empties', () => {
    expect(kindView('sandbox', row({ emptyAt: new Date('2026-11-29T16:00:00Z') })).emptyAt).toBe(
      '2026-11-29T16:00:00.000Z',
    );
    expect(kindView('sandbox', row({})).emptyAt).toBeNull();
  });
});
