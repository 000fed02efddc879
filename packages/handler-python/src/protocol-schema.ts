import { z } from '@pipeline-invocation/core';

export const ExceptionSchema = z.object({
  type: z.string(),
  module: z.string().optional(),
  message: z.string(),
  /** `import` (the entry point could not be loaded), `handler` (it raised) or `result` (it returned something unusable). */
  phase: z.string().optional(),
  traceback: z.string().optional(),
  frames: z.array(z.object({ file: z.string(), line: z.number().nullable(), function: z.string() })).optional(),
});

/** An exception the Python side reports in its `closed` message. */
export type PythonException = z.infer<typeof ExceptionSchema>;

const ResultSchema = z.object({
  status_code: z.number().int(),
  body: z.string(),
  metadata: z.record(z.string(), z.unknown()),
});

/** The messages the Python side sends on its channel (fd 3), one JSON object per line. */
export const MessageSchema = z.discriminatedUnion('type', [
  z.object({ v: z.number(), type: z.literal('opened'), pid: z.number(), python: z.string(), entry: z.string() }),
  z.object({
    v: z.number(),
    type: z.literal('log'),
    level: z.string(),
    message: z.string(),
    logger: z.string().optional(),
  }),
  z.object({ v: z.number(), type: z.literal('progress'), done: z.number(), total: z.number() }),
  z.object({ v: z.number(), type: z.literal('metric'), name: z.string().min(1), value: z.number() }),
  z.object({
    v: z.number(),
    type: z.literal('closed'),
    result: ResultSchema.optional(),
    exception: ExceptionSchema.optional(),
    cancelled: z.boolean().optional(),
  }),
]);

/** One message of the protocol. */
export type Message = z.infer<typeof MessageSchema>;
