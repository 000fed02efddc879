import { HELP } from '../src/cli/main';

describe('pipeline --help', () => {
  const commands = HELP.slice(HELP.indexOf('Commands:\n') + 10, HELP.indexOf('\n\nOptions:')).split('\n');

  it('lists every command apart from its summary, the summaries in one column', () => {
    const parsed = commands.map((line) => /^ {2}([a-z]+)( {2,})(\S.*)$/.exec(line));
    expect(parsed.every(Boolean)).toBe(true);
    const columns = new Set(parsed.map((m) => m![1]!.length + m![2]!.length));
    expect(columns.size).toBe(1);
    expect(HELP).toContain('  dashboard  the run dashboard in the browser');
    expect(HELP).not.toMatch(/dashboarddashboard/);
  });

  it('no summary repeats its command name as a label', () => {
    for (const line of commands) {
      const [, name, summary] = /^ {2}([a-z]+)\s+(.*)$/.exec(line)!;
      expect([name, summary!.startsWith(`${name}:`)]).toEqual([name, false]);
    }
  });
});
