import { container as globalContainer, type DependencyContainer } from 'tsyringe';

/**
 * A fresh DI container of your own: a child of tsyringe's global container, so what you
 * register in it stays in it. Core does not hand out the global container itself: nothing in
 * this project registers there, and no test has to reset it.
 *
 * @example
 * const container = createContainer();
 * container.register(GREETING, { useValue: 'Hello' });
 * const { handler } = await registry.getHandler('greet', container.createChildContainer());
 */
export function createContainer(): DependencyContainer {
  return globalContainer.createChildContainer();
}
