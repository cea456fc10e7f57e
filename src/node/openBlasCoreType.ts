// Which kernels OpenBLAS should run on this CPU. OpenBLAS built with DYNAMIC_ARCH (Debian's is) picks its kernels
// from the CPU's family and model number, and a CPU newer than the library falls back to its oldest x86-64 kernels:
// Debian bookworm's OpenBLAS 0.3.21 takes an Intel Xeon of model 207 (Emerald Rapids) for a "Prescott" (SSE3), and
// multiplies at 61 GFLOP/s where its AVX-512 kernels ("SkylakeX") reach 248 (200×1000×1000, 2 cores, measured
// 2026-11-27). The library reads OPENBLAS_CORETYPE when it loads, so the choice is made here, from the CPU's
// feature flags, before it is loaded; a value the user set is left alone.
import { readFileSync } from 'node:fs';

/** The OPENBLAS_CORETYPE to ask for on a CPU described by `cpuinfo` (the text of /proc/cpuinfo), or null to let
 * OpenBLAS choose. Only Intel CPUs are steered: an Intel CPU with AVX-512 (F, BW, DQ and VL, what OpenBLAS's
 * SkylakeX kernels use) gets "SkylakeX", the kernels OpenBLAS itself runs on every such CPU it knows (its
 * Cooper Lake and Sapphire Rapids settings only add bfloat16 routines); one with AVX2 and FMA but no AVX-512 gets
 * "Haswell". Other vendors are left to OpenBLAS: AMD's newer CPUs map to kernels tuned for them. */
export function openBlasCoreTypeFor(cpuinfo: string): string | null {
  const vendor = /^vendor_id\s*:\s*(\S+)/m.exec(cpuinfo)?.[1];
  const flagsLine = /^flags\s*:(.*)$/m.exec(cpuinfo)?.[1];
  if (vendor !== 'GenuineIntel' || flagsLine === undefined) return null;
  const flags = new Set(flagsLine.trim().split(/\s+/));
  if (['avx512f', 'avx512bw', 'avx512dq', 'avx512vl'].every((f) => flags.has(f))) return 'SkylakeX';
  if (flags.has('avx2') && flags.has('fma')) return 'Haswell';
  return null;
}

/**
 * Sets OPENBLAS_CORETYPE in this process's environment from `cpuinfo` (see {@link openBlasCoreTypeFor}) unless it
 * is set already; call it before OpenBLAS is loaded. Returns the value in force afterwards (undefined when none).
 */
export function steerOpenBlasCoreType(env: Record<string, string | undefined>, cpuinfo: string): string | undefined {
  if (env.OPENBLAS_CORETYPE) return env.OPENBLAS_CORETYPE;
  const chosen = openBlasCoreTypeFor(cpuinfo);
  if (chosen !== null) env.OPENBLAS_CORETYPE = chosen;
  return env.OPENBLAS_CORETYPE;
}

/** The text of /proc/cpuinfo, or '' where there is none (not Linux): then OpenBLAS chooses alone. */
export function readCpuinfo(): string {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
}
