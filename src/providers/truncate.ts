import type { Platform } from "../vocabulary.ts";
import { payloadSizeOf } from "./payload-size.ts";
import type { PushMessage } from "./provider.ts";

const ELLIPSIS = "…";
const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * The push with its body shortened, with an ellipsis, as little as makes its payload
 * fit the platform's limit; the push itself when it fits already, or when even an
 * empty body would not fit (then it is suppressed as too large, with its real size).
 * Cuts between grapheme clusters only, so no emoji, flag or accented letter is split.
 */
export function fitBody(push: PushMessage, platform: Platform): PushMessage {
  const fits = (candidate: PushMessage) => {
    const { bytes, limit } = payloadSizeOf(platform, candidate);
    return bytes <= limit;
  };
  if (push.silent === true || fits(push)) return push;
  const clusters = Array.from(graphemes.segment(push.body), (s) => s.segment);
  const shortened = (kept: number) => ({
    ...push,
    body: `${clusters.slice(0, kept).join("").trimEnd()}${ELLIPSIS}`,
  });
  if (!fits(shortened(0))) return push;
  // The payload grows with each cluster kept: the most that fit, found by halving.
  let [low, high] = [0, clusters.length - 1];
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (fits(shortened(middle))) low = middle;
    else high = middle - 1;
  }
  return shortened(low);
}
