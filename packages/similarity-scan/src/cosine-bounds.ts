export interface CosineBounds {
  /** -1/(C-1): no C unit vectors have a smaller largest cosine; the regular simplex reaches it when D >= C - 1. */
  readonly simplex: number;
  /**
   * Welch bound on the largest |cosine|: sqrt((C - D) / (D (C - 1))) for C > D, and 0 for C <= D (orthogonal
   * rows reach it).
   */
  readonly welch: number;
}

/** What no set of C unit vectors in D dimensions can beat. */
export function cosineBounds(classes: number, dims: number): CosineBounds {
  return {
    simplex: -1 / (classes - 1),
    welch: classes > dims ? Math.sqrt((classes - dims) / (dims * (classes - 1))) : 0,
  };
}
