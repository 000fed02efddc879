import type { InjectionToken } from '@pipeline-invocation/core';
import type { PerspectiveConfig } from './config';

/** DI token of the handler's {@link PerspectiveConfig} (from the environment unless a test registers its own). */
export const PERSPECTIVE_CONFIG: InjectionToken<PerspectiveConfig> = Symbol.for(
  'pipeline-invocation.perspective.Config',
);
