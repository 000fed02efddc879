import type { Clock, Logger, Tracker } from '@pipeline-invocation/core';
import { noopTracker } from '@pipeline-invocation/core';
import type { TrackingConfig } from '../config';
import type { Redactor } from '../redact';
import { OfflineTracker } from './offline-tracker';
import { WandbTracker } from './wandb-tracker';

/** Lines already said in this process (each is said once, however many invokers run). */
const said = new Set<string>();

/**
 * A tracker that does nothing but say, once per process and only when a run really starts (so
 * never ahead of an input error), why it does nothing.
 */
function silentTracker(logger: Logger, line: string): Tracker {
  return {
    ...noopTracker,
    // busy until its line is said (at the first run's start); then a run makes no tracking calls
    get idle() {
      return said.has(line);
    },
    start: () => {
      if (said.has(line)) return;
      said.add(line);
      logger.info(line);
    },
  };
}

/**
 * The tracker `config` asks for. With no API key (or `WANDB_MODE=disabled`) tracking is off, and
 * one info line, once per process when the first run starts, says how to turn it on. `clock`
 * sets the W&B timeouts' timers (default: the system clock).
 */
export function createTracker(
  config: TrackingConfig,
  deps: { logger: Logger; redactor: Redactor; clock?: Clock },
): Tracker {
  switch (config.mode) {
    case 'off':
      return silentTracker(
        deps.logger,
        'W&B tracking is off: set WANDB_API_KEY to track runs (or WANDB_MODE=offline to keep them on disk).',
      );
    case 'disabled':
      return silentTracker(deps.logger, 'W&B tracking is disabled (WANDB_MODE=disabled).');
    case 'offline':
      deps.logger.info(`W&B is offline: runs are written to ${config.offlineDir}.`);
      return new OfflineTracker(config.offlineDir, {
        project: config.project,
        entity: config.entity,
        redactor: deps.redactor,
      });
    case 'online':
      return new WandbTracker({ config, redactor: deps.redactor, logger: deps.logger, clock: deps.clock });
  }
}
