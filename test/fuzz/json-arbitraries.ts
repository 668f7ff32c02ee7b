import fc from "fast-check";

/*
 * JSON of any shape, leaning to what has broken intakes before: NUL, lone surrogates,
 * texts longer than an index row, `__proto__` keys, nesting deeper than parsers go.
 */

/** `length` characters that do not compress, deterministic from `seed`. */
export function scrambled(length: number, seed: number, wide: boolean): string {
  let state = seed | 1;
  const codes = new Array<number>(length);
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const r = state >>> 0;
    codes[i] = wide ? 0x4e00 + (r % 0x5000) : 0x21 + (r % 0x5e);
  }
  return String.fromCharCode(...codes);
}

const oddCharacter = fc.oneof(
  fc.constantFrom("\0", "\uFFFD", "😀", "€", "\u2028", "\\", '"', "%00", " "),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
);

const character = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.string({
      unit: "grapheme-ascii",
      minLength: 1,
      maxLength: 1,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
  },
  { weight: 2, arbitrary: oddCharacter },
);

/** Texts longer than an index row, ASCII or 3 bytes a character. */
const longText = fc
  .record({
    length: fc.integer({ min: 1_000, max: 12_000 }),
    seed: fc.integer(),
    wide: fc.boolean(),
  })
  .map(({ length, seed, wide }) => scrambled(length, seed, wide));

export const text = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.array(character, { maxLength: 12 }).map((cs) => cs.join("")),
  },
  { weight: 1, arbitrary: longText },
);

export const key = fc.oneof(
  { weight: 3, arbitrary: text },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "__proto__",
      "constructor",
      "prototype",
      "toString",
      "hasOwnProperty",
      "",
      "a.b",
      "type",
      "userId",
      "messageId",
      "token",
      "product_id",
      "nudge_id",
    ),
  },
);

/** Objects and arrays nested deeper than Nudge stores. */
const deep = fc
  .record({ depth: fc.integer({ min: 60, max: 400 }), array: fc.boolean() })
  .map(({ depth, array }) => {
    let value: unknown = 1;
    for (let i = 0; i < depth; i++) value = array ? [value] : { a: value };
    return value;
  });

const leaf = fc.oneof(
  { weight: 4, arbitrary: text },
  { weight: 2, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double() },
  {
    weight: 1,
    arbitrary: fc.constantFrom(true, false, null, 1e308, -0, 2 ** 53 + 1),
  },
  { weight: 1, arbitrary: deep },
);

/** Any JSON value, with `__proto__` and friends as keys of its objects. */
export const json: fc.Arbitrary<unknown> = fc.letrec<{
  value: unknown;
  array: unknown[];
  object: Record<string, unknown>;
}>((tie) => ({
  value: fc.oneof({ depthSize: "small" }, leaf, tie("array"), tie("object")),
  array: fc.array(tie("value"), { maxLength: 4 }),
  // fromEntries defines `__proto__` as a key, where assigning it would not.
  object: fc
    .array(fc.tuple(key, tie("value")), { maxLength: 4 })
    .map((entries) => Object.fromEntries(entries)),
})).value;

/** Mostly what a field usually holds, sometimes anything. */
export function usually(
  ...plausible: fc.Arbitrary<unknown>[]
): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.oneof(...plausible) },
    { weight: 1, arbitrary: json },
  );
}
