/**
 * @packageDocumentation
 * Pipeline handler plugin: services that are Python functions (`lambda_handler(event, context)`),
 * declared in the host's package.json (`pipelineInvocation.python`) and run as child processes
 * under the same lifecycle as every other run.
 */
import { hostConfiguredPythonPlugin } from './plugin';

export {
  PythonConfigSchema,
  PythonServiceSchema,
  DEFAULT_KILL_AFTER_MS,
  resolvePythonConfig,
  killAfterMsFrom,
  interpreterFrom,
  type PythonConfig,
  type PythonService,
  type ResolvedPythonConfig,
} from './config';
export { payloadSchemaFromJsonSchema } from './json-schema';
export { PROTOCOL_VERSION, MessageSchema, parseLine, type Message, type PythonException } from './protocol';
export { RUNNER_PATH, type EscalationStep } from './process';
export { checkPythonServices, type PythonCheckOptions, type PythonServiceCheck } from './checks';
export { pythonHandlerClass } from './handler';
export { pythonPlugin, hostConfiguredPythonPlugin, HOST_CONFIG_KEY, type PythonPlugin, type HostInfo } from './plugin';

export default hostConfiguredPythonPlugin;
