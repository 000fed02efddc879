import { newRunId, runIdTime } from '../src';

describe('newRunId', () => {
  it('makes 26-character ULIDs that sort by creation time', () => {
    const ids = Array.from({ length: 1000 }, () => newRunId());
    expect(new Set(ids).size).toBe(1000);
    expect([...ids].sort()).toEqual(ids);
    for (const id of ids) expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  it('encodes the time it was made', () => {
    const at = Date.now() + 60_000; // ahead of every id made so far (ids never go back in time)
    expect(runIdTime(newRunId(at))).toBe(at);
    const later = newRunId(at + 1000);
    expect(newRunId(at - 5000) > later).toBe(true); // a clock that steps back never breaks the order
    expect(runIdTime(later)).toBe(at + 1000);
  });
});
