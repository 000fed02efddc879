import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A span as the receiver decoded it. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** 1 INTERNAL, 2 SERVER, 3 CLIENT, 4 PRODUCER, 5 CONSUMER. */
  kind: number;
  attributes: Record<string, unknown>;
  /** 0 UNSET, 1 OK, 2 ERROR. */
  status: { code: number; message: string };
  events: { name: string; attributes: Record<string, unknown> }[];
  resource: Record<string, unknown>;
}

/** A metric data point as the receiver decoded it. */
export interface ReceivedPoint {
  metric: string;
  attributes: Record<string, unknown>;
  /** A sum's value, or a histogram's count. */
  value: number;
}

/** An OTLP/HTTP receiver on 127.0.0.1 (`/v1/traces`, `/v1/metrics`), decoding http/protobuf and http/json. */
export interface OtlpReceiver {
  readonly endpoint: string;
  readonly spans: ReceivedSpan[];
  readonly points: ReceivedPoint[];
  /** Content types and headers of the requests received. */
  readonly requests: { path: string; contentType: string; headers: Record<string, string | string[] | undefined> }[];
  /** Answer every export with this status (e.g. 503) instead of 200. */
  failWith: number | undefined;
  stop(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const state: OtlpReceiver = {
    endpoint: '',
    spans: [],
    points: [],
    requests: [],
    failWith: undefined,
    stop: async () => {},
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const contentType = String(req.headers['content-type'] ?? '');
      state.requests.push({ path: req.url ?? '', contentType, headers: req.headers });
      if (state.failWith) {
        res.writeHead(state.failWith);
        return res.end();
      }
      const json = contentType.includes('json');
      if (req.url === '/v1/traces') state.spans.push(...(json ? spansFromJson(body) : spansFromProto(body)));
      if (req.url === '/v1/metrics') state.points.push(...(json ? pointsFromJson(body) : pointsFromProto(body)));
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
      res.end(json ? '{}' : Buffer.alloc(0));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

// --- protobuf wire format: just what OTLP's trace and metric requests use ---

type Fields = Map<number, (bigint | Buffer)[]>;

function readVarint(buf: Buffer, at: number): [bigint, number] {
  let value = 0n;
  let shift = 0n;
  for (;;) {
    const byte = buf[at++]!;
    value |= BigInt(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return [value, at];
    shift += 7n;
  }
}

/** The fields of a message, by number: varints as bigint, the rest as bytes. */
function fields(buf: Buffer): Fields {
  const out: Fields = new Map();
  let at = 0;
  while (at < buf.length) {
    const [tag, next] = readVarint(buf, at);
    at = next;
    const n = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    let value: bigint | Buffer;
    if (wire === 0) [value, at] = readVarint(buf, at);
    else if (wire === 1 || wire === 5) {
      const size = wire === 1 ? 8 : 4;
      value = buf.subarray(at, at + size);
      at += size;
    } else if (wire === 2) {
      const [length, start] = readVarint(buf, at);
      value = buf.subarray(start, start + Number(length));
      at = start + Number(length);
    } else throw new Error(`unsupported wire type ${wire}`);
    out.set(n, [...(out.get(n) ?? []), value]);
  }
  return out;
}

const messages = (f: Fields, n: number) => (f.get(n) ?? []).map((v) => fields(v as Buffer));
const bytes = (f: Fields, n: number) => (f.get(n)?.[0] as Buffer | undefined) ?? Buffer.alloc(0);
const text = (f: Fields, n: number) => bytes(f, n).toString('utf8');
const int = (f: Fields, n: number) => Number((f.get(n)?.[0] as bigint | undefined) ?? 0n);

function anyValue(f: Fields): unknown {
  if (f.has(1)) return text(f, 1);
  if (f.has(2)) return int(f, 2) === 1;
  if (f.has(3)) return int(f, 3);
  if (f.has(4)) return bytes(f, 4).readDoubleLE(0);
  return undefined;
}

function attributes(list: Fields[]): Record<string, unknown> {
  return Object.fromEntries(list.map((kv) => [text(kv, 1), anyValue(messages(kv, 2)[0] ?? new Map())]));
}

function spansFromProto(body: Buffer): ReceivedSpan[] {
  return messages(fields(body), 1).flatMap((rs) => {
    const resource = attributes(messages(messages(rs, 1)[0] ?? new Map(), 1));
    return messages(rs, 2).flatMap((ss) =>
      messages(ss, 2).map((span) => {
        const status = messages(span, 15)[0] ?? new Map();
        return {
          traceId: bytes(span, 1).toString('hex'),
          spanId: bytes(span, 2).toString('hex'),
          parentSpanId: bytes(span, 4).toString('hex'),
          name: text(span, 5),
          kind: int(span, 6),
          attributes: attributes(messages(span, 9)),
          status: { code: int(status, 3), message: text(status, 2) },
          events: messages(span, 11).map((e) => ({ name: text(e, 2), attributes: attributes(messages(e, 3)) })),
          resource,
        };
      }),
    );
  });
}

function pointsFromProto(body: Buffer): ReceivedPoint[] {
  return messages(fields(body), 1).flatMap((rm) =>
    messages(rm, 2).flatMap((sm) =>
      messages(sm, 2).flatMap((metric) => {
        const name = text(metric, 1);
        const sums = messages(messages(metric, 7)[0] ?? new Map(), 1).map((p) => ({
          metric: name,
          attributes: attributes(messages(p, 7)),
          value: p.has(6) ? Number(bytes(p, 6).readBigInt64LE(0)) : bytes(p, 4).readDoubleLE(0),
        }));
        const histograms = messages(messages(metric, 9)[0] ?? new Map(), 1).map((p) => ({
          metric: name,
          attributes: attributes(messages(p, 9)),
          value: Number(bytes(p, 4).readBigUInt64LE(0)),
        }));
        return [...sums, ...histograms];
      }),
    ),
  );
}

// --- http/json ---

type JsonKv = { key: string; value: Record<string, unknown> };
const jsonAttributes = (list: JsonKv[] = []) =>
  Object.fromEntries(
    list.map(({ key, value }) => [
      key,
      value.stringValue ??
        value.boolValue ??
        (value.intValue !== undefined ? Number(value.intValue) : value.doubleValue),
    ]),
  );

function spansFromJson(body: Buffer): ReceivedSpan[] {
  const request = JSON.parse(body.toString('utf8'));
  return (request.resourceSpans ?? []).flatMap((rs: Record<string, any>) =>
    (rs.scopeSpans ?? []).flatMap((ss: Record<string, any>) =>
      (ss.spans ?? []).map((s: Record<string, any>) => ({
        traceId: s.traceId,
        spanId: s.spanId,
        parentSpanId: s.parentSpanId ?? '',
        name: s.name,
        kind: s.kind,
        attributes: jsonAttributes(s.attributes),
        status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
        events: (s.events ?? []).map((e: Record<string, any>) => ({
          name: e.name,
          attributes: jsonAttributes(e.attributes),
        })),
        resource: jsonAttributes(rs.resource?.attributes),
      })),
    ),
  );
}

function pointsFromJson(body: Buffer): ReceivedPoint[] {
  const request = JSON.parse(body.toString('utf8'));
  return (request.resourceMetrics ?? []).flatMap((rm: Record<string, any>) =>
    (rm.scopeMetrics ?? []).flatMap((sm: Record<string, any>) =>
      (sm.metrics ?? []).flatMap((m: Record<string, any>) => [
        ...(m.sum?.dataPoints ?? []).map((p: Record<string, any>) => ({
          metric: m.name,
          attributes: jsonAttributes(p.attributes),
          value: Number(p.asInt ?? p.asDouble),
        })),
        ...(m.histogram?.dataPoints ?? []).map((p: Record<string, any>) => ({
          metric: m.name,
          attributes: jsonAttributes(p.attributes),
          value: Number(p.count),
        })),
      ]),
    ),
  );
}
