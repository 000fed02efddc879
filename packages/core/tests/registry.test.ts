import * as core from '../src';
import { container as tsyringeRoot } from 'tsyringe';
import { z } from 'zod';
import {
  CONTRACT_VERSION,
  DuplicateServiceError,
  LOGGER,
  PipelineHandlerRegistry,
  PLUGIN_BRAND,
  UnknownServiceError,
  definePlugin,
  explainNotAPlugin,
  getHandlerDefinition,
  inject,
  isPipelinePlugin,
  pipelineHandler,
  type HandlerResult,
  type Logger,
  type PipelineHandler,
  type PipelinePlugin,
  type RunContext,
} from '../src';

const GREETING = Symbol('Greeting');

@pipelineHandler('greet', { payload: z.object({ name: z.string() }) })
class GreetHandler implements PipelineHandler<{ name: string }> {
  // Injected by explicit token: works without emitted type metadata (swc here).
  constructor(@inject(GREETING) private readonly greeting: string) {}
  handle(event: { name: string }): HandlerResult {
    return { statusCode: 200, body: `${this.greeting}, ${event.name}` };
  }
}

@pipelineHandler('echo')
class EchoHandler implements PipelineHandler {
  handle(event: Record<string, unknown>): HandlerResult {
    return { statusCode: 200, body: JSON.stringify(event) };
  }
}

describe('@pipelineHandler', () => {
  it('records the service and payload schema on the class', () => {
    const definition = getHandlerDefinition(GreetHandler);
    expect(definition?.service).toBe('greet');
    expect(definition?.payload?.safeParse({ name: 'x' }).success).toBe(true);
    expect(getHandlerDefinition(class {})).toBeUndefined();
  });

  it('refuses an empty service name', () => {
    expect(() => pipelineHandler('')).toThrow('service must be a non-empty string');
  });

  it('hands out fresh containers, never the global one', () => {
    expect('rootContainer' in core).toBe(false);
    const a = core.createContainer();
    const b = core.createContainer();
    a.register(GREETING, { useValue: 'only in a' });
    expect(a.isRegistered(GREETING)).toBe(true);
    expect(b.isRegistered(GREETING)).toBe(false);
  });

  it('does not register anything globally: only an explicit install does', () => {
    expect(PipelineHandlerRegistry.listServices()).not.toContain('greet');
  });
});

