/**
 * @packageDocumentation
 * Pipeline handler plugin: services that are Python functions (`lambda_handler(event, context)`),
 * declared in the host's package.json (`pipelineInvocation.python`) and run as child processes
 * under the same lifecycle as every other run.
 */
import { hostConfiguredPythonPlugin } from './plugin';
import type * as configSchema from './config-schema';
import type * as protocolSchema from './protocol-schema';

export {
  DEFAULT_KILL_AFTER_MS,
  resolvePythonConfig,
  killAfterMsFrom,
  interpreterFrom,
  type PythonConfig,
  type PythonService,
  type ResolvedPythonConfig,
} from './config';
export { payloadSchemaFromJsonSchema } from './json-schema';
export { PROTOCOL_VERSION, parseLine, type Message, type PythonException } from './protocol';
export { RUNNER_PATH, type EscalationStep } from './process';
export { checkPythonServices, type PythonCheckOptions, type PythonServiceCheck } from './checks';
export { pythonHandlerClass } from './handler';
export { pythonPlugin, hostConfiguredPythonPlugin, HOST_CONFIG_KEY, type PythonPlugin, type HostInfo } from './plugin';

export default hostConfiguredPythonPlugin;

// The zod schemas below are built on first use: loading the plugin (each `pipeline invoke` of a
// Python service) does not load zod. Each is a getter on the module's exports, in the form Node's
// CommonJS export detection reads, so an ES module imports them by name too.
/* eslint-disable @typescript-eslint/no-require-imports -- loading on first use is the point */
const lazy = {
  get PythonConfigSchema(): typeof configSchema.PythonConfigSchema {
    return (require('./config-schema') as typeof configSchema).PythonConfigSchema;
  },
  get PythonServiceSchema(): typeof configSchema.PythonServiceSchema {
    return (require('./config-schema') as typeof configSchema).PythonServiceSchema;
  },
  get MessageSchema(): typeof protocolSchema.MessageSchema {
    return (require('./protocol-schema') as typeof protocolSchema).MessageSchema;
  },
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** The host's `pipelineInvocation.python` section (package.json), or the options of {@link pythonPlugin}. */
export declare const PythonConfigSchema: typeof configSchema.PythonConfigSchema;
Object.defineProperty(exports, 'PythonConfigSchema', {
  enumerable: true,
  get: function () {
    return lazy.PythonConfigSchema;
  },
});
/** One configured service: an entry point, or an object with its entry point and payload schema. */
export declare const PythonServiceSchema: typeof configSchema.PythonServiceSchema;
Object.defineProperty(exports, 'PythonServiceSchema', {
  enumerable: true,
  get: function () {
    return lazy.PythonServiceSchema;
  },
});
/** The messages the Python side sends on its channel (fd 3), one JSON object per line. */
export declare const MessageSchema: typeof protocolSchema.MessageSchema;
Object.defineProperty(exports, 'MessageSchema', {
  enumerable: true,
  get: function () {
    return lazy.MessageSchema;
  },
});
