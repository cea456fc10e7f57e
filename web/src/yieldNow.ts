// Yielding to a Worker's event loop, shared by the studio's and the playground's Workers.

const tick = new MessageChannel();
const waiting: Array<() => void> = [];
tick.port1.onmessage = () => waiting.shift()?.();

/** A macrotask without setTimeout's 4 ms clamp, so a loop that yields every step stays fast. */
export const yieldNow = (): Promise<void> => new Promise((resolve) => {
  waiting.push(resolve);
  tick.port2.postMessage(null);
});
