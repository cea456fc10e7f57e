// The body of a kernel worker thread, as source text so that any platform can start it (Node's worker_threads
// with `eval: true`, a browser's Worker from a Blob URL) without resolving a file path.
//
// The worker instantiates the same module on the same shared memory and waits on the control block: word 0 is the
// generation counter the caller bumps for each job, word 1 counts finished workers, word 2 is the op code,
// words 3.. are integer arguments and floats follow at word 32 (see createWasmBackend.ts).

/** Op codes shared by the caller and the workers. */
export const OP = { exit: 0, gemm: 1, adam: 2, im2col: 3, convForward: 4, convWeights: 5, winoForward: 6, winoWeights: 7 } as const;

/**
 * `(init) => void`, where init = { module, memory, ctrl, index, threads, generation }. `generation` is the counter's
 * value when the worker was spawned: a worker may start running after the caller has already posted its first job,
 * so it must not take the counter's current value as "seen" (that would skip the job and leave the caller waiting).
 */
export const WORKER_MAIN = `function workerMain(init) {
  const { module, memory, ctrl, index, threads, generation } = init;
  const inst = new WebAssembly.Instance(module, { env: { memory, abort() { throw new Error('wasm abort'); } } });
  const k = inst.exports;
  const ctl = new Int32Array(memory.buffer, ctrl, 64);
  const fl = new Float32Array(memory.buffer, ctrl + 128, 16);
  let seen = generation;
  for (;;) {
    Atomics.wait(ctl, 0, seen);
    const gen = Atomics.load(ctl, 0);
    if (gen === seen) continue;
    seen = gen;
    const op = ctl[2];
    if (op === ${OP.exit}) return;
    if (op === ${OP.gemm}) {
      const M = ctl[5], N = ctl[6], byCols = ctl[13] === 1, scratch = ctl[12] + index * ctl[14];
      if (byCols) {
        const [lo, hi] = share(0, N, index, threads, 8);
        if (hi > lo) k.gemm(ctl[3], ctl[4], M, N, ctl[7], ctl[8], ctl[9], ctl[10], ctl[11], 0, M, lo, hi, scratch);
      } else {
        const [lo, hi] = share(0, M, index, threads, 4);
        if (hi > lo) k.gemm(ctl[3], ctl[4], M, N, ctl[7], ctl[8], ctl[9], ctl[10], ctl[11], lo, hi, 0, N, scratch);
      }
    } else if (op === ${OP.im2col}) {
      const [lo, hi] = share(0, ctl[10], index, threads, 1);
      if (hi > lo) k.im2col(ctl[3], ctl[4], ctl[5], ctl[6], ctl[7], ctl[8], ctl[9], lo, hi);
    } else if (op === ${OP.convForward}) {
      // src, dst, wp, bias, H, W, S, D, k, relu, dot, rows, bands, perThread, bandRows (createWasmConv.ts)
      const [lo, hi] = share(0, ctl[14], index, threads, 1);
      if (hi > lo) k.convForward(ctl[3], ctl[4], ctl[5], ctl[6], ctl[7], ctl[8], ctl[9], ctl[10], ctl[11], ctl[12], ctl[13], lo, hi, (ctl[15] >>> 0) + index * ctl[16], ctl[17]);
    } else if (op === ${OP.convWeights}) {
      // x, dy, H, W, C, D, k, orient, rows, parts, perThread, partBytes, bandRows, subRows: every thread writes its
      // part, an empty share included (zeros), since the caller adds all of them up.
      const [lo, hi] = share(0, ctl[11], index, threads, 1);
      const part = (ctl[12] >>> 0) + index * ctl[13];
      k.convWeights(ctl[3], ctl[4], part, ctl[5], ctl[6], ctl[7], ctl[8], ctl[9], ctl[10], lo, hi, part + ctl[14], ctl[15], ctl[16]);
    } else if (op === ${OP.winoForward}) {
      // src, dst, up, bias, H, W, S, D, relu, tile rows, bands, perThread, bandTiles, T
      const [lo, hi] = share(0, ctl[12], index, threads, 1);
      if (hi > lo) k.winoForward(ctl[3], ctl[4], ctl[5], ctl[6], ctl[7], ctl[8], ctl[9], ctl[10], ctl[11], lo, hi, (ctl[13] >>> 0) + index * ctl[14], ctl[15], ctl[16]);
    } else if (op === ${OP.winoWeights}) {
      // x, dy, H, W, C, D, tile rows, parts, perThread, partBytes, bandTiles, T (every thread writes its part)
      const [lo, hi] = share(0, ctl[9], index, threads, 1);
      const part = (ctl[10] >>> 0) + index * ctl[11];
      k.winoWeights(ctl[3], ctl[4], part, ctl[5], ctl[6], ctl[7], ctl[8], lo, hi, part + ctl[12], ctl[13], ctl[14]);
    } else if (op === ${OP.adam}) {
      const [lo, hi] = share(0, ctl[7], index, threads, 4);
      if (hi > lo) k.adam(ctl[3], ctl[4], ctl[5], ctl[6], fl[0], fl[1], fl[2], fl[3], fl[4], lo, hi);
    }
    Atomics.add(ctl, 1, 1);
    Atomics.notify(ctl, 1);
  }
  function share(lo, hi, i, t, align) {
    const per = Math.ceil((hi - lo) / t / align) * align;
    return [Math.min(hi, lo + i * per), Math.min(hi, lo + (i + 1) * per)];
  }
}`;
