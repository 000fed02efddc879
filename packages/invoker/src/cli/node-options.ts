/**
 * The options of `wanted` (node flags `--name=value`) this process was not started with. One
 * whose name is among the process's own flags or in `NODE_OPTIONS` is left out whatever its
 * value: the user's setting wins. V8 accepts `_` for `-` in a flag's name; so does this.
 */
export function missingNodeOptions(
  wanted: readonly string[],
  execArgv: readonly string[],
  nodeOptionsEnv: string | undefined,
): string[] {
  const given = new Set([...execArgv, ...(nodeOptionsEnv ?? '').split(/\s+/)].map(flagName));
  return wanted.filter((option) => !given.has(flagName(option)));
}

const flagName = (flag: string): string => flag.split('=')[0]!.replace(/_/g, '-');
