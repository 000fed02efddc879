// Cost of resolving one handler through the registry + a per-run child container, as a ratio
// to constructing the handler directly with `new`.
import { createRequire } from 'node:module';
import { measure, report } from './harness.mjs';

const require = createRequire(import.meta.url);
const core = require('@pipeline-invocation/core');
const { PipelineHandlerRegistry, definePlugin, pipelineHandler, inject, createContainer } = core;

const GREETING = Symbol('greeting');
class Greet {
  constructor(greeting) {
    this.greeting = greeting;
  }
  handle() {
    return { statusCode: 200, body: this.greeting };
  }
}
inject(GREETING)(Greet, undefined, 0);
pipelineHandler('greet')(Greet);

const registry = new PipelineHandlerRegistry().installPlugin(definePlugin({ handlers: [Greet] }));
const root = createContainer();
root.register(GREETING, { useValue: 'hi' });

let sink;
const direct = await measure(
  () => {
    sink = new Greet('hi');
  },
  { batch: 1000 },
);
const viaRegistry = await measure(
  async () => {
    sink = (await registry.getHandler('greet', root.createChildContainer())).handler;
  },
  { batch: 1000 },
);
if (!sink) throw new Error('nothing resolved');

report('registry lookup + DI resolve of one handler (per run)', [
  { name: 'direct new Handler()', ms: direct },
  { name: 'registry.getHandler(service, child container)', ms: viaRegistry },
]);