describe('PipelineHandlerRegistry', () => {
  it('resolves a decorated handler through a child container with its collaborator injected by token', async () => {
    const registry = new PipelineHandlerRegistry().installPlugin(definePlugin({ handlers: [GreetHandler] }));
    const root = tsyringeRoot.createChildContainer();
    root.register(GREETING, { useValue: 'Hello' });
    const resolved = await registry.getHandler('greet', root.createChildContainer());
    expect(resolved.handler).toBeInstanceOf(GreetHandler);
    expect(await resolved.handler.handle({ name: 'Ada' }, {} as RunContext)).toEqual({
      statusCode: 200,
      body: 'Hello, Ada',
    });
    expect(resolved.source).toEqual({ package: '(inline)', version: '0.0.0' });
  });

  it('gives each run container its own values (full isolation)', async () => {
    const registry = new PipelineHandlerRegistry().registerClass(GreetHandler);
    const root = tsyringeRoot.createChildContainer();
    const a = root.createChildContainer();
    const b = root.createChildContainer();
    a.register(GREETING, { useValue: 'Hi' });
    b.register(GREETING, { useValue: 'Bye' });
    const [ha, hb] = await Promise.all([registry.getHandler('greet', a), registry.getHandler('greet', b)]);
    expect((await ha.handler.handle({ name: 'x' }, {} as RunContext)).body).toBe('Hi, x');
    expect((await hb.handler.handle({ name: 'x' }, {} as RunContext)).body).toBe('Bye, x');
  });

  it('lists services sorted and answers has()', () => {
    const registry = new PipelineHandlerRegistry()
      .register('zeta', () => new EchoHandler())
      .registerClass(GreetHandler)
      .register('alpha', () => new EchoHandler());
    expect(registry.listServices()).toEqual(['alpha', 'greet', 'zeta']);
    expect(registry.has('greet')).toBe(true);
    expect(registry.has('nope')).toBe(false);
  });

  it('throws UnknownServiceError listing the registered services', async () => {
    const registry = new PipelineHandlerRegistry().registerClass(EchoHandler);
    await expect(registry.getHandler('nope', tsyringeRoot.createChildContainer())).rejects.toMatchObject({
      name: 'UnknownServiceError',
      serviceName: 'nope',
      availableServices: ['echo'],
    });
  });

  it('runs factories lazily, on every lookup, and lets their errors through unchanged', async () => {
    let calls = 0;
    const importError = new Error("Cannot find module 'heavy'");
    const registry = new PipelineHandlerRegistry()
      .register('lazy', async () => {
        calls += 1;
        return new EchoHandler();
      })
      .register('broken', () => {
        throw importError;
      });
    expect(calls).toBe(0);
    const c = tsyringeRoot.createChildContainer();
    await registry.getHandler('lazy', c);
    await registry.getHandler('lazy', c);
    expect(calls).toBe(2);
    await expect(registry.getHandler('broken', c)).rejects.toBe(importError);
  });

  it('refuses a factory that returns something without handle()', async () => {
    const registry = new PipelineHandlerRegistry().register('bad', () => ({}) as PipelineHandler);
    await expect(registry.getHandler('bad', tsyringeRoot.createChildContainer())).rejects.toThrow(
      'returned no object with a handle(event, context) method',
    );
  });

  it('refuses a second registration of a service, naming both registrants', () => {
    const registry = new PipelineHandlerRegistry().registerClass(EchoHandler, {
      source: { package: 'pkg-a', version: '1.0.0' },
    });
    let thrown: unknown;
    try {
      registry.register('echo', () => new EchoHandler(), { source: { package: 'pkg-b', version: '2.0.0' } });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DuplicateServiceError);
    expect((thrown as Error).message).toContain('pkg-a@1.0.0');
    expect((thrown as Error).message).toContain('pkg-b@2.0.0');
  });

  it('replaces a registration only when an override is asked for', async () => {
    const registry = new PipelineHandlerRegistry().registerClass(EchoHandler);
    registry.register('echo', () => ({ handle: () => ({ statusCode: 201, body: 'fake' }) }), { override: true });
    const { handler } = await registry.getHandler('echo', tsyringeRoot.createChildContainer());
    expect(await handler.handle({}, {} as RunContext)).toEqual({ statusCode: 201, body: 'fake' });
  });

  it('refuses an unbranded plugin and a plugin of another contract major', () => {
    const registry = new PipelineHandlerRegistry();
    expect(() =>
      registry.installPlugin({ handlers: [] } as unknown as PipelinePlugin, { source: { package: 'p', version: '1' } }),
    ).toThrow(/Could not load handler plugin "p": .*not branded/);
    const future = { ...definePlugin({ handlers: [EchoHandler] }), contract: '2.0.0' };
    expect(() => registry.installPlugin(future)).toThrow(
      expect.objectContaining({ name: 'IncompatiblePluginError', hostContract: CONTRACT_VERSION }),
    );
    expect(registry.listServices()).toEqual([]);
  });

  it('offers the seed-compatible static facade over a default registry', async () => {
    PipelineHandlerRegistry.register('static_echo_test', () => new EchoHandler(), { override: true });
    expect(PipelineHandlerRegistry.listServices()).toContain('static_echo_test');
    const { handler } = await PipelineHandlerRegistry.getHandler('static_echo_test');
    expect((await handler.handle({ a: 1 }, {} as RunContext)).body).toBe('{"a":1}');
    await expect(PipelineHandlerRegistry.getHandler('missing_static')).rejects.toBeInstanceOf(UnknownServiceError);
  });
});

