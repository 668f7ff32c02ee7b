import { describe, expect, it } from "vitest";
import { localeChooser } from "../../src/rules/locale.ts";

const chooseLocale = (
  available: readonly string[],
  preferred: readonly (string | null | undefined)[],
) => localeChooser(available)(preferred);

describe("localeChooser", () => {
  it("when the exact tag is available, then it is chosen over its language and other regions", () => {
    expect(chooseLocale(["de", "de-CH", "de-AT"], ["de-AT"])).toBe("de-AT");
  });

  it("when only the language is available, then de-AT falls back to de", () => {
    expect(chooseLocale(["fr", "de", "de-CH"], ["de-AT"])).toBe("de");
  });

  it("when only another region of the language is available, then de finds de-CH", () => {
    expect(chooseLocale(["fr", "de-CH"], ["de"])).toBe("de-CH");
    expect(chooseLocale(["fr", "de-CH"], ["de-AT"])).toBe("de-CH");
  });

  it("when tags differ in case, then they still match and the available spelling is returned", () => {
    expect(chooseLocale(["pt-BR"], ["PT-br"])).toBe("pt-BR");
    expect(chooseLocale(["DE"], ["de-at"])).toBe("DE");
  });

  it("when a tag uses an underscore, then it is read like a hyphen", () => {
    expect(chooseLocale(["de-AT", "de"], ["de_AT"])).toBe("de-AT");
    expect(chooseLocale(["de_AT"], ["de-AT"])).toBe("de_AT");
    expect(chooseLocale(["fr", "de"], ["de_CH"])).toBe("de");
  });

  it("when several locales are preferred, then the first one that matches wins, even by fallback", () => {
    expect(chooseLocale(["fr", "de"], ["it", "de", "fr"])).toBe("de");
    // A language fallback for the first preference beats an exact match for the second.
    expect(chooseLocale(["fr", "de"], ["de-AT", "fr"])).toBe("de");
    expect(chooseLocale(["fr", "de"], ["fr", "de"])).toBe("fr");
  });

  it("when preferred entries are null, undefined or empty, then they are skipped", () => {
    expect(chooseLocale(["de", "fr"], [null, undefined, "", "  ", "fr"])).toBe(
      "fr",
    );
  });

  it("when nothing matches, then the answer is undefined (the default message)", () => {
    expect(chooseLocale(["de", "fr"], ["it", "es-MX"])).toBeUndefined();
    expect(chooseLocale([], ["de"])).toBeUndefined();
    expect(chooseLocale(["de"], [])).toBeUndefined();
    expect(chooseLocale(["de"], [null, undefined])).toBeUndefined();
  });

  it("when a language is a prefix of another language, then it is not mistaken for a region", () => {
    // "de" must not match "del-XX": only "de-…" is a region of German.
    expect(chooseLocale(["del-XX"], ["de"])).toBeUndefined();
  });
});
