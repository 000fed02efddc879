import type { DependencyContainer } from '@pipeline-invocation/core';

/** The registration methods of a tsyringe container a host's `register` may call. */
const RECORDED = ['register', 'registerInstance', 'registerSingleton', 'registerType'] as const;
type Recorded = (typeof RECORDED)[number];

/**
 * What the host's `register(container)` registered, to apply again in each plugin's container
 * after the plugin's own `register`: the host's registrations come last and win, whether the
 * plugin is passed in `plugins` (installed at once) or discovered (installed on first use).
 */
export interface HostRegistrations {
  /** Apply the host's registrations to `container` (a plugin's own). */
  replay(container: DependencyContainer): void;
}

/**
 * Run the host's `register` on `root`, recording each registration it makes (the same token,
 * provider and options; a `useValue` is the same object everywhere, a `useClass` or
 * `useFactory` is resolved in each container).
 */
export function recordHostRegistrations(
  root: DependencyContainer,
  register: ((container: DependencyContainer) => void) | undefined,
): HostRegistrations {
  const calls: { method: Recorded; args: unknown[] }[] = [];
  if (register) {
    const recorder: DependencyContainer = new Proxy(root, {
      get(target, property, receiver) {
        if ((RECORDED as readonly PropertyKey[]).includes(property)) {
          return (...args: unknown[]) => {
            calls.push({ method: property as Recorded, args });
            (target[property as Recorded] as (...a: unknown[]) => unknown).apply(target, args);
            return receiver;
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    register(recorder);
  }
  return {
    replay(container) {
      for (const { method, args } of calls) (container[method] as (...a: unknown[]) => unknown).apply(container, args);
    },
  };
}
