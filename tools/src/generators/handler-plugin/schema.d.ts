/** Options of the handler-plugin generator. */
export interface HandlerPluginSchema {
  /** kebab-case; the package is `@pipeline-invocation/handler-<name>` in `packages/handler-<name>`. */
  name: string;
  /** snake_case service name. */
  service: string;
  /** Do not format the generated files with the workspace's Prettier. */
  skipFormat?: boolean;
}
