/**
 * Jest's fake timers drive the invoker's clock (core's `systemClock` looks the globals up at call
 * time); promise jobs, `nextTick` and `setImmediate` stay real so I/O and awaits go on. The
 * caller restores real timers (`afterEach(() => jest.useRealTimers())`).
 */
export const fakeTime = () => jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });

/** A promise's outcome once it has one, read without awaiting it. */
export function track<T>(promise: Promise<T>): { value?: T; done: boolean } {
  const state: { value?: T; done: boolean } = { done: false };
  void promise.then((value) => Object.assign(state, { value, done: true }));
  return state;
}
