import {
  AbortError,
  CANCELLED_STATUS_CODE,
  ConfigError,
  DuplicateServiceError,
  ERROR_STATUS_CODES,
  ERROR_TABLE,
  ERROR_CODES,
  IdempotencyKeyMismatchError,
  JobFailedError,
  JobNotFoundError,
  WaitTimeoutError,
  InvokerClosedError,
  RateLimitedError,
  RunCancelledError,
  isRetryableStatus,
  outcomeOfThrown,
  type ErrorCode,
  UnserializableMetadataError,
  errorPolicy,
  HandlerTimeoutError,
  IncompatiblePluginError,
  InvalidRequestError,
  MetadataWriteError,
  ObservabilityError,
  PipelineInvocationError,
  PluginLoadError,
  RunConflictError,
  RunStoreError,
  UnknownServiceError,
  isPipelineError,
  statusCodeForError,
} from '../src';

describe('errors', () => {
  it('UnknownServiceError names the service and lists the registered ones', () => {
    const error = new UnknownServiceError('nope', ['a', 'b']);
    expect(error).toBeInstanceOf(PipelineInvocationError);
    expect(error.name).toBe('UnknownServiceError');
    expect(error.serviceName).toBe('nope');
    expect(error.availableServices).toEqual(['a', 'b']);
    expect(error.message).toContain('"nope"');
    expect(error.message).toContain('a, b');
    expect(new UnknownServiceError('x', []).message).toContain('(none registered)');
  });

  it('MetadataWriteError keeps the original error as cause', () => {
    const original = new Error('table missing');
    const error = new MetadataWriteError('svc', original, 'Kept in the outbox.');
    expect(error.service).toBe('svc');
    expect(error.originalError).toBe(original);
    expect(error.cause).toBe(original);
    expect(error.message).toBe('Could not write the run record of "svc": table missing. Kept in the outbox.');
  });

  it('ObservabilityError carries service, component and cause', () => {
    const error = new ObservabilityError('svc', 'wandb', 'HTTP 403');
    expect([error.name, error.service, error.component, error.cause]).toEqual([
      'ObservabilityError',
      'svc',
      'wandb',
      'HTTP 403',
    ]);
    expect(error.message).toContain('wandb tracking failed for "svc": HTTP 403');
  });

  it('DuplicateServiceError names both registrants', () => {
    const error = new DuplicateServiceError('svc', 'pkg-a@1.0.0', 'pkg-b@2.0.0');
    expect(error.message).toContain('pkg-a@1.0.0');
    expect(error.message).toContain('pkg-b@2.0.0');
    expect(error.serviceName).toBe('svc');
  });

  it('PluginLoadError and IncompatiblePluginError name the package and versions', () => {
    const cause = new Error('Cannot find module');
    const load = new PluginLoadError('pkg', 'import failed', { cause });
    expect([load.packageName, load.cause]).toEqual(['pkg', cause]);
    const incompatible = new IncompatiblePluginError('pkg', '^2.0.0', '1.0.0');
    expect(incompatible.message).toContain('^2.0.0');
    expect(incompatible.message).toContain('1.0.0');
    expect([incompatible.pluginContract, incompatible.hostContract]).toEqual(['^2.0.0', '1.0.0']);
  });

  it('RunStoreError names the store and the fix', () => {
    const error = new RunStoreError('sqlite:/tmp/runs.db', 'file is not a database', 'Move it away.');
    expect(error.message).toBe('sqlite:/tmp/runs.db: file is not a database. Move it away.');
    expect([error.store, error.fix]).toEqual(['sqlite:/tmp/runs.db', 'Move it away.']);
  });

  it('HandlerTimeoutError and RunConflictError carry their fields', () => {
    expect(new HandlerTimeoutError('svc', 50).message).toContain('50 ms');
    const conflict = new RunConflictError('key-1', 'RUN1');
    expect([conflict.idempotencyKey, conflict.runId]).toEqual(['key-1', 'RUN1']);
  });

  it('maps every error to one status code through a single table', () => {
    expect(statusCodeForError(new InvalidRequestError('bad'))).toBe(400);
    expect(statusCodeForError(new UnknownServiceError('x', []))).toBe(404);
    expect(statusCodeForError(new DuplicateServiceError('x', 'a', 'b'))).toBe(409);
    expect(statusCodeForError(new RunConflictError('k', 'r'))).toBe(409);
    expect(statusCodeForError(new Error('handler failed'))).toBe(500);
    expect(statusCodeForError(new MetadataWriteError('x', 'down'))).toBe(503);
    expect(statusCodeForError(new HandlerTimeoutError('x', 1))).toBe(504);
    expect(statusCodeForError(new RunStoreError('sqlite:/x.db', 'locked', 'retry'))).toBe(503);
    expect(statusCodeForError('a string')).toBe(500);
    expect(Object.isFrozen(ERROR_STATUS_CODES)).toBe(true);
  });

  it('answers each error with its status, CLI exit code and retry decision from one table', () => {
    const rows = [
      [new InvalidRequestError('bad'), 400, 2, false],
      [new ConfigError('PIPELINE_HEARTBEAT_MS', 'abc', 'a number'), 400, 2, false],
      [new UnknownServiceError('x', []), 404, 3, false],
      [new DuplicateServiceError('x', 'a', 'b'), 409, 5, false],
      [new RunConflictError('k', 'r'), 409, 6, true],
      [new IdempotencyKeyMismatchError('k', 'a', 'b'), 409, 6, false],
      [new AbortError('x'), 499, 1, false],
      [new RunCancelledError('SIGINT'), CANCELLED_STATUS_CODE, 1, false],
      [new PluginLoadError('p', 'boom'), 500, 5, true],
      [new IncompatiblePluginError('p', '^2', '1.0.0'), 500, 5, false],
      [new MetadataWriteError('x', 'down'), 503, 4, true],
      [new RunStoreError('s', 'm', 'f'), 503, 4, true],
      [new HandlerTimeoutError('x', 1), 504, 1, false],
      [new Error('a handler failure or a network error'), 500, 1, true],
    ] as const;
    for (const [error, status, exitCode, retry] of rows) {
      expect([error.name, errorPolicy(error)]).toEqual([error.name, { status, exitCode, retry }]);
    }
    // the CLI's own UsageError is not core's business: answered like any unlisted error here
    expect(Object.hasOwn(ERROR_TABLE, 'UsageError')).toBe(false);
    expect(Object.isFrozen(ERROR_TABLE)).toBe(true);
    // the deprecated status map is a view of the same table
    expect(ERROR_STATUS_CODES.RunConflictError).toBe(ERROR_TABLE.RunConflictError.status);
  });

  it('every leaf error accepts ErrorOptions and keeps its cause', () => {
    const cause = new Error('root cause');
    const errors = [
      new InvalidRequestError('bad', [], { cause }),
      new UnknownServiceError('x', [], { cause }),
      new DuplicateServiceError('x', 'a', 'b', { cause }),
      new RunConflictError('k', 'r', undefined, { cause }),
      new IdempotencyKeyMismatchError('k', 'a', 'b', { cause }),
      new RunCancelledError('SIGTERM', { cause }),
      new AbortError('x', { cause }),
      new UnserializableMetadataError('metadata.x', 'a BigInt', { cause }),
      new ConfigError('X', 'y', 'z', { cause }),
      new MetadataWriteError('x', 'down', '', { cause }),
      new RunStoreError('s', 'm', 'f', { cause }),
      new ObservabilityError('x', 'wandb', 'down', { cause }),
      new PluginLoadError('p', 'boom', { cause }),
      new IncompatiblePluginError('p', '^2', '1.0.0', { cause }),
      new HandlerTimeoutError('x', 1, { cause }),
    ];
    expect(errors.filter((e) => e.cause !== cause).map((e) => e.name)).toEqual([]);
  });

  it('identifies errors by name, so a copy from another core still matches', () => {
    const foreign = Object.assign(new Error('x'), { name: 'UnknownServiceError' });
    expect(isPipelineError(foreign, 'UnknownServiceError')).toBe(true);
    expect(statusCodeForError(foreign)).toBe(404);
    expect(isPipelineError(new Error('x'), 'UnknownServiceError')).toBe(false);
  });
});

