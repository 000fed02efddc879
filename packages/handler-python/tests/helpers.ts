import { Writable } from 'node:stream';
import { join } from 'node:path';
import { createLogger, Redactor } from '@pipeline-invocation/observability';
import { createTestInvoker } from '@pipeline-invocation/invoker/testing';
import type { InvokerConfig } from '@pipeline-invocation/invoker';
import { pythonPlugin, type PythonConfig } from '../src';

/** The folder holding the fixture package `pipelines` (the Python services' working folder). */
export const FIXTURES = join(__dirname, 'fixtures');

/** A log line as the run logger wrote it (JSON). */
export type LogLine = { level: number; msg: string; [field: string]: unknown };

/** A logger that keeps its JSON lines, redacting `secrets` as the real one does. */
export function capturingLogger(secrets: Record<string, string> = {}) {
  const lines: LogLine[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const logger = createLogger({
    destination,
    format: 'json',
    level: 'debug',
    redactor: new Redactor(secrets),
    env: {},
  });
  return { logger, lines, messages: () => lines.map((l) => l.msg) };
}

/** Every fixture function as a service named after it: `entry` -> `pipelines.handlers:entry`. */
export function fixtureServices(...names: string[]): PythonConfig['services'] {
  return Object.fromEntries(names.map((n) => [n, `pipelines.handlers:${n}`]));
}

/** A test invoker with Python services from the fixtures, and its captured logs. */
export function pythonInvoker(
  config: Partial<PythonConfig> & Pick<PythonConfig, 'services'>,
  invokerConfig: InvokerConfig = {},
  secrets: Record<string, string> = {},
) {
  const log = capturingLogger(secrets);
  const test = createTestInvoker({
    plugins: [pythonPlugin(config, { dir: FIXTURES })],
    config: { logger: log.logger, ...invokerConfig },
  });
  return { ...test, log };
}
