/**
 * The version of the handler plugin contract this copy of core implements (semver).
 *
 * A plugin's manifest names the contract range it supports (`pipelineInvocation.contract`);
 * the host refuses a plugin whose range does not accept this version. It moves independently
 * of the npm package version: a major bump here means existing handlers must change.
 */
export const CONTRACT_VERSION = '1.0.0';

/** Whether a plugin built against contract `pluginContract` can run under {@link CONTRACT_VERSION}. */
export function isContractCompatible(pluginContract: string): boolean {
  const major = (v: string) => Number.parseInt(v.split('.')[0] ?? '', 10);
  return Number.isInteger(major(pluginContract)) && major(pluginContract) === major(CONTRACT_VERSION);
}
