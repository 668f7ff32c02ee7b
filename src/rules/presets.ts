import type { Preset, Settings, SettingsSpec } from "./rules-file.schema.ts";

type PresetDefaults = Pick<Settings, "frequencyCap" | "quietHours">;

/**
 * The global cap and quiet hours usual for each kind of app. The numbers follow what
 * makes users of each kind mute an app: the README's "Presets" table gives the
 * reasoning. They are defaults only: a `quietHours` or `frequencyCap` written in the
 * settings (or `false`, for none) wins.
 */
export const PRESET_DEFAULTS: Readonly<Record<Preset, PresetDefaults>> = {
  // Time-sensitive, read all day from the morning commute: several a day, short nights.
  news: {
    frequencyCap: { max: 6, per: "1d" },
    quietHours: { start: "23:00", end: "06:00" },
  },
  // Replies and mentions people wait for, read late into the evening.
  social: {
    frequencyCap: { max: 10, per: "1d" },
    quietHours: { start: "23:00", end: "08:00" },
  },
  // Offers and order updates: a couple a day at most, never while people sleep.
  commerce: {
    frequencyCap: { max: 2, per: "1d" },
    quietHours: { start: "21:00", end: "09:00" },
  },
  // Opened when needed: a push only when it is necessary, one a day at most.
  utility: {
    frequencyCap: { max: 1, per: "1d" },
    quietHours: { start: "22:00", end: "07:00" },
  },
};

/**
 * The settings in force: the preset's cap and quiet hours where the settings name
 * none; `false` in the settings turns one off whatever the preset says.
 */
export function applyPreset(spec: SettingsSpec): Settings {
  const preset =
    spec.preset === undefined ? undefined : PRESET_DEFAULTS[spec.preset];
  return {
    ...spec,
    quietHours: explicitOr(spec.quietHours, preset?.quietHours),
    frequencyCap: explicitOr(spec.frequencyCap, preset?.frequencyCap),
  };
}

function explicitOr<T>(
  written: T | false | undefined,
  fallback: T | undefined,
): T | undefined {
  if (written === false) return undefined;
  return written ?? fallback;
}
