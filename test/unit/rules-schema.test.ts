import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { rulesJsonSchema } from "../../src/rules/rules-file.schema.ts";

const committedSchema = JSON.parse(readFileSync("rules.schema.json", "utf8"));

function example(): any {
  return JSON.parse(readFileSync("examples/rules.json", "utf8"));
}

function validator() {
  // strict mode also fails on keywords the schema misspells or Ajv does not know.
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  return ajv.compile(committedSchema);
}

describe("rules.schema.json", () => {
  it("when the committed schema is compared with the zod schema, then they are the same", () => {
    expect(
      committedSchema,
      "rules.schema.json is stale: run `npm run rules:schema` and commit the result",
    ).toEqual(rulesJsonSchema());
  });

  it("when examples/rules.json is validated against the committed schema, then it is valid", () => {
    const validate = validator();
    const valid = validate(example());
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it("when a rules file has an unknown key and a bad clock time, then the schema rejects both", () => {
    const document = example();
    document.rules[0].colour = "red";
    document.settings.quietHours.start = "25:00";
    const validate = validator();
    expect(validate(document)).toBe(false);
    expect(
      (validate.errors ?? []).map((error) => [
        error.instancePath,
        error.keyword,
      ]),
    ).toEqual(
      expect.arrayContaining([
        ["/rules/0", "additionalProperties"],
        ["/settings/quietHours/start", "pattern"],
      ]),
    );
  });

  it("when a rule leaves out its message, then the schema requires it", () => {
    const document = example();
    delete document.rules[1].message;
    const validate = validator();
    expect(validate(document)).toBe(false);
    expect(validate.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          instancePath: "/rules/1",
          keyword: "required",
          params: { missingProperty: "message" },
        }),
      ]),
    );
  });

  it("when delivery windows are set in settings and rules, or a rule opts out with false, then the schema accepts them and checks their clock times", () => {
    const document = example();
    document.settings.deliveryWindow = { start: "10:00", end: "20:00" };
    document.rules[0].delivery.window = {
      start: "18:00",
      end: "22:00",
      spread: true,
    };
    document.rules[1].delivery.window = false;
    const validate = validator();
    expect(validate(document), JSON.stringify(validate.errors)).toBe(true);

    document.rules[0].delivery.window = { start: "18:00", end: "24:00" };
    document.rules[1].delivery.window = true;
    expect(validate(document)).toBe(false);
    const paths = (validate.errors ?? []).map((error) => error.instancePath);
    expect(paths).toContain("/rules/0/delivery/window/end");
    expect(paths).toContain("/rules/1/delivery/window");
  });
});
