/**
 * @packageDocumentation
 * The run dashboard of pipeline-invocation: `pipeline dashboard` (found at run time by the CLI,
 * like the worker), or {@link startDashboard} with any run store. It reads run records and never
 * writes them.
 */
export { startDashboard, type Dashboard, type DashboardOptions, type DashboardSchedule } from './server';
export { overview, RECENT_RUNS, type ServiceOverview } from './overview';
