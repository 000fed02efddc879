// `pipeline list` orders services and packages as localeCompare does, without building ICU's
// collator for plain names.
import fc from 'fast-check';
import { compareNames } from '../src/cli/commands/list';

const name = fc.string({ unit: fc.constantFrom(...'_-.@/~09aAbBzZ'.split(''), 'é', ' ', 'ß'), maxLength: 6 });

describe('compareNames', () => {
  it('orders 5,000 random pairs of names as localeCompare does (fast-check)', () => {
    fc.assert(
      fc.property(name, name, (a, b) => {
        expect(compareNames(a, b)).toBe(Math.sign(a.localeCompare(b)));
      }),
      { numRuns: 5000 },
    );
  });

  it('sorts services the way a reader expects: case and punctuation as localeCompare has them', () => {
    const services = ['b', 'B', 'a_b', 'ab', 'aB', 'Ab', 'a-b', 'a.b', 'a', 'A', 'a10', 'a9', '@scope/x', 'z'];
    expect([...services].sort(compareNames)).toEqual([...services].sort((x, y) => x.localeCompare(y)));
  });
});