describe('definePlugin', () => {
  it('returns a frozen, branded, contract-versioned plugin object', () => {
    const register = jestFreeRegister();
    const plugin = definePlugin({ handlers: [EchoHandler], register });
    expect(plugin.$$type).toBe(PLUGIN_BRAND);
    expect(plugin.contract).toBe(CONTRACT_VERSION);
    expect(plugin.register).toBe(register);
    expect(Object.isFrozen(plugin)).toBe(true);
    expect(isPipelinePlugin(plugin)).toBe(true);
  });

  it('refuses an undecorated handler class', () => {
    class Plain {
      handle() {
        return { statusCode: 200, body: '' };
      }
    }
    expect(() => definePlugin({ handlers: [Plain] })).toThrow('Plain is not decorated with @pipelineHandler');
  });

  it('explains why a value is not a plugin', () => {
    expect(explainNotAPlugin(undefined)).toContain('undefined');
    expect(explainNotAPlugin(null)).toContain('null');
    expect(explainNotAPlugin({ $$type: 'other' })).toContain('not branded');
    expect(explainNotAPlugin({ $$type: PLUGIN_BRAND, contract: '1.0.0' })).toContain('no handlers');
  });
});

function jestFreeRegister() {
  return (c: { register: (token: symbol, provider: { useValue: unknown }) => unknown }) => {
    c.register(LOGGER as symbol, { useValue: {} as Logger });
  };
}

describe('plugin containers', () => {
  const SHARED = Symbol('Shared');

  @pipelineHandler('reads_shared')
  class ReadsShared implements PipelineHandler {
    constructor(
      @inject(SHARED) private readonly shared: string,
      @inject(core.RUN_CONTEXT) private readonly context: RunContext,
    ) {}
    handle(): HandlerResult {
      return { statusCode: 200, body: `${this.shared} ${this.context.runId}` };
    }
  }

  it("resolves a plugin's handler from its own container, with the run's values carried in", async () => {
    const root = core.createContainer();
    root.register(SHARED, { useValue: 'root value' });
    const mine = core.createPluginContainer(root);
    mine.register(SHARED, { useValue: 'plugin value' });
    const other = core.createPluginContainer(root);
    other.register(SHARED, { useValue: 'the other plugin rebound it' });
    const registry = new PipelineHandlerRegistry();
    registry.installPlugin(definePlugin({ handlers: [ReadsShared] }), { container: mine });
    expect(registry.containerOf('reads_shared')).toBe(mine);

    // the executor's run container: a child of the root with the run's context
    const run = root.createChildContainer();
    run.register(core.RUN_CONTEXT, { useValue: { runId: 'RUN1' } as RunContext });
    const { handler } = await registry.getHandler('reads_shared', run);
    expect((await handler.handle({}, {} as RunContext)).body).toBe('plugin value RUN1');

    // a run container made from the plugin's container is used as it is
    const direct = mine.createChildContainer();
    direct.register(core.RUN_CONTEXT, { useValue: { runId: 'RUN2' } as RunContext });
    expect((await (await registry.getHandler('reads_shared', direct)).handler.handle({}, {} as RunContext)).body).toBe(
      'plugin value RUN2',
    );
  });

  it('unregister removes a registration; isOverride says which were test replacements', () => {
    const registry = new PipelineHandlerRegistry();
    registry.register('a', () => new EchoHandler());
    registry.register('b', () => new EchoHandler(), { override: true });
    expect([registry.isOverride('a'), registry.isOverride('b')]).toEqual([false, true]);
    expect(registry.unregister('a')).toBe(true);
    expect(registry.unregister('a')).toBe(false);
    expect(registry.listServices()).toEqual(['b']);
  });

  it('adopt follows the other registry: a registration it dropped is dropped here too', () => {
    const facade = new PipelineHandlerRegistry();
    const mine = new PipelineHandlerRegistry();
    facade.register('x', () => new EchoHandler());
    expect(mine.adopt(facade, 'x')).toBe(true);
    expect([mine.has('x'), mine.hasOwn('x'), mine.isAdopted('x')]).toEqual([true, false, true]);
    facade.unregister('x');
    expect(mine.adopt(facade, 'x')).toBe(false);
    expect(mine.has('x')).toBe(false);
  });
});
