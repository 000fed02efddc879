// A plugin's contract range is checked without semver when it is a plain caret range (a cold start
// then does not load semver): the answer must be semver's, for every range and version.
import fc from 'fast-check';
import satisfies from 'semver/functions/satisfies';
import validRange from 'semver/ranges/valid';
import { contractAccepts } from '../src/discovery/plugin-loader';
import { checkContract } from '../src';

const semverAnswer = (range: string, version: string) => !!validRange(range) && satisfies(version, range);
const part = fc.oneof(
  fc.constantFrom('0', '1', '2', '3', '10', '01', '999999999999999', '9999999999999999'),
  fc.nat(40).map(String),
);
const plainVersion = fc.tuple(part, part, part).map((p) => p.join('.'));

describe('contract ranges', () => {
  it('answers caret ranges as semver does, on 2,000 random ranges and versions (fast-check)', () => {
    fc.assert(
      fc.property(plainVersion, plainVersion, (base, version) => {
        expect(contractAccepts(`^${base}`, version)).toBe(semverAnswer(`^${base}`, version));
      }),
      { numRuns: 2000 },
    );
  });

  it('answers other ranges and versions through semver', () => {
    const ranges = [
      '>=1.0.0',
      '1.x',
      '~1.0.0',
      '^1.0',
      '^1',
      ' ^1.0.0',
      '^1.0.0 || ^2.0.0',
      '^1.0.0-beta',
      'not a range',
      '',
      '*',
    ];
    const versions = ['1.0.0', '1.2.3', '2.0.0', '0.9.0', '1.0.0-rc.1'];
    for (const range of ranges)
      for (const version of versions)
        expect([range, version, contractAccepts(range, version)]).toEqual([
          range,
          version,
          semverAnswer(range, version),
        ]);
  });

  it('refuses a plugin whose range excludes the contract, naming both', () => {
    expect(() => checkContract({ packageName: 'old-plugin', contract: '^0.9.0' })).toThrow(
      /old-plugin.*\^0\.9\.0.*1\.0\.0|1\.0\.0.*\^0\.9\.0/s,
    );
    expect(() => checkContract({ packageName: 'new-plugin', contract: '^1.0.0' })).not.toThrow();
  });
});
