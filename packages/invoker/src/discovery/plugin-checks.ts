import { describe } from '@pipeline-invocation/core';
import type { Discovery } from './manifest';
import { loadPlugin } from './plugin-loader';

/** One line of `pipeline doctor`'s checks. */
export interface PluginCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** What a configured plugin may offer `pipeline doctor`: checks that run none of its handlers. */
type CheckablePlugin = {
  check?: (env: NodeJS.ProcessEnv) => Promise<readonly { name: string; ok: boolean; detail: string }[]>;
};

/**
 * The checks of the plugins whose services the host configures (`servicesFrom`): each is loaded
 * and configured from the host's section (a bad section fails here, naming the field), then its
 * own `check(env)` runs, e.g. handler-python's: the interpreter starts and each entry point's
 * module is found, without running a handler. Plugins with services of their own are not loaded.
 */
export async function hostConfiguredPluginChecks(discovery: Discovery, env: NodeJS.ProcessEnv): Promise<PluginCheck[]> {
  const checks: PluginCheck[] = [];
  for (const plugin of discovery.plugins) {
    if (!plugin.hostConfig || plugin.services.length === 0) continue;
    try {
      const configured = (await loadPlugin(plugin)) as CheckablePlugin;
      for (const check of (await configured.check?.(env)) ?? [])
        checks.push({ name: `${plugin.packageName}: ${check.name}`, ok: check.ok, detail: check.detail });
    } catch (error) {
      checks.push({ name: `plugin ${plugin.packageName}`, ok: false, detail: describe(error) });
    }
  }
  return checks;
}
