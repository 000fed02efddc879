/** Options of the handler-plugin generator. */
export interface HandlerPluginSchema {
  /** kebab-case; the package is `@pipeline-invocation/handler-<name>` in `packages/handler-<name>`. */
  name: string;
  /** snake_case service name. */
  service: string;
  /** A classifier plugin over the labelling engine (a scoring function to fill in) instead of a plain handler. */
  classifier?: boolean;
  /** A Python service (host config + `<name>/<service>/handler.py` and its test) instead of a plugin package. */
  python?: boolean;
  /** Do not format the generated files with the workspace's Prettier. */
  skipFormat?: boolean;
}
