import { discoverPlugins } from '../../discovery/manifest';
import { EXIT } from '../exit-codes';
import { parseCommandArgs, table, type Io } from '../io';

const HELP = `Usage: pipeline list [--json]

List the services of the handler plugins installed in this project (the dependencies of the
nearest package.json that declare a "pipelineInvocation" manifest). Reads manifests only: no
plugin code is loaded.

Options:
  --json      print [{service, package, version, contract}] as JSON
  -h, --help  show this help
`;

/** `pipeline list`. */
export async function list(args: string[], io: Io): Promise<number> {
  const { values } = parseCommandArgs('list', args, { json: { type: 'boolean' } }, false);
  if (values.help) return (void io.out(HELP), EXIT.OK);
  const discovery = discoverPlugins({ root: io.env.PIPELINE_ROOT || undefined });
  const rows = discovery.plugins
    .flatMap((p) =>
      p.services.map((service) => ({ service, package: p.packageName, version: p.version, contract: p.contract })),
    )
    .sort((a, b) => compareNames(a.service, b.service) || compareNames(a.package, b.package));
  for (const problem of discovery.problems)
    io.err(`pipeline list: skipped ${problem.packageName}: ${problem.message}\n`);
  const seen = new Map<string, string>();
  for (const row of rows) {
    const other = seen.get(row.service);
    if (other)
      io.err(
        `pipeline list: service "${row.service}" is claimed by both ${other} and ${row.package}; invoking it fails until one is removed\n`,
      );
    seen.set(row.service, row.package);
  }
  if (values.json) {
    io.out(`${JSON.stringify(rows, null, 2)}\n`);
  } else if (rows.length === 0) {
    io.err(
      `No handler plugins found in ${discovery.hostPackageJson ?? 'this folder (no package.json)'}. ` +
        'Install one, e.g. npm install @pipeline-invocation/handler-perspective-api\n',
    );
  } else {
    io.out(table([['SERVICE', 'PACKAGE', 'VERSION'], ...rows.map((r) => [r.service, r.package, r.version])]));
  }
  return EXIT.OK;
}

// Names are ordered as String.prototype.localeCompare does, without ICU's collator for the common
// case: creating one costs a cold `pipeline list` about 6 ms, a fifth of its time. (Here, not in a
// module of its own: each file is one more to find and read at a cold start.)

/** ICU's root (and English) order of these characters at the first level; letters ignore case there. */
const PRIMARY = '_-.@/~0123456789abcdefghijklmnopqrstuvwxyz';
/** The characters of service and npm package names that order as {@link PRIMARY} says. */
const SIMPLE = /^[A-Za-z0-9_.@/~-]*$/;

/**
 * Whether the process's default locale orders like English: ICU takes it from `LC_ALL`, then
 * `LC_MESSAGES`, then `LANG` (unset, `C` and `POSIX` mean `en-US`). Other languages may order
 * letters otherwise (Danish puts "aa" after "z").
 */
function defaultIsEnglish(env: NodeJS.ProcessEnv): boolean {
  const locale = env.LC_ALL || env.LC_MESSAGES || env.LANG || '';
  return locale === '' || /^(c|posix|en)([_.@-]|$)/i.test(locale);
}

const english = defaultIsEnglish(process.env);

/**
 * `a.localeCompare(b)`'s sign (-1, 0 or 1). Names of letters, digits and `_-.@/~` in an English
 * locale are compared here as ICU does (letters by their lowercase first, left to right, a shorter
 * name before a longer one it starts; then lowercase before uppercase, left to right); anything else
 * goes to localeCompare.
 */
export function compareNames(a: string, b: string): number {
  if (!english || !SIMPLE.test(a) || !SIMPLE.test(b)) return Math.sign(a.localeCompare(b));
  const lowerA = a.toLowerCase();
  const lowerB = b.toLowerCase();
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const at = PRIMARY.indexOf(lowerA[i]!) - PRIMARY.indexOf(lowerB[i]!);
    if (at !== 0) return Math.sign(at);
  }
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  for (let i = 0; i < n; i++) {
    const upperA = a[i] !== lowerA[i];
    if (upperA !== (b[i] !== lowerB[i])) return upperA ? 1 : -1;
  }
  return 0;
}
