/** Options of {@link sampleToy}. */
export interface ToySampleOptions {
  /**
   * Noise standard deviation for `moons`, `spiral` and `pinwheel` (a finite number ≥ 0; default the set's
   * `defaultNoise`). The sets with a known density have a fixed definition: giving them a noise is an error.
   */
  noise?: number;
}
