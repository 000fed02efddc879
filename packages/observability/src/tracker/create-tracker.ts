import type { Logger, Tracker } from '@pipeline-invocation/core';
import { noopTracker } from '@pipeline-invocation/core';
import type { TrackingConfig } from '../config';
import type { Redactor } from '../redact';
import { OfflineTracker } from './offline-tracker';
import { WandbTracker } from './wandb-tracker';

/**
 * The tracker `config` asks for. With no API key (or `WANDB_MODE=disabled`) tracking is off and
 * one info line says how to turn it on.
 */
export function createTracker(config: TrackingConfig, deps: { logger: Logger; redactor: Redactor }): Tracker {
  switch (config.mode) {
    case 'off':
      deps.logger.info(
        'W&B tracking is off: set WANDB_API_KEY to track runs (or WANDB_MODE=offline to keep them on disk).',
      );
      return noopTracker;
    case 'disabled':
      deps.logger.info('W&B tracking is disabled (WANDB_MODE=disabled).');
      return noopTracker;
    case 'offline':
      deps.logger.info(`W&B is offline: runs are written to ${config.offlineDir}.`);
      return new OfflineTracker(config.offlineDir, {
        project: config.project,
        entity: config.entity,
        redactor: deps.redactor,
      });
    case 'online':
      return new WandbTracker({ config, redactor: deps.redactor, logger: deps.logger });
  }
}
