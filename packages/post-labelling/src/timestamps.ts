/** The original pipeline's timestamp format, `YYYY-MM-DD-HH:MM:SS` in UTC (kept for its queue files). */
export function queueTimestamp(date: Date = new Date()): string {
  const iso = date.toISOString(); // 2026-11-21T10:20:30.123Z
  return `${iso.slice(0, 10)}-${iso.slice(11, 19)}`;
}
