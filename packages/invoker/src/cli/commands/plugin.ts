import { resolve } from 'node:path';
import { EXIT, UsageError } from '../exit-codes';
import { parseCommandArgs, type Io } from '../io';

const HELP = `Usage: pipeline plugin check [dir] [--json]

Check a handler plugin package (default: the current folder) against the contract, as the
invoker will use it: its manifest (services, contract range, peer range on core, a packed entry
point), what importing it does (no undeclared modules, nothing left running), each handler's
payload schema (refuses a missing or unknown run_type, accepts the manifest's examples), a run
of each service's first example, a cancelled run (settles within 2 s), and the README.

Exit codes: 0 no findings, 5 findings (each with its code, service and fix), 2 bad arguments.
`;

/** `pipeline plugin check [dir]`. */
export async function plugin(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs('plugin', args, { json: { type: 'boolean' } });
  if (values.help) return (void io.out(HELP), EXIT.OK);
  if (positionals[0] !== 'check' || positionals.length > 2)
    throw new UsageError('the only plugin command is `pipeline plugin check [dir]`.');
  const dir = resolve(io.cwd, positionals[1] ?? '.');
  // the testing kit (and what it loads) is needed by this command only
  const { checkPluginConformance } = await import('../../testing/conformance.js');
  const findings = await checkPluginConformance(dir);
  if (values.json) io.out(`${JSON.stringify({ package: dir, findings }, null, 2)}\n`);
  else if (findings.length === 0) io.out(`${dir}: no findings, the plugin conforms.\n`);
  else
    io.out(
      `${dir}: ${findings.length} finding(s)\n${findings
        .map((f) => `  [${f.code}]${f.service ? ` ${f.service}:` : ''} ${f.message}\n      fix: ${f.fix}\n`)
        .join('')}`,
    );
  return findings.length ? EXIT.PLUGIN_FAILED : EXIT.OK;
}
