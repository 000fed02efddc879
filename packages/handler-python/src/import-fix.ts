/**
 * The fix to name when a service's entry point cannot be loaded, from the exception Python
 * raised while importing it. One place, used by the run's record and by the checks.
 *
 * @param entry - the entry point, `module.path:function`.
 * @param type - the exception's type name (`ModuleNotFoundError`, `AttributeError`, ...).
 * @param message - the exception's message.
 * @param where - the interpreter and the folders searched, e.g. `python3 from /srv/app`.
 */
export function importFix(entry: string, type: string, message: string, where: string): string {
  const [module = entry, fn = 'lambda_handler'] = entry.split(':');
  const importable =
    `make "${module}" importable by ${where} ` +
    '(set "pipelineInvocation.python.cwd" or "pythonPath" in package.json), or correct the entry point';
  if (type === 'ModuleNotFoundError') {
    const missing = /No module named '([^']+)'/.exec(message)?.[1];
    // the entry's own module (or a package on its path) is missing: a path problem
    if (!missing || module === missing || module.startsWith(`${missing}.`)) return importable;
    // the module was found, but something it imports was not: a dependency problem
    return (
      `"${module}" imports "${missing}", which ${where} cannot find: install it for that interpreter, ` +
      'or set PIPELINE_PYTHON (or "pipelineInvocation.python.interpreter") to the interpreter of the environment that has it (e.g. .venv/bin/python)'
    );
  }
  if (type === 'AttributeError') return `define "${fn}" in "${module}", or correct the entry point`;
  if (type === 'TypeError' && message.endsWith('is not callable'))
    return `point the entry point at a function handler(event, context)`;
  return `fix the error raised while importing "${module}" (see the traceback), or correct the entry point`;
}
