import fc from "fast-check";
import { Liquid } from "liquidjs";
import { describe, expect, it } from "vitest";
import { plainRenderer } from "../../src/rules/plain-template.ts";

// The engine as message-template.ts configures it.
const engine = new Liquid({ ownPropertyOnly: true, strictFilters: true });
const liquid = (source: string, scope: object) =>
  String(engine.renderSync(engine.parse(source), scope));

const NAMES = [
  "event",
  "profile",
  "item",
  "properties",
  "traits",
  "first_name",
  "price",
  "length",
  "constructor",
  "toString",
  "__proto__",
];

const text = fc.oneof(
  fc.constantFrom("", " ", "Hi ", ", now ", "ü€😀", "}", "{", "%", "a}b", "\n"),
  fc.string({ maxLength: 8 }).filter((s) => !/[{}]/.test(s)),
);
const output = fc
  .record({
    path: fc.array(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 4 }),
    space: fc.constantFrom("", " ", "  ", "\n"),
    fallback: fc.option(
      fc.oneof(
        fc.constantFrom("there", "", "zusammen"),
        fc.string({ maxLength: 6 }).filter((s) => !/["\\{}%]/.test(s)),
      ),
    ),
    quote: fc.constantFrom('"', "'"),
  })
  .map(({ path, space, fallback, quote }) => {
    const filter =
      fallback === null
        ? ""
        : ` | default:${space}${quote}${fallback.replaceAll(quote, "")}${quote}`;
    return `{{${space}${path.join(".")}${filter}${space}}}`;
  });
const template = fc
  .array(fc.tuple(text, output), { maxLength: 4 })
  .chain((pairs) =>
    text.map((last) => pairs.flatMap(([t, o]) => [t, o]).join("") + last),
  );

const leaf = fc.oneof(
  fc.constantFrom("", " ", "Ana", "ü", "0", "false", 0, -0, 1.5, 1e21, -3),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 5 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constant([]),
  fc.constant(["a", 1]),
);
const tree: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.dictionary(fc.constantFrom(...NAMES), tie("node"), { maxKeys: 4 }),
  ),
})).node;
const scope = fc.dictionary(fc.constantFrom(...NAMES), tree, { maxKeys: 4 });

describe("plain templates", () => {
  it("when a plain template is rendered for any values, then it reads exactly as Liquid renders it", () => {
    let compared = 0;
    fc.assert(
      fc.property(template, scope, (source, values) => {
        // A brace beside an output ("{{{ a }}") makes a template that is not plain.
        const shown = plainRenderer(source)?.(values);
        if (shown === undefined) return;
        compared++;
        expect(shown).toBe(liquid(source, values));
      }),
      { seed: 20261205, numRuns: 3_000 },
    );
    // Lists and objects are left to Liquid; most values are printed here.
    expect(compared).toBeGreaterThan(1_500);
  });

  it("when a greeting is rendered, then the first name or the default is printed", () => {
    const render = plainRenderer(
      'Hi {{ profile.traits.first_name | default: "there" }}, now {{ event.price }}',
    );
    expect(
      render?.({
        profile: { traits: { first_name: "Ana" } },
        event: { price: 9.5 },
      }),
    ).toBe("Hi Ana, now 9.5");
    expect(render?.({ profile: { traits: { first_name: "" } } })).toBe(
      "Hi there, now ",
    );
  });

  it("when a template uses more than variables and default, then Liquid renders it", () => {
    for (const source of [
      "{% if a %}x{% endif %}",
      "{{ true }}",
      "{{ nil | default: 'x' }}",
      "{{- a }}",
      "{{ a -}}",
      "{{ a.size }}",
      "{{ a.first }}",
      "{{ a[0] }}",
      '{{ a["b"] }}',
      "{{ a | upcase }}",
      '{{ a | default: "x\\"y" }}',
      "{{ a | default: b }}",
      "{{ a | default: 'x', allow_false: true }}",
      "{{ 'text' }}",
      "{{ 5 }}",
      "{{ a",
    ])
      expect(plainRenderer(source), source).toBeUndefined();
  });

  it("when a value is a list or an object, then the plain renderer leaves it to Liquid", () => {
    const render = plainRenderer("{{ a }}");
    expect(render?.({ a: ["x"] })).toBeUndefined();
    expect(render?.({ a: { b: 1 } })).toBeUndefined();
    expect(render?.({ a: "x" })).toBe("x");
  });
});
