// @ts-check
// Runs @wandb/sdk inside a worker_thread: ONE thread per tracker (per process), reused by every
// tracked run, several runs at once. The SDK is unsafe in-process: a 4xx makes it throw from an
// event handler (which would crash the host), a 5xx or a silent server makes it retry for many
// minutes, and it installs signal handlers. Here a crash ends only this thread, the host bounds
// every step of every run with a timeout and terminates the thread, and signal handlers
// installed in a worker never see the host's signals.
//
// Messages in:  { type: 'start', runId, init }, { type: 'log', runId, data, step },
//               { type: 'finish', runId, data, exitCode }
// Messages out: { type: 'started' | 'finished', runId }, { type: 'error', runId?, message },
//               { type: 'console', level, text }
'use strict';
const { dirname, join } = require('node:path');
const { parentPort } = require('node:worker_threads');

/** @param {Record<string, unknown>} message */
const post = (message) => parentPort?.postMessage(message);
/** @param {unknown} error */
const describe = (error) => (error instanceof Error ? error.message : String(error));

// The SDK prints to the console; send that to the host's logger instead of its stdout. The
// host does not pipe this thread's stdio (reading it would keep the host's process alive until
// the thread ends), so direct writes to process.stdout / stderr become messages too.
for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
  // eslint-disable-next-line no-console
  /** @type {any} */ (console)[level] = (...args) =>
    post({ type: 'console', level, text: args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ') });
}
for (const [stream, level] of /** @type {const} */ ([
  [process.stdout, 'info'],
  [process.stderr, 'warn'],
])) {
  /** @type {any} */ (stream).write = (/** @type {unknown} */ chunk, /** @type {unknown[]} */ ...rest) => {
    post({ type: 'console', level, text: String(chunk).replace(/\n$/, '') });
    const done = rest.find((arg) => typeof arg === 'function');
    if (typeof done === 'function') done();
    return true;
  };
}
// An error thrown from one of the SDK's event handlers cannot be told apart by run: the host
// switches W&B off for the process (no runId).
process.on('uncaughtException', (error) => post({ type: 'error', message: describe(error) }));
process.on('unhandledRejection', (error) => post({ type: 'error', message: describe(error) }));

// @wandb/sdk 0.5.1 (pinned exactly: unmaintained) polls its message queue once a second when
// it is idle, so a run's init and its finish each wait up to a second for the next poll. Its
// idle poll is the only `Delay.wait()` called without a duration (the file stream always passes
// its own interval): make that poll 20 ms. Nothing else of the SDK changes.
const sdkDir = dirname(require.resolve('@wandb/sdk/package.json'));
const { Delay } = require(join(sdkDir, 'dist', 'sdk', 'lib', 'retry.cjs'));
const wait = Delay.prototype.wait;
/** @param {number | undefined} ms */
Delay.prototype.wait = function idlePoll(ms) {
  return wait.call(this, ms ?? 20);
};

const { wandb } = require('@wandb/sdk');

/**
 * The SDK adds `beforeExit`, `SIGTERM` and `SIGINT` listeners to `process` at every init and
 * never removes them. In this thread signals never arrive and runs are finished by the host,
 * so they only pile up (each holds its run's messenger): drop them.
 */
function dropSdkProcessListeners() {
  for (const event of ['beforeExit', 'SIGTERM', 'SIGINT']) process.removeAllListeners(event);
}

/** @typedef {{ type: string, runId: string, data?: any, step?: number, exitCode?: number, init?: any }} Message */
/** @type {Map<string, { run?: any, queued: Message[] }>} */
const runs = new Map();

parentPort?.on('message', (/** @type {Message} */ message) => {
  if (message.type === 'start') {
    const entry = { run: undefined, queued: [] };
    runs.set(message.runId, entry);
    start(message.runId, message.init, entry);
    return;
  }
  const entry = runs.get(message.runId);
  if (!entry) return;
  if (entry.run) handle(message, entry);
  else entry.queued.push(message);
});

/**
 * @param {string} runId
 * @param {{ project: string, entity: string, id: string, name: string, config: object, apiKey: string, baseUrl: string }} init
 * @param {{ run?: any, queued: Message[] }} entry
 */
function start(runId, init, entry) {
  const { project, entity, id, name, config, apiKey, baseUrl } = init;
  wandb
    .init({ project, entity, id, name, config, settings: { apiKey, baseUrl, silent: true } })
    .then((/** @type {any} */ run) => {
      dropSdkProcessListeners();
      entry.run = run;
      post({ type: 'started', runId });
      for (const message of entry.queued.splice(0)) handle(message, entry);
    })
    .catch((/** @type {unknown} */ error) => {
      runs.delete(runId);
      post({ type: 'error', runId, message: describe(error) });
    });
}

/**
 * @param {Message} message
 * @param {{ run?: any, queued: Message[] }} entry
 */
function handle(message, entry) {
  if (message.type === 'log') {
    entry.run.log(message.data, message.step);
  } else if (message.type === 'finish') {
    if (message.data) entry.run.log(message.data);
    entry.run.finish(message.exitCode).then(
      () => {
        runs.delete(message.runId);
        dropSdkProcessListeners();
        post({ type: 'finished', runId: message.runId });
      },
      (/** @type {unknown} */ error) => {
        runs.delete(message.runId);
        post({ type: 'error', runId: message.runId, message: describe(error) });
      },
    );
  }
}
