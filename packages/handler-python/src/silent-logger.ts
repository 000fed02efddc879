import type { Logger } from '@pipeline-invocation/core';

/** A logger that drops everything (the checks' processes have no run to log to). */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};
