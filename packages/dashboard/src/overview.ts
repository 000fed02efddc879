import { isTerminal, type RunExecutionMetadata, type RunStore, type ServiceStats } from '@pipeline-invocation/core';

/** One service on the overview page. */
export interface ServiceOverview extends ServiceStats {
  /** Its newest run. */
  readonly last?: Pick<RunExecutionMetadata, 'run_id' | 'status' | 'started_at' | 'duration_ms'>;
  /** `[start time (s), duration (ms)]` of its newest runs, oldest first: the duration chart. */
  readonly durations: [number, number][];
}

/** How many newest runs of a service feed its duration chart and its p50/p95 duration. */
export const RECENT_RUNS = 200;

/**
 * The overview: every service's counts (from the store's rollups when it keeps them, else from its
 * newest runs), its newest run, and its newest runs' durations (the chart, p50 and p95). Its cost does not grow with the history:
 * a store with rollups reads at most a week of hourly rows and {@link RECENT_RUNS} runs per service.
 */
export async function overview(store: RunStore, nowMs: number): Promise<ServiceOverview[]> {
  const stats = store.serviceStats ? await store.serviceStats(nowMs) : await statsFromRecentRuns(store, nowMs);
  return Promise.all(
    stats.map(async (s) => {
      const recent = (await store.list({ service: s.service, limit: RECENT_RUNS })).items;
      const last = recent[0];
      return {
        ...percentiles(recent.filter((r) => r.duration_ms !== undefined).map((r) => r.duration_ms!)),
        ...s,
        ...(last
          ? {
              last: {
                run_id: last.run_id,
                status: last.status,
                started_at: last.started_at,
                duration_ms: last.duration_ms,
              },
            }
          : {}),
        durations: recent
          .filter((r) => r.duration_ms !== undefined)
          .map((r): [number, number] => [Date.parse(r.started_at) / 1000, r.duration_ms!])
          .reverse(),
      };
    }),
  );
}

/** Stats of a store without rollups (DynamoDB, memory): from the newest 1,000 runs of each service seen among the newest 1,000. */
async function statsFromRecentRuns(store: RunStore, nowMs: number): Promise<ServiceStats[]> {
  const services = [...new Set((await store.list({ limit: 1000 })).items.map((r) => r.service))].sort();
  return Promise.all(
    services.map(async (service) => {
      const runs = (await store.list({ service, limit: 1000 })).items.filter((r) => isTerminal(r.status));
      const since = (hours: number) => runs.filter((r) => Date.parse(r.started_at) > nowMs - hours * 3_600_000);
      const count = (list: RunExecutionMetadata[]) => ({
        finished: list.length,
        succeeded: list.filter((r) => r.status === 'SUCCEEDED').length,
      });
      const week = since(7 * 24);
      const dayNow = Math.floor(nowMs / 86_400_000);
      return {
        service,
        last24h: count(since(24)),
        last7d: count(week),
        perDay: Array.from({ length: 7 }, (_, i) => {
          const day = dayNow - 6 + i;
          return {
            day: new Date(day * 86_400_000).toISOString().slice(0, 10),
            runs: week.filter((r) => Math.floor(Date.parse(r.started_at) / 86_400_000) === day).length,
          };
        }),
      };
    }),
  );
}

/** p50 and p95 of durations (ms), when there are any. */
function percentiles(durations: number[]): { p50Ms?: number; p95Ms?: number } {
  if (!durations.length) return {};
  const sorted = [...durations].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  return { p50Ms: at(0.5), p95Ms: at(0.95) };
}
