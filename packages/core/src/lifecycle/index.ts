export {
  RunLifecycle,
  LIFECYCLE_DEFAULTS,
  TERMINAL_STATUSES,
  isTerminal,
  scopedKey,
  prunableStatuses,
  heartbeatMsOf,
  keyVerdict,
  type KeyVerdict,
  type RunLifecycleOptions,
  type BeginOutcome,
  type FinishOutcome,
  type CrashOutcome,
  type CrashReason,
} from './lifecycle';
export { runSatisfies, keySatisfies, onStatusOnly } from './conditions';
