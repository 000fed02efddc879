/**
 * @packageDocumentation
 * Observability for pipeline-invocation: W&B tracking isolated in worker threads, an offline
 * mode, structured logs (pino), secret redaction and the per-run metrics sink.
 */
export {
  Redactor,
  REDACTED,
  SECRET_ENV_VARS,
  SECRET_KEY_NAMES,
  isSecretKey,
  isSecretEnvName,
  type RedactorOptions,
} from './redact';
export {
  createLogger,
  colorEnabled,
  parseLogLevel,
  silentLogger,
  LOG_LEVELS,
  type LogLevel,
  type LoggerOptions,
} from './logger';
export { setStatusLine, aroundStatusLine, type StatusLine } from './status-line';
export { RunMetrics } from './metrics';
export { trackingConfigFromEnv, type TrackingConfig, type TrackingMode } from './config';
export { createTracker } from './tracker/create-tracker';
export { WandbTracker, type WandbTrackerOptions } from './tracker/wandb-tracker';
export { OfflineTracker } from './tracker/offline-tracker';
export { RecordingTracker, type TrackerCall } from './tracker/recording-tracker';
export { startTelemetry, telemetryRequested, type Telemetry } from './telemetry';
