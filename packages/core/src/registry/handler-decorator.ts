import { injectable } from 'tsyringe';
import type { z } from 'zod';
import type { PipelineHandler } from '../contract';

/** Options of {@link pipelineHandler}. */
export interface PipelineHandlerOptions<S extends z.ZodType = z.ZodType> {
  /** Schema of the payload; a payload that fails it is refused with a 400 before `handle` runs. */
  payload?: S;
}

/** What the decorator records on a handler class. */
export interface HandlerDefinition {
  readonly service: string;
  readonly payload: z.ZodType | undefined;
}

/** A class whose instances are pipeline handlers. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type HandlerClass<P = any> = new (...args: any[]) => PipelineHandler<P>;

const DEFINITION = Symbol.for('pipeline-invocation.HandlerDefinition');

/**
 * Mark a class as the handler of `service` and make it injectable. The decorator only
 * records; a registry (through a plugin from `definePlugin`) installs it.
 * Inject collaborators with explicit tokens (`@inject(TOKEN)`), so any transpiler works.
 *
 * @example
 * @pipelineHandler('word_count', { payload: z.object({ text: z.string() }) })
 * class WordCount implements PipelineHandler<{ text: string }> {
 *   constructor(@inject(LOGGER) private readonly logger: Logger) {}
 *   handle(event: { text: string }) {
 *     return { statusCode: 200, body: String(event.text.split(/\s+/).length) };
 *   }
 * }
 */
export function pipelineHandler<S extends z.ZodType>(
  service: string,
  options: PipelineHandlerOptions<S> = {},
): <C extends HandlerClass>(target: C) => C {
  if (typeof service !== 'string' || service.trim() === '') {
    throw new TypeError('@pipelineHandler(service): service must be a non-empty string');
  }
  return <C extends HandlerClass>(target: C): C => {
    injectable()(target);
    const definition: HandlerDefinition = { service, payload: options.payload };
    Object.defineProperty(target, DEFINITION, { value: definition, enumerable: false });
    return target;
  };
}

/** The definition `@pipelineHandler` recorded on `target`, or `undefined` if it is not decorated. */
export function getHandlerDefinition(target: unknown): HandlerDefinition | undefined {
  if (typeof target !== 'function') return undefined;
  return Object.prototype.hasOwnProperty.call(target, DEFINITION)
    ? (target as unknown as Record<symbol, HandlerDefinition>)[DEFINITION]
    : undefined;
}
