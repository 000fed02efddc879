import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { tempDir } from '../../../../tests/support/temp-dir';
import { runFolders } from '../../../../tests/support/run-folders';

const WORKSPACE = resolve(__dirname, '../../../..');
export const CLI = join(WORKSPACE, 'packages/invoker/bin/pipeline.js');

/** A plugin package to write into a host project's node_modules. */
export interface FixturePlugin {
  name: string;
  version?: string;
  /** The manifest field; omit for a package that is not a plugin. */
  manifest?: { contract: string; services: string[] } | unknown;
  /** Files of the package (path -> content); package.json is written for you. */
  files: Record<string, string>;
  /** Extra package.json fields (type, exports, main). */
  packageJson?: Record<string, unknown>;
  /** Declared in the host's dependencies (default true). */
  declared?: boolean;
}

/**
 * A host project in a temporary folder: package.json with dependencies, node_modules with the
 * given plugin packages, and our own packages linked from the workspace (built dist).
 */
export function createHostProject(plugins: FixturePlugin[]): string {
  const root = tempDir('pipeline-host-');
  const deps: Record<string, string> = {};
  for (const ours of ['core', 'storage', 'observability', 'invoker', 'worker']) {
    const link = join(root, 'node_modules/@pipeline-invocation', ours);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(WORKSPACE, 'packages', ours), link, 'dir');
  }
  // The ES module fixture validates its payload with zod, as a real plugin would (its own dependency).
  symlinkSync(join(WORKSPACE, 'node_modules', 'zod'), join(root, 'node_modules', 'zod'), 'dir');
  for (const plugin of plugins) {
    const dir = join(root, 'node_modules', plugin.name);
    mkdirSync(dir, { recursive: true });
    const manifest = plugin.manifest === undefined ? {} : { pipelineInvocation: plugin.manifest };
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify(
        { name: plugin.name, version: plugin.version ?? '1.0.0', ...manifest, ...plugin.packageJson },
        null,
        2,
      ),
    );
    for (const [file, content] of Object.entries(plugin.files)) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), content);
    }
    if (plugin.declared !== false) deps[plugin.name] = plugin.version ?? '1.0.0';
  }
  writeFileSync(
    join(root, 'package.json'),
    JSON.stringify({ name: 'host', private: true, dependencies: deps }, null, 2),
  );
  return root;
}

/** A CommonJS plugin whose handlers echo their payload; `mode` in the payload picks a fault. */
export function cjsPlugin(name: string, services: string[], extra: Partial<FixturePlugin> = {}): FixturePlugin {
  return {
    name,
    manifest: { contract: '^1.0.0', services },
    files: {
      'index.js': `
        const { definePlugin, pipelineHandler } = require('@pipeline-invocation/core');
        const handlers = ${JSON.stringify(services)}.map((service) => {
          class Handler {
            async handle(event, context) {
              if (event.mode === 'fail') throw new Error('handler exploded');
              if (event.mode === 'hang') return new Promise(() => {});
              if (event.mode === 'until-aborted') {
                await new Promise((resolve) => context.signal.addEventListener('abort', resolve));
                return { statusCode: 200, body: 'stopped', metadata: { stopped_by: String(context.signal.reason && context.signal.reason.reason) } };
              }
              if (event.mode === 'retryable') throw Object.assign(new Error('try again later'), { retryable: true });
              if (event.mark) require('node:fs').appendFileSync(event.mark, process.pid + '\\n'); // one line per handler run
              if (event.mode === 'sleep') await new Promise((resolve) => setTimeout(resolve, event.ms));
              if (event.mode === 'block') { // a blocked event loop, until the file event.release exists
                const nap = new Int32Array(new SharedArrayBuffer(4));
                while (!require('node:fs').existsSync(event.release)) Atomics.wait(nap, 0, 0, 10);
              }
              if (event.mode === 'exit') process.exit(3);
              if (event.mode === 'oom') { const hog = []; for (;;) hog.push(new Array(1e6).fill(Math.random())); }
              if (event.mode === 'fill') {
                const fs = require('node:fs');
                const fd = fs.openSync(event.path, 'w');
                try { for (;;) fs.writeSync(fd, Buffer.alloc(64 * 1024)); } catch (e) { if (e.code !== 'ENOSPC') throw e; } finally { fs.closeSync(fd); }
              }
              context.progress(1, 1);
              return { statusCode: 200, body: service + ' done', metadata: { echo: event, run_type: context.runType } };
            }
          }
          return pipelineHandler(service)(class extends Handler {});
        });
        module.exports = { __esModule: true, default: definePlugin({ handlers }) };
      `,
    },
    packageJson: { main: 'index.js', exports: { '.': './index.js', './package.json': './package.json' } },
    ...extra,
  };
}

/** An ES module plugin ("type": "module", conditional exports). */
export function esmPlugin(name: string, service: string): FixturePlugin {
  return {
    name,
    manifest: { contract: '>=1.0.0 <2.0.0', services: [service] },
    files: {
      'dist/index.mjs': `
        import core from '@pipeline-invocation/core';
        import { z } from 'zod';
        const { definePlugin, pipelineHandler } = core;
        class EsmHandler {
          handle(event) { return { statusCode: 200, body: 'esm says ' + event.word }; }
        }
        pipelineHandler(${JSON.stringify(service)}, { payload: z.object({ word: z.string() }) })(EsmHandler);
        export default definePlugin({ handlers: [EsmHandler] });
      `,
    },
    packageJson: {
      type: 'module',
      exports: { '.': { import: './dist/index.mjs' }, './package.json': './package.json' },
    },
  };
}

/** Result of a CLI run. */
export interface CliResult {
  code: number | null;
  /** The signal that killed the process, if one did. */
  signal?: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A `pipeline` CLI process still running: signal it, then await its result. */
export interface CliProcess {
  readonly child: ChildProcess;
  readonly result: Promise<CliResult>;
}

/** What a CLI process inherits: PATH, HOME and the test run's own folders ({@link runFolders}). */
const childEnv = () => ({ PATH: process.env.PATH, HOME: process.env.HOME, ...runFolders() });

/** Start the built `pipeline` CLI in `cwd` without waiting for it. */
export function startCli(args: string[], options: { cwd: string; env?: Record<string, string> }): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    env: { ...childEnv(), LOG_LEVEL: 'warn', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const result = new Promise<CliResult>((resolvePromise) => {
    child.on('error', (error) => resolvePromise({ code: null, stdout, stderr: `${stderr}${error.message}` }));
    child.on('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
  return { child, result };
}

/** Run the built `pipeline` CLI in `cwd`. */
export function runCli(
  args: string[],
  options: { cwd: string; env?: Record<string, string>; nodeArgs?: string[] },
): Promise<CliResult> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), CLI, ...args], {
      cwd: options.cwd,
      env: { ...childEnv(), LOG_LEVEL: 'warn', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    // A spawn failure (e.g. the folder is gone) is a result to assert on, not an uncaught error.
    child.on('error', (error) => resolvePromise({ code: null, stdout, stderr: `${stderr}${error.message}` }));
    child.on('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
}
