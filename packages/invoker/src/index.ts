/**
 * @packageDocumentation
 * Invoke pipeline handlers with one call: the public API, the executor, runtime discovery of
 * installed handler plugins, and (through `bin/pipeline`) the CLI.
 */
export { createInvoker, Invoker, type InvokerConfig, type ServiceInfo } from './invoker';
export {
  invokePipelineHandler,
  runIntegrationRequest,
  routeAndRunIntegrationRequest,
  defaultInvoker,
  flushTracking,
} from './default-invoker';
export type { InvokeOptions } from './executor';
export { startTelemetry, telemetryRequested, type Telemetry } from '@pipeline-invocation/observability';
export type { SeedCollaborators } from './seed-collaborators';
export {
  discoverPlugins,
  findHostRoot,
  type DiscoveredPlugin,
  type Discovery,
  type DiscoveryOptions,
  type DiscoveryProblem,
  type PluginManifestField,
} from './discovery/manifest';
export { loadPlugin, checkContract } from './discovery/plugin-loader';
export {
  parseIntegrationRequest,
  type IntegrationRequest,
  type IntegrationResponse,
  type RunExecutionMetadata,
} from '@pipeline-invocation/core';
