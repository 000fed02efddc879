import { z } from 'zod';
import { definePlugin, pipelineHandler, type HandlerResult, type PipelineHandler, type RunContext } from '../src';

// Type-level checks of the handler contract: these lines fail `npm run typecheck` if the
// contract loosens. The runtime assertions keep the test meaningful under jest too.
describe('handler contract (types)', () => {
  it('accepts a well-formed handler and rejects malformed ones at compile time', () => {
    const good: PipelineHandler<{ n: number }> = {
      handle: async (event, context) => ({ statusCode: 200, body: String(event.n + context.runId.length) }),
    };

    // @ts-expect-error: a handler must return statusCode and body
    const missingBody: PipelineHandler = { handle: () => ({ statusCode: 200 }) };

    // @ts-expect-error: statusCode must be a number
    const wrongStatus: PipelineHandler = { handle: () => ({ statusCode: '200', body: '' }) };

    const readsContext = (context: RunContext) => {
      // @ts-expect-error: the run context is read-only
      context.runId = 'changed';
      return context.signal.aborted;
    };

    // @ts-expect-error: definePlugin needs handler classes, not instances
    expect(() => definePlugin({ handlers: [good] })).toThrow(TypeError);

    // @ts-expect-error: the decorator needs a service name
    expect(() => pipelineHandler()).toThrow(TypeError);

    const result: HandlerResult = { statusCode: 200, body: 'ok', metadata: { nested: { any: 'json' } } };
    expect(typeof good.handle).toBe('function');
    expect([missingBody, wrongStatus, readsContext, result]).toHaveLength(4);
  });

  it('types the event from the payload schema', () => {
    const schema = z.object({ count: z.number() });
    @pipelineHandler('typed', { payload: schema })
    class Typed implements PipelineHandler<z.infer<typeof schema>> {
      handle(event: z.infer<typeof schema>) {
        // @ts-expect-error: count is a number, not a string
        const s: string = event.count;
        return { statusCode: 200, body: String(s) };
      }
    }
    expect(definePlugin({ handlers: [Typed] }).handlers).toEqual([Typed]);
  });
});
