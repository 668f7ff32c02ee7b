/**
 * What a soak's intervals add up to. The baseline is the run's own beginning: the
 * first interval and the first minute, against which the last ones are held.
 */
import { INTERVAL_SECONDS, type Interval } from "./soak-sampler.ts";

const MiB = 2 ** 20;
const BASELINE_SECONDS = 60;

export type SoakFigures = {
  eventsPerSecond: {
    first: number;
    last: number;
    min: number;
    /** Over the first minute: the baseline. */
    firstMinute: number;
    lastMinute: number;
  };
  /** The worst interval p99 of the first and of the last minute. */
  p99: { firstMinute: number; lastMinute: number };
  errors: number;
  rssMiB: {
    first: number;
    /** At the end of the first minute: the baseline. */
    firstMinute: number;
    last: number;
    max: number;
    /** Least-squares slope over the second half of the run, MiB per minute. */
    slopePerMinute: number;
  };
  pushes: number;
};

const rate = (intervals: readonly Interval[]) => {
  const seconds = intervals.reduce((sum, i) => sum + i.seconds, 0);
  const accepted = intervals.reduce((sum, i) => sum + i.accepted, 0);
  return seconds > 0 ? accepted / seconds : Number.NaN;
};

const perSecond = (interval: Interval | undefined) =>
  interval === undefined ? Number.NaN : interval.accepted / interval.seconds;

/** NaN when no interval had an answer. */
const worstP99 = (intervals: readonly Interval[]) => {
  const p99s = intervals
    .map((i) => i.latency.p99)
    .filter((p99) => !Number.isNaN(p99));
  return p99s.length === 0 ? Number.NaN : Math.max(...p99s);
};

/** Slope of y over x by least squares; NaN for fewer than two points. */
export function leastSquaresSlope(points: readonly [number, number][]): number {
  if (points.length < 2) return Number.NaN;
  const n = points.length;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / n;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const [x, y] of points) {
    covariance += (x - meanX) * (y - meanY);
    variance += (x - meanX) ** 2;
  }
  return variance > 0 ? covariance / variance : Number.NaN;
}

function rssFigures(intervals: readonly Interval[]): SoakFigures["rssMiB"] {
  const samples = intervals
    .filter((i) => i.rssBytes !== undefined)
    .map((i) => ({ at: i.at, mib: (i.rssBytes ?? 0) / MiB }));
  const end = samples.at(-1)?.at ?? 0;
  const secondHalf = samples
    .filter((s) => s.at >= end / 2)
    .map((s): [number, number] => [s.at / 60, s.mib]);
  const baseline =
    samples.filter((s) => s.at <= BASELINE_SECONDS + 1).at(-1) ?? samples[0];
  return {
    first: samples[0]?.mib ?? Number.NaN,
    firstMinute: baseline?.mib ?? Number.NaN,
    last: samples.at(-1)?.mib ?? Number.NaN,
    max: Math.max(...samples.map((s) => s.mib)),
    slopePerMinute: leastSquaresSlope(secondHalf),
  };
}

export function soakFigures(intervals: readonly Interval[]): SoakFigures {
  const end = intervals.at(-1)?.at ?? 0;
  // An interval belongs to a minute by its end; a short run's minutes overlap.
  const firstMinute = intervals.filter((i) => i.at <= BASELINE_SECONDS + 1);
  const lastMinute = intervals.filter((i) => i.at > end - BASELINE_SECONDS);
  // The last interval may be cut short by the end of the load: kept out of the minimum.
  const full = intervals.filter((i) => i.seconds >= 0.9 * INTERVAL_SECONDS);
  return {
    eventsPerSecond: {
      first: perSecond(intervals[0]),
      last: perSecond(intervals.at(-1)),
      min: Math.min(...full.map(perSecond)),
      firstMinute: rate(firstMinute),
      lastMinute: rate(lastMinute),
    },
    p99: {
      firstMinute: worstP99(firstMinute),
      lastMinute: worstP99(lastMinute),
    },
    errors: intervals.reduce((sum, i) => sum + i.errors, 0),
    rssMiB: rssFigures(intervals),
    pushes: intervals.reduce((sum, i) => sum + (i.pushes ?? 0), 0),
  };
}
