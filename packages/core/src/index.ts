/**
 * @packageDocumentation
 * The handler plugin contract of pipeline-invocation: models, errors, the DI registry and
 * the interfaces (run store, tracker) the invoker composes.
 */
import 'reflect-metadata';
import type * as jsonObject from './models/json-object';
import type * as request from './models/request';
import type * as runRecord from './models/run-record';

export { CONTRACT_VERSION, isContractCompatible } from './version';
export * from './errors';
export { withTimeout } from './timeout';
export { DEFAULT_PIPELINE_HOME, pipelineHome, type Env, type EnvVariable } from './env';
export type { JsonObject } from './models/json-object';
export { toJsonValue, canonicalJson, payloadHash, type JsonValue } from './models/json-value';
export { parseIntegrationRequest, parseWith, isPlainRecord } from './models/parse';
export type { IntegrationRequest, IntegrationPayload, RunType } from './models/request';
export { CANCELLED_STATUS_CODE, DEFAULT_METADATA_TABLE_NAME } from './models/run-constants';
export type { RunExecutionMetadata, RunStatus, IntegrationResponse } from './models/run-record';
export type { PipelineHandler, RunContext, HandlerResult, Logger, LogFields, MetricsSink } from './contract';
export { systemClock, toClock, type Clock, type TimerHandle } from './clock';
export {
  retry,
  backoffDelayMs,
  retryPolicyFromDelays,
  DEFAULT_RETRY_POLICY,
  type RetryPolicy,
  type RetryDecision,
  type RetryOptions,
} from './retry';
export * from './lifecycle/index';
export type {
  RunStore,
  RunKey,
  RunClause,
  RunCondition,
  RunPatch,
  KeyItem,
  KeyClause,
  KeyCondition,
  KeyPatch,
  Written,
  StoreErrorKind,
  ListRunsQuery,
  PruneQuery,
  PruneResult,
  ServiceStats,
  RunPage,
  Tracker,
  TrackedRunStart,
} from './store';
export { noopTracker } from './store';
export { LOGGER, CLOCK, RUN_CONTEXT, ENV } from './tokens';
export {
  pipelineHandler,
  getHandlerDefinition,
  type PipelineHandlerOptions,
  type HandlerDefinition,
  type HandlerClass,
} from './registry/handler-decorator';
export {
  definePlugin,
  isPipelinePlugin,
  explainNotAPlugin,
  PLUGIN_BRAND,
  type PipelinePlugin,
  type PluginDefinition,
} from './registry/plugin';
export {
  PipelineHandlerRegistry,
  createPluginContainer,
  type ServiceProvider,
  type HandlerFactory,
  type HandlerSource,
  type RegisterOptions,
  type RegistryDecorator,
  type ResolvedHandler,
} from './registry/registry';
export { newRunId, runIdFloor, runIdTime } from './run-id';
export { inject, injectable, type DependencyContainer, type InjectionToken } from 'tsyringe';
export { createContainer } from './container';
/** zod, re-exported so plugins validate with the same copy core uses (loaded on first use: lazy-zod.cjs). */
export { z } from './lazy-zod.cjs';

// The schemas below are built on first use, so importing core does not load zod. Each is a
// getter on the module's exports, in the form Node's CommonJS export detection reads, so an ES
// module imports them by name too.
/* eslint-disable @typescript-eslint/no-require-imports -- loading on first use is the point */
const lazy = {
  get JsonObjectSchema(): typeof jsonObject.JsonObjectSchema {
    return (require('./models/json-object') as typeof jsonObject).JsonObjectSchema;
  },
  get IntegrationRequestSchema(): typeof request.IntegrationRequestSchema {
    return (require('./models/request') as typeof request).IntegrationRequestSchema;
  },
  get IntegrationPayloadSchema(): typeof request.IntegrationPayloadSchema {
    return (require('./models/request') as typeof request).IntegrationPayloadSchema;
  },
  get RunTypeSchema(): typeof request.RunTypeSchema {
    return (require('./models/request') as typeof request).RunTypeSchema;
  },
  get RunExecutionMetadataSchema(): typeof runRecord.RunExecutionMetadataSchema {
    return (require('./models/run-record') as typeof runRecord).RunExecutionMetadataSchema;
  },
  get RunStatusSchema(): typeof runRecord.RunStatusSchema {
    return (require('./models/run-record') as typeof runRecord).RunStatusSchema;
  },
  get IntegrationResponseSchema(): typeof runRecord.IntegrationResponseSchema {
    return (require('./models/run-record') as typeof runRecord).IntegrationResponseSchema;
  },
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** A plain JSON object; keys that could pollute a prototype are refused at any depth. */
export declare const JsonObjectSchema: typeof jsonObject.JsonObjectSchema;
Object.defineProperty(exports, 'JsonObjectSchema', {
  enumerable: true,
  get: function () {
    return lazy.JsonObjectSchema;
  },
});
/** A request to run one service: `{service, payload, metadata}`; unknown fields are refused. */
export declare const IntegrationRequestSchema: typeof request.IntegrationRequestSchema;
Object.defineProperty(exports, 'IntegrationRequestSchema', {
  enumerable: true,
  get: function () {
    return lazy.IntegrationRequestSchema;
  },
});
/** The common shape of a handler payload: a `run_type` plus whatever the handler defines. */
export declare const IntegrationPayloadSchema: typeof request.IntegrationPayloadSchema;
Object.defineProperty(exports, 'IntegrationPayloadSchema', {
  enumerable: true,
  get: function () {
    return lazy.IntegrationPayloadSchema;
  },
});
/** `"prod"` or `"backfill"`. */
export declare const RunTypeSchema: typeof request.RunTypeSchema;
Object.defineProperty(exports, 'RunTypeSchema', {
  enumerable: true,
  get: function () {
    return lazy.RunTypeSchema;
  },
});
/** The record of one run (see {@link RunExecutionMetadata}). */
export declare const RunExecutionMetadataSchema: typeof runRecord.RunExecutionMetadataSchema;
Object.defineProperty(exports, 'RunExecutionMetadataSchema', {
  enumerable: true,
  get: function () {
    return lazy.RunExecutionMetadataSchema;
  },
});
/** `RUNNING` until the run ends, then exactly one terminal status. */
export declare const RunStatusSchema: typeof runRecord.RunStatusSchema;
Object.defineProperty(exports, 'RunStatusSchema', {
  enumerable: true,
  get: function () {
    return lazy.RunStatusSchema;
  },
});
/** What the router returns for every request, success or not. */
export declare const IntegrationResponseSchema: typeof runRecord.IntegrationResponseSchema;
Object.defineProperty(exports, 'IntegrationResponseSchema', {
  enumerable: true,
  get: function () {
    return lazy.IntegrationResponseSchema;
  },
});
