/**
 * Two-proportion z-test: the two-sided p-value that arms with these successes and
 * trials convert at the same rate. Undefined when either arm is empty or no arm has
 * any variance to test (everyone or no one converted in both).
 */
export function twoProportionPValue(
  successesA: number,
  trialsA: number,
  successesB: number,
  trialsB: number,
): number | undefined {
  if (trialsA === 0 || trialsB === 0) return undefined;
  const pooled = (successesA + successesB) / (trialsA + trialsB);
  const variance = pooled * (1 - pooled) * (1 / trialsA + 1 / trialsB);
  if (variance === 0) return undefined;
  const z = (successesA / trialsA - successesB / trialsB) / Math.sqrt(variance);
  return 2 * (1 - standardNormalCdf(Math.abs(z)));
}

/** Φ(x), from the error function (Abramowitz and Stegun 7.1.26, error < 1.5e-7). */
export function standardNormalCdf(x: number): number {
  const t = 1 / (1 + (0.3275911 * Math.abs(x)) / Math.SQRT2);
  const poly =
    t *
    (0.254829592 +
      t *
        (-0.284496736 +
          t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-(x * x) / 2);
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}
