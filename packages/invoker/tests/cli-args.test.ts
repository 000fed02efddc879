// A command run without arguments gets parseArgs' answer without loading parseArgs.
import { parseArgs } from 'node:util';
import { parseCommandArgs } from '../src/cli/io';

describe('parseCommandArgs without arguments', () => {
  it('answers as parseArgs does: empty positionals, empty values without a prototype', () => {
    const options = { json: { type: 'boolean' }, since: { type: 'string' } } as const;
    const ours = parseCommandArgs('list', [], options);
    const theirs = parseArgs({
      args: [],
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
    });
    // (compared part by part: parseArgs' arrays come from Node's realm, not the test's)
    const shape = (r: { values: object; positionals: string[] }) => ({
      keys: Object.keys(r),
      prototypes: [Object.getPrototypeOf(r), Object.getPrototypeOf(r.values)],
      values: Object.keys(r.values),
      positionals: [Array.isArray(r.positionals), r.positionals.length],
    });
    expect(shape(ours)).toEqual(shape(theirs));
    expect(Object.getPrototypeOf(ours.values)).toBeNull();
  });

  it('still fills in defaults through parseArgs', () => {
    const { values } = parseCommandArgs('runs', [], { limit: { type: 'string', default: '20' } });
    expect(values).toEqual({ limit: '20' });
  });
});
