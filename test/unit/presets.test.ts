import { describe, expect, it } from "vitest";
import { applyPreset, PRESET_DEFAULTS } from "../../src/rules/presets.ts";
import { compileRuleBook, RulesFileError } from "../../src/rules/rule-book.ts";
import { PRESETS, settingsSchema } from "../../src/rules/rules-file.schema.ts";

const settingsOf = (input: unknown) => applyPreset(settingsSchema.parse(input));

describe("settings.preset", () => {
  it("when a preset is chosen and nothing else, then its cap and quiet hours are in force", () => {
    for (const preset of PRESETS) {
      const settings = settingsOf({ preset });
      expect(settings.frequencyCap).toEqual(
        PRESET_DEFAULTS[preset].frequencyCap,
      );
      expect(settings.quietHours).toEqual(PRESET_DEFAULTS[preset].quietHours);
    }
  });

  it("when news and utility are compared, then news allows more pushes and a shorter night", () => {
    const news = settingsOf({ preset: "news" });
    const utility = settingsOf({ preset: "utility" });
    expect(news.frequencyCap?.max).toBeGreaterThan(
      utility.frequencyCap?.max ?? Infinity,
    );
    expect(news.quietHours).toEqual({ start: "23:00", end: "06:00" });
    expect(utility.frequencyCap).toEqual({ max: 1, per: "1d" });
  });

  it("when the settings also name a cap, then their cap wins and the preset's quiet hours stay", () => {
    const settings = settingsOf({
      preset: "commerce",
      frequencyCap: { max: 5, per: "1w" },
    });
    expect(settings.frequencyCap).toEqual({ max: 5, per: "1w" });
    expect(settings.quietHours).toEqual(PRESET_DEFAULTS.commerce.quietHours);
  });

  it("when the settings also name quiet hours, then theirs win and the preset's cap stays", () => {
    const settings = settingsOf({
      preset: "social",
      quietHours: { start: "20:00", end: "10:00" },
    });
    expect(settings.quietHours).toEqual({ start: "20:00", end: "10:00" });
    expect(settings.frequencyCap).toEqual(PRESET_DEFAULTS.social.frequencyCap);
  });

  it("when the settings turn quiet hours or the cap off with false, then there are none despite the preset", () => {
    const settings = settingsOf({
      preset: "news",
      quietHours: false,
      frequencyCap: false,
    });
    expect(settings.quietHours).toBeUndefined();
    expect(settings.frequencyCap).toBeUndefined();
  });

  it("when there is no preset, then only what the settings name is in force", () => {
    expect(settingsOf({})).toMatchObject({
      quietHours: undefined,
      frequencyCap: undefined,
    });
    expect(
      settingsOf({ frequencyCap: { max: 3, per: "1d" } }).frequencyCap,
    ).toEqual({ max: 3, per: "1d" });
  });

  it("when a rules file names a preset, then its rule book's settings are resolved", () => {
    const book = compileRuleBook(
      { settings: { preset: "utility" } },
      "rules.json",
    );
    expect(book.settings.frequencyCap).toEqual({ max: 1, per: "1d" });
    expect(book.settings.quietHours).toEqual({ start: "22:00", end: "07:00" });
  });

  it("when a rules file names an unknown preset, then it is refused naming the choices", () => {
    try {
      compileRuleBook({ settings: { preset: "games" } }, "rules.json");
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(RulesFileError);
      expect((error as RulesFileError).problems.join()).toMatch(
        /settings\.preset: .*"news".*"social".*"commerce".*"utility"/,
      );
    }
  });
});
