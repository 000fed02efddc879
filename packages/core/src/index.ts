/**
 * @packageDocumentation
 * The handler plugin contract of pipeline-invocation: models, errors, the DI registry and
 * the interfaces (run store, tracker) the invoker composes.
 */
import 'reflect-metadata';

export { CONTRACT_VERSION, isContractCompatible } from './version';
export * from './errors';
export { withTimeout } from './timeout';
export { DEFAULT_PIPELINE_HOME, pipelineHome, type Env, type EnvVariable } from './env';
export { JsonObjectSchema, type JsonObject } from './models/json-object';
export { toJsonValue, canonicalJson, payloadHash, type JsonValue } from './models/json-value';
export {
  IntegrationRequestSchema,
  IntegrationPayloadSchema,
  RunTypeSchema,
  parseIntegrationRequest,
  parseWith,
  type IntegrationRequest,
  type IntegrationPayload,
  type RunType,
} from './models/request';
export {
  RunExecutionMetadataSchema,
  RunStatusSchema,
  CANCELLED_STATUS_CODE,
  IntegrationResponseSchema,
  DEFAULT_METADATA_TABLE_NAME,
  type RunExecutionMetadata,
  type RunStatus,
  type IntegrationResponse,
} from './models/run-record';
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
/** zod, re-exported so plugins validate with the same copy core uses. */
export { z } from 'zod';
