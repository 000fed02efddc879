/**
 * What a handler must return, and what to say when it returns something else: most often the
 * original Python library's dict (`status_code`, a JSON string in `metadata`), which a team moving
 * from it writes by habit.
 */

/** The fields the original's handlers returned, and the name each has here. */
const ORIGINAL_FIELD_NAMES: Readonly<Record<string, string>> = Object.freeze({
  status_code: 'statusCode',
  status: 'statusCode',
  statuscode: 'statusCode',
  StatusCode: 'statusCode',
  Body: 'body',
  message: 'body',
  Metadata: 'metadata',
});

/** Fields the executor fills in itself: a handler returning them is probably returning a whole record. */
const RECORD_FIELDS = ['service', 'timestamp', 'metadata_table_name'] as const;

const EXPECTED = '{ statusCode: integer, body: string, metadata?: object }';

/**
 * Why `value` is not a valid handler result, naming each wrong field and its fix; an empty
 * string when it is one. The executor records it as the run's `InvalidHandlerResult` error.
 *
 * @example
 * describeBadHandlerResult({ status_code: 200, body: 'ok', metadata: '{"n":1}' });
 * // 'the handler returned {"status_code":200,...}, not { statusCode: integer, body: string, metadata?: object }:
 * //  "status_code" is spelt "statusCode" here; metadata is a JSON string: return the object itself (JSON.parse it)'
 */
export function describeBadHandlerResult(value: unknown): string {
  if (plainlyValid(value)) return '';
  const problems = problemsOf(value);
  if (problems.length === 0) return '';
  return `the handler returned ${show(value)}, not ${EXPECTED}: ${problems.join('; ')}`;
}

/**
 * The common case, told without building the problem list: an object (not a promise) with an
 * integer `statusCode`, a string `body` and an object `metadata` or, without one, no `Metadata`
 * in its place ({@link problemsOf} finds nothing in exactly these).
 */
function plainlyValid(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { statusCode, body, metadata, then } = value as Record<string, unknown>;
  if (!Number.isInteger(statusCode) || typeof body !== 'string' || typeof then === 'function') return false;
  if (metadata === undefined) return !Object.hasOwn(value, 'Metadata');
  return typeof metadata === 'object' && metadata !== null && !Array.isArray(metadata);
}

/** Each problem of `value` as a handler result, with its fix (none: a valid result). */
export function problemsOf(value: unknown): string[] {
  if (value === undefined || value === null) return [`it returned ${String(value)}; return ${EXPECTED}`];
  if (typeof value !== 'object' || Array.isArray(value)) {
    return [`it returned ${Array.isArray(value) ? 'an array' : `a ${typeof value}`}; return ${EXPECTED}`];
  }
  if (typeof (value as { then?: unknown }).then === 'function') {
    return ['it returned a promise inside the result; await it before returning'];
  }
  const result = value as Record<string, unknown>;
  const problems: string[] = [];
  const renamed = new Set<string>();
  for (const [original, ours] of Object.entries(ORIGINAL_FIELD_NAMES)) {
    if (Object.hasOwn(result, original) && !Object.hasOwn(result, ours)) {
      problems.push(`"${original}" is spelt "${ours}" here`);
      renamed.add(ours);
    }
  }
  const { statusCode, body, metadata } = result;
  if (!renamed.has('statusCode')) {
    if (statusCode === undefined) problems.push('statusCode is missing (an integer HTTP-style status, e.g. 200)');
    else if (typeof statusCode === 'string' && /^\d+$/.test(statusCode.trim()))
      problems.push(`statusCode is the string "${statusCode}": return the number ${Number(statusCode)}`);
    else if (!Number.isInteger(statusCode)) problems.push(`statusCode is ${show(statusCode)}, not an integer`);
  }
  if (!renamed.has('body')) {
    if (body === undefined) problems.push('body is missing (a string, e.g. "done")');
    else if (typeof body !== 'string')
      problems.push(`body is ${kindOf(body)}, not a string: return JSON.stringify(...) of it, or put it in metadata`);
  }
  if (metadata !== undefined && !renamed.has('metadata')) {
    if (typeof metadata === 'string') {
      problems.push(
        isJsonObjectText(metadata)
          ? 'metadata is a JSON string: return the object itself (JSON.parse it); the record stores it as JSON'
          : 'metadata is a string: return an object, e.g. { note: "..." }',
      );
    } else if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
      problems.push(`metadata is ${kindOf(metadata)}: return an object (or leave it out)`);
    }
  }
  if (problems.length > 0) {
    const filled = RECORD_FIELDS.filter((field) => Object.hasOwn(result, field));
    if (filled.length > 0)
      problems.push(
        `${filled.join(', ')} ${filled.length > 1 ? 'are' : 'is'} filled in by the executor: leave them out`,
      );
  }
  return problems;
}

function isJsonObjectText(text: string): boolean {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null;
  } catch {
    return false;
  }
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  try {
    return String(JSON.stringify(value)).slice(0, 200);
  } catch {
    return 'a value JSON cannot show';
  }
}