describe('the closed error table', () => {
  const everyError = (): PipelineInvocationError[] => [
    new PipelineInvocationError('base'),
    new InvalidRequestError('bad'),
    new ConfigError('X', 'y', 'z'),
    new UnknownServiceError('x', []),
    new DuplicateServiceError('x', 'a', 'b'),
    new RunConflictError('k', 'r'),
    new IdempotencyKeyMismatchError('k', 'a', 'b'),
    new RateLimitedError('Perspective API', 1000),
    new AbortError('x'),
    new RunCancelledError('SIGINT'),
    new PluginLoadError('p', 'boom'),
    new IncompatiblePluginError('p', '^2', '1.0.0'),
    new UnserializableMetadataError('metadata.x', 'a BigInt'),
    new ObservabilityError('x', 'wandb', 'down'),
    new MetadataWriteError('x', 'down'),
    new RunStoreError('s', 'm', 'f'),
    new InvokerClosedError('invokePipelineHandler("x")'),
    new HandlerTimeoutError('x', 1),
    new JobNotFoundError('svc/1'),
    new JobFailedError('svc/1', 'store down', 3),
    new WaitTimeoutError('svc/1', 10, 'waiting'),
  ];

  it('has exactly one row per error class, and no two classes share a name', () => {
    const names = everyError().map((e) => e.name);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual([...ERROR_CODES].sort());
    expect(Object.keys(ERROR_TABLE).sort()).toEqual([...ERROR_CODES].sort());
  });

  it('is keyed by the closed ErrorCode union (the compiler refuses a code without a row)', () => {
    // @ts-expect-error: "UsageError" is not an ErrorCode: the CLI's own class is not in core's table
    const usage: ErrorCode = 'UsageError';
    expect(usage).toBe('UsageError');
    const code: ErrorCode = new InvalidRequestError('x').name;
    expect(ERROR_TABLE[code].status).toBe(400);
  });

  it('a handler that throws InvalidRequestError is recorded 400, not 500, and not retryable', () => {
    expect(outcomeOfThrown(new InvalidRequestError('backfill_duration must be positive'))).toEqual({
      status_code: 400,
      retryable: false,
      name: 'InvalidRequestError',
      message: 'backfill_duration must be positive',
    });
    // a copy of core elsewhere: compared by name
    expect(outcomeOfThrown(Object.assign(new Error('no such service'), { name: 'UnknownServiceError' }))).toMatchObject(
      {
        status_code: 404,
      },
    );
  });

  it("keeps a thrown error's own retryability and status", () => {
    expect(outcomeOfThrown(new RateLimitedError('Perspective API'))).toMatchObject({
      status_code: 429,
      retryable: true,
    });
    expect(outcomeOfThrown(new Error('boom'))).toEqual({
      status_code: 500,
      retryable: false,
      name: 'Error',
      message: 'boom',
    });
    expect(outcomeOfThrown(Object.assign(new Error('busy'), { retryable: true }))).toMatchObject({
      status_code: 500,
      retryable: true,
    });
    const upstream503 = Object.assign(new Error('upstream unavailable'), { statusCode: 503 });
    expect(outcomeOfThrown(upstream503)).toMatchObject({ status_code: 503, retryable: true });
    expect(outcomeOfThrown(Object.assign(new Error('gone'), { statusCode: 410 }))).toMatchObject({
      status_code: 410,
      retryable: false,
    });
    expect(outcomeOfThrown('a string')).toEqual({
      status_code: 500,
      retryable: false,
      name: 'NonErrorThrown',
      message: 'a string',
    });
  });

  it('a result of 429 or 503 is retryable like the thrown errors with that status', () => {
    expect([429, 503].map(isRetryableStatus)).toEqual([true, true]);
    expect([200, 400, 404, 409, 500, 504].map(isRetryableStatus)).toEqual([false, false, false, false, false, false]);
    expect(isRetryableStatus(errorPolicy(new MetadataWriteError('x', 'down')).status)).toBe(
      errorPolicy(new MetadataWriteError('x', 'down')).retry,
    );
  });

  it('an InvokerClosedError says what was refused and what to do', () => {
    const error = new InvokerClosedError('invokePipelineHandler("svc")');
    expect(error.message).toContain('invokePipelineHandler("svc")');
    expect(error.message).toContain('createInvoker()');
    expect(errorPolicy(error)).toEqual({ status: 503, exitCode: 1, retry: true });
  });
});

describe('MetadataWriteError names the service once', () => {
  it('wrapping a MetadataWriteError (a custom writer that threw one) does not repeat it', () => {
    const cause = new Error('DB Write Failed.');
    const inner = new MetadataWriteError('svc', cause);
    const outer = new MetadataWriteError('svc', inner, 'The record of run R1 was kept in /x/outbox.jsonl.');
    expect(outer.message).toBe(
      'Could not write the run record of "svc": DB Write Failed. The record of run R1 was kept in /x/outbox.jsonl.',
    );
    expect(outer.message.match(/Could not write/g)).toHaveLength(1);
    expect(outer.cause).toBe(cause);
    expect(outer.originalError).toBe(cause);
  });

  it('keeps the inner detail and adds no second full stop', () => {
    const inner = new MetadataWriteError('svc', new Error('throttled'), 'The handler was not run.');
    expect(new MetadataWriteError('svc', inner).message).toBe(
      'Could not write the run record of "svc": throttled. The handler was not run.',
    );
    expect(new MetadataWriteError('svc', 'full disk!').message).toBe(
      'Could not write the run record of "svc": full disk!',
    );
  });
});
