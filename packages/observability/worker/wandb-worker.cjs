// @ts-check
// Runs @wandb/sdk for ONE tracked run inside a worker_thread. The SDK is unsafe in-process:
// a 4xx makes it throw from an event handler (which would crash the host), a 5xx or a silent
// server makes it retry for many minutes, and it installs signal handlers. Here a crash ends
// only this thread, the host bounds every step with a timeout and terminates the thread, and
// signal handlers installed in a worker never see the host's signals.
'use strict';
const { parentPort, workerData } = require('node:worker_threads');

/** @param {Record<string, unknown>} message */
const post = (message) => parentPort?.postMessage(message);
/** @param {unknown} error */
const describe = (error) => (error instanceof Error ? error.message : String(error));

// The SDK prints to the console; send that to the host's logger instead of its stdout.
for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
  // eslint-disable-next-line no-console
  /** @type {any} */ (console)[level] = (...args) =>
    post({ type: 'console', level, text: args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ') });
}
process.on('uncaughtException', (error) => post({ type: 'error', message: describe(error) }));
process.on('unhandledRejection', (error) => post({ type: 'error', message: describe(error) }));

/** @type {any} */
let run;
/** @type {Array<{ type: string, data?: any, step?: number, exitCode?: number }>} */
const queued = [];

parentPort?.on('message', (message) => {
  if (!run) queued.push(message);
  else handle(message);
});

/** @param {{ type: string, data?: any, step?: number, exitCode?: number }} message */
function handle(message) {
  if (message.type === 'log') {
    run.log(message.data, message.step);
  } else if (message.type === 'finish') {
    if (message.data) run.log(message.data);
    run.finish(message.exitCode).then(
      () => post({ type: 'finished' }),
      (/** @type {unknown} */ error) => post({ type: 'error', message: describe(error) }),
    );
  }
}

(async () => {
  const { wandb } = require('@wandb/sdk');
  const { project, entity, id, name, config, apiKey, baseUrl } = workerData;
  run = await wandb.init({ project, entity, id, name, config, settings: { apiKey, baseUrl, silent: true } });
  post({ type: 'started' });
  for (const message of queued.splice(0)) handle(message);
})().catch((error) => post({ type: 'error', message: describe(error) }));
