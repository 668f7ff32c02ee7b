import { describe, expect, it } from "vitest";
import {
  isValidSignature,
  segmentSignature,
  signedPayload,
} from "../../src/ingest/signature.ts";

// Test vectors from Segment's own destination code (see FACTS.md, Segment).
const SECRET = "abc123";
const OBJECT_BODY = '{"cool":true}';
const OBJECT_SIGNATURE = "5099cab379b3be52908387457007040cc934ef86";
const ARRAY_BODY = '[{"cool":false},{"cool":true}]';
const ARRAY_SIGNATURE = "c702b94a2569dd8d2f7185ce0ae951021bef4706";

function payloadOf(body: string): Buffer | string {
  const raw = Buffer.from(body);
  const payload = signedPayload(raw, JSON.parse(body));
  if (payload === undefined) throw new Error(`cannot sign ${body}`);
  return payload;
}

describe("signedPayload", () => {
  it("when the body is one event, then the raw body itself is signed", () => {
    const raw = Buffer.from(' { "cool" : true } ');
    expect(signedPayload(raw, JSON.parse(raw.toString()))).toBe(raw);
  });

  it("when the body is an array, then JSON.stringify of its first element is signed", () => {
    const raw = Buffer.from(' [ { "cool" : false } , { "cool" : true } ] ');
    expect(signedPayload(raw, JSON.parse(raw.toString()))).toBe(
      '{"cool":false}',
    );
  });

  it("when the body is an empty array, then the empty string is signed", () => {
    expect(signedPayload(Buffer.from("[]"), [])).toBe("");
  });
});

describe("segmentSignature", () => {
  it("when Segment's object vector is signed, then the known signature comes out", () => {
    expect(segmentSignature(SECRET, payloadOf(OBJECT_BODY))).toBe(
      OBJECT_SIGNATURE,
    );
  });

  it("when Segment's array vector is signed, then the known signature comes out", () => {
    expect(segmentSignature(SECRET, payloadOf(ARRAY_BODY))).toBe(
      ARRAY_SIGNATURE,
    );
  });

  it("when the secret differs, then the signature differs", () => {
    expect(segmentSignature("abc124", payloadOf(OBJECT_BODY))).not.toBe(
      OBJECT_SIGNATURE,
    );
  });
});

describe("isValidSignature", () => {
  it("when the object vector's signature is given, then it is accepted", () => {
    expect(
      isValidSignature(SECRET, payloadOf(OBJECT_BODY), OBJECT_SIGNATURE),
    ).toBe(true);
  });

  it("when the array vector's signature is given, then it is accepted", () => {
    expect(
      isValidSignature(SECRET, payloadOf(ARRAY_BODY), ARRAY_SIGNATURE),
    ).toBe(true);
  });

  it("when the signature is uppercase hex, then it is accepted", () => {
    expect(
      isValidSignature(
        SECRET,
        payloadOf(OBJECT_BODY),
        OBJECT_SIGNATURE.toUpperCase(),
      ),
    ).toBe(true);
  });

  it("when the signature is surrounded by whitespace, then it is accepted", () => {
    expect(
      isValidSignature(
        SECRET,
        payloadOf(OBJECT_BODY),
        ` ${OBJECT_SIGNATURE}\n`,
      ),
    ).toBe(true);
  });

  it("when the signature belongs to another body, then it is rejected", () => {
    expect(
      isValidSignature(SECRET, payloadOf(OBJECT_BODY), ARRAY_SIGNATURE),
    ).toBe(false);
  });

  it("when the array is signed over the whole body instead of its first element, then it is rejected", () => {
    const wholeBody = segmentSignature(SECRET, ARRAY_BODY);
    expect(isValidSignature(SECRET, payloadOf(ARRAY_BODY), wholeBody)).toBe(
      false,
    );
  });

  it.each([
    ["empty", ""],
    ["too short", OBJECT_SIGNATURE.slice(0, 38)],
    ["too long by a byte", `${OBJECT_SIGNATURE}00`],
    ["an odd trailing digit", `${OBJECT_SIGNATURE}0`],
    ["trailing non-hex characters", `${OBJECT_SIGNATURE}zz`],
    ["a non-hex character inside", `${OBJECT_SIGNATURE.slice(0, 39)}g`],
    ["a scheme prefix", `sha1=${OBJECT_SIGNATURE}`],
  ])("when the signature has %s, then it is rejected", (_, signature) => {
    expect(isValidSignature(SECRET, payloadOf(OBJECT_BODY), signature)).toBe(
      false,
    );
  });
});
