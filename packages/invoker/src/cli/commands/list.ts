import { discoverPlugins } from '../../discovery/manifest';
import { compareNames } from '../compare-names';
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
