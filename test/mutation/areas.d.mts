export interface MutationArea {
  /** AIROUTE_MUTATION_AREA value, report and incremental file name. */
  name: string;
  what: string;
  /** Stryker `mutate` globs. */
  mutate: string[];
  /** The test files run against this area's mutants. */
  tests: string[];
}
export declare const MUTATION_AREAS: readonly MutationArea[];
