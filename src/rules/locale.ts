/**
 * A chooser of the best of `available` locales for a user, prepared once for many
 * users: exact tag, then its language ("de-AT" → "de"), then any regional variant of
 * that language ("de" → "de-CH"), for each preferred locale in turn. Undefined means
 * the default message. Matching ignores case and treats "_" like "-" (SDKs send both
 * "de_AT" and "de-AT").
 */
export function localeChooser(
  available: readonly string[],
): (preferred: readonly (string | null | undefined)[]) => string | undefined {
  const entries = available.map((tag) => [normalize(tag), tag] as const);
  const byTag = new Map(entries);
  return (preferred) => {
    if (byTag.size === 0) return undefined;
    for (const wanted of preferred) {
      if (wanted === undefined || wanted === null || wanted.trim() === "")
        continue;
      const tag = normalize(wanted);
      const language = tag.split("-")[0] ?? tag;
      const match =
        byTag.get(tag) ??
        byTag.get(language) ??
        entries.find(([key]) => key.startsWith(`${language}-`))?.[1];
      if (match !== undefined) return match;
    }
    return undefined;
  };
}

function normalize(tag: string): string {
  return tag.trim().replace(/_/g, "-").toLowerCase();
}
