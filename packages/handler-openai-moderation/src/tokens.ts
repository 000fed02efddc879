import type { InjectionToken } from '@pipeline-invocation/core';
import type { ModerationConfig } from './config';

/** DI token of the handler's {@link ModerationConfig} (from the invoker's environment unless a host registers its own). */
export const MODERATION_CONFIG: InjectionToken<ModerationConfig> = Symbol.for(
  'pipeline-invocation.openai-moderation.Config',
);
