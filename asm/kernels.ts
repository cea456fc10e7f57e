// WebAssembly SIMD kernels (AssemblyScript) behind src/core/wasm/createWasmBackend.ts, one module per family; this
// entry only re-exports them (the wasm module's exports). All pointers are byte offsets into the shared memory;
// matrices are row-major float32. Formulas are those of src/core/refKernels.ts.
//
//   gemm.ts           blocked matrix multiply (GotoBLAS packing, 4×8 register tiles) and its per-thread scratch
//   elementwise.ts    bias and ReLU, their backward passes, column sums, Adam, column gather and scatter-add
//   logisticPrior.ts  the logistic prior and its gradient
//   scaleShift.ts     the affine and multiplicative coupling laws
//   gate.ts           the gate of the gated residual coupling networks
//   im2col.ts         im2col and col2im (convolutions of backends without direct kernels)
//   conv.ts           direct convolutions over zero-padded bands (src/core/wasm/createWasmConv.ts says when)
//   winograd.ts       Winograd F(2×2, 3×3) for 3×3 convolutions of 8 or more channels
//   simd.ts, math4.ts shared four-lane helpers (multiply-add, lane sums, partial loads; exp, log1p, tanh)
//   band.ts           zero-padded bands of image rows for conv.ts and winograd.ts
export * from './gemm';
export * from './elementwise';
export * from './logisticPrior';
export * from './scaleShift';
export * from './gate';
export * from './im2col';
export * from './conv';
export * from './winograd';
