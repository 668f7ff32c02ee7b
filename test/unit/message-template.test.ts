import { Liquid } from "liquidjs";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  compileMessage,
  parseTemplate,
  type MessageSpec,
  type RenderScope,
  type VariantMessageSpec,
} from "../../src/rules/message-template.ts";

const SCOPE: RenderScope = {
  event: { event: "Product Updated", properties: { name: "Lamp", price: 25 } },
  profile: { userId: "u1", traits: { first_name: "Ada" }, locale: "en" },
  item: { product_id: "p1", size: "M" },
};

const MESSAGE: MessageSpec = {
  title: "title",
  body: "body",
  locales: {
    de: { title: "Titel" },
    "de-CH": { title: "Titel CH", body: "Inhalt CH" },
    fr: { body: "corps" },
  },
};

const VARIANTS: VariantMessageSpec[] = [
  { id: "a" },
  {
    id: "b",
    message: {
      title: "title b",
      deepLink: "app://b",
      locales: { de: { body: "Inhalt b" } },
    },
  },
];

describe("compileMessage: variables", () => {
  it("when templates name event, profile and item fields, then their values are filled in", () => {
    const rendered = compileMessage({
      title: "{{ event.properties.name }} for {{ event.properties.price }}",
      body: "Hi {{ profile.traits.first_name }}, size {{ item.size }}",
      deepLink: "shop://product/{{ item.product_id }}",
    }).render(undefined, [], SCOPE);
    expect(rendered).toEqual({
      title: "Lamp for 25",
      body: "Hi Ada, size M",
      deepLink: "shop://product/p1",
      data: {},
    });
  });

  it("when a variable is missing, then it renders as empty text, never as undefined", () => {
    const rendered = compileMessage({
      title: "[{{ event.properties.colour }}]",
      body: "{{ profile.traits.last_name }}{{ item.nothing.deeper }}{{ nowhere }}",
    }).render(undefined, [], { event: {}, profile: {} });
    expect(rendered.title).toBe("[]");
    expect(rendered.body).toBe("");
    expect(JSON.stringify(rendered)).not.toContain("undefined");
  });

  it("when a template uses `| default:`, then the default fills a missing value and not a present one", () => {
    const message = compileMessage({
      title: 'Hi {{ profile.traits.first_name | default: "there" }}',
      body: "b",
    });
    expect(message.render(undefined, [], SCOPE).title).toBe("Hi Ada");
    expect(
      message.render(undefined, [], { event: {}, profile: { traits: {} } })
        .title,
    ).toBe("Hi there");
  });

  it("when data values are templates, then each is rendered", () => {
    const rendered = compileMessage({
      title: "t",
      body: "b",
      data: {
        product: "{{ item.product_id }}",
        kind: "sale",
        missing: "{{ event.properties.colour }}",
      },
    }).render(undefined, [], SCOPE);
    expect(rendered.data).toEqual({ product: "p1", kind: "sale", missing: "" });
  });

  it("when optional fields render empty, then they are left out", () => {
    const rendered = compileMessage({
      title: "t",
      body: "b",
      deepLink: "{{ event.properties.link }}",
      image: "  {{ event.properties.image_url }}  ",
      sound: "",
    }).render(undefined, [], SCOPE);
    expect(rendered).toEqual({ title: "t", body: "b", data: {} });
    expect(Object.keys(rendered)).not.toContain("deepLink");
  });

  it("when optional fields render text, then they are included, trimmed", () => {
    const rendered = compileMessage({
      title: " t ",
      body: "b",
      image: " https://cdn/{{ item.product_id }}.png ",
      sound: "chime",
    }).render(undefined, [], SCOPE);
    expect(rendered).toEqual({
      title: "t",
      body: "b",
      image: "https://cdn/p1.png",
      sound: "chime",
      data: {},
    });
  });
});

describe("compileMessage: locales and variants", () => {
  const message = compileMessage(MESSAGE, VARIANTS);

  it("when the preferred locale has a text, then that text is used and the locale recorded", () => {
    expect(message.render(undefined, ["fr"], SCOPE)).toEqual({
      title: "title",
      body: "corps",
      data: {},
      locale: "fr",
    });
  });

  it("when only the language has a text, then de-AT falls back to de", () => {
    const rendered = message.render(undefined, ["de-AT"], SCOPE);
    expect(rendered.title).toBe("Titel");
    expect(rendered.locale).toBe("de");
  });

  it("when no locale matches, then the default text is used and no locale is recorded", () => {
    const rendered = message.render(undefined, ["it", null, undefined], SCOPE);
    expect(rendered).toEqual({ title: "title", body: "body", data: {} });
    expect("locale" in rendered).toBe(false);
  });

  it("when a variant overrides fields, then its users read them and others do not", () => {
    expect(message.render("b", [], SCOPE)).toEqual({
      title: "title b",
      body: "body",
      deepLink: "app://b",
      data: {},
    });
    expect(message.render("a", [], SCOPE)).toEqual({
      title: "title",
      body: "body",
      data: {},
    });
  });

  it("when variant and locale texts overlap, then variant locale > message locale > variant > message", () => {
    const layered = compileMessage(
      {
        title: "message",
        body: "message",
        deepLink: "message",
        image: "message",
        locales: { de: { title: "message de", body: "message de" } },
      },
      [
        {
          id: "v",
          message: {
            title: "variant",
            body: "variant",
            deepLink: "variant",
            locales: { de: { title: "variant de" } },
          },
        },
      ],
    );
    expect(layered.render("v", ["de"], SCOPE)).toEqual({
      title: "variant de",
      body: "message de",
      deepLink: "variant",
      image: "message",
      data: {},
      locale: "de",
    });
  });

  it("when a variant and the message both set data, then the keys are merged with the same precedence", () => {
    const rendered = compileMessage(
      {
        title: "t",
        body: "b",
        data: { a: "message", b: "message" },
        locales: { de: { data: { b: "message de", c: "message de" } } },
      },
      [{ id: "v", message: { data: { a: "variant", b: "variant" } } }],
    ).render("v", ["de"], SCOPE);
    expect(rendered.data).toEqual({
      a: "variant",
      b: "message de",
      c: "message de",
    });
  });

  it("when a user in one variant prefers a locale only another variant has, then their own variant's fallback is used", () => {
    // Variant b has "de-AT"; variant a has only the message's "de".
    const message = compileMessage(
      { title: "title", body: "body", locales: { de: { title: "Titel" } } },
      [
        { id: "a" },
        { id: "b", message: { locales: { "de-AT": { title: "Servus" } } } },
      ],
    );
    expect(message.render("b", ["de-AT"], SCOPE)).toMatchObject({
      title: "Servus",
      locale: "de-AT",
    });
    expect(message.render("a", ["de-AT"], SCOPE)).toMatchObject({
      title: "Titel",
      locale: "de",
    });
  });

  it("when locales are listed, then they include the message's and every variant's", () => {
    expect([...message.locales].sort()).toEqual(["de", "de-CH", "fr"]);
  });
});

describe("compileMessage: compiling once", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("when the same variant and locale are rendered a thousand times, then they are parsed once and render the same", () => {
    const parse = vi.spyOn(Liquid.prototype, "parse");
    const message = compileMessage(
      {
        title: "{{ event.properties.name }}",
        body: "{{ profile.traits.first_name }}",
        deepLink: "shop://{{ item.product_id }}",
        locales: { de: { title: "{{ event.properties.name }} reduziert" } },
      },
      VARIANTS,
    );
    const first = message.render("b", ["de-AT"], SCOPE);
    const parsedForOne = parse.mock.calls.length;
    expect(parsedForOne).toBeGreaterThan(0);
    for (let n = 0; n < 1000; n++)
      expect(message.render("b", ["de-AT"], SCOPE)).toEqual(first);
    expect(parse).toHaveBeenCalledTimes(parsedForOne);
    expect(first).toEqual({
      title: "Lamp reduziert",
      body: "Inhalt b",
      deepLink: "app://b",
      data: {},
      locale: "de",
    });

    // Another combination is parsed once more, then reused too.
    message.render("a", [], SCOPE);
    const parsedForTwo = parse.mock.calls.length;
    expect(parsedForTwo).toBeGreaterThan(parsedForOne);
    message.render("a", [], SCOPE);
    expect(parse).toHaveBeenCalledTimes(parsedForTwo);
  });

  it("when the scope changes between renders, then the cached templates render the new values", () => {
    const message = compileMessage({ title: "{{ item.size }}", body: "b" });
    expect(message.render(undefined, [], SCOPE).title).toBe("M");
    expect(
      message.render(undefined, [], { ...SCOPE, item: { size: "XL" } }).title,
    ).toBe("XL");
  });
});

describe("compileMessage: forEvent, many recipients of one event", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  // Filters make Liquid render these fields (plain-template.ts renders plain ones
  // without it), so that the spies below see each rendering.
  const SALE: MessageSpec = {
    title: "{{ event.properties.name | strip }} is on sale",
    body: "Hi {{ profile.traits.first_name | strip }}, size {{ item.size }}",
    deepLink: "shop://{{ event.properties.name | downcase }}",
    image: "https://img.example/static.png",
    locales: { de: { title: "{{ event.properties.name | strip }} reduziert" } },
  };
  const recipients = Array.from({ length: 50 }, (_, n) => ({
    variant: n % 2 === 0 ? "a" : "b",
    locales: [n % 3 === 0 ? "de-AT" : "en-US"],
    scope: {
      profile: { traits: { first_name: `User ${n}` } },
      item: { size: n % 4 === 0 ? "S" : "M" },
    },
  }));

  it("when many recipients are rendered, then each gets what render gives them", () => {
    const compiled = compileMessage(SALE, VARIANTS);
    const render = compiled.forEvent(SCOPE.event);
    for (const r of recipients) {
      expect(render(r.variant, r.locales, r.scope)).toEqual(
        compiled.render(r.variant, r.locales, {
          ...r.scope,
          event: SCOPE.event,
        }),
      );
    }
  });

  it("when a field reads only the event, then it is rendered once per variant and locale; one reading each recipient, per recipient", () => {
    const renderSync = vi.spyOn(Liquid.prototype, "renderSync");
    const render = compileMessage(SALE).forEvent(SCOPE.event);
    for (const r of recipients) render(undefined, r.locales, r.scope);
    // Two locales (de, the default), each with its title and deep link once (the
    // image, plain text, needs no Liquid); the body, which reads the profile and the
    // item, once per recipient.
    expect(renderSync).toHaveBeenCalledTimes(2 * 2 + recipients.length);
  });

  it("when recipients have the same values where a field reads, then it is rendered once for them", () => {
    const renderSync = vi.spyOn(Liquid.prototype, "renderSync");
    const render = compileMessage(SALE).forEvent(SCOPE.event);
    const names = ["Ana", "Bo", "Chloé"];
    for (let n = 0; n < 30; n++) {
      const scope = {
        profile: { traits: { first_name: names[n % 3] } },
        item: { size: "M" },
      };
      expect(render(undefined, ["en-US"], scope).body).toBe(
        `Hi ${names[n % 3] ?? ""}, size M`,
      );
    }
    // Title and deep link once; the body once per first name.
    expect(renderSync).toHaveBeenCalledTimes(2 + names.length);
  });

  it("when values differ only past where a path stops, or in a computed key, then each recipient still gets their own text", () => {
    const compiled = compileMessage({
      title:
        "{{ profile.traits.tags.size }} {{ profile.traits.tags.first }} {{ item[profile.traits.pick] }}",
      body: "{% for t in profile.traits.tags %}{{ t }};{% endfor %}{{ profile.traits.missing.deep | default: 'none' }}{{ nobody.here | default: '-' }}",
    });
    const render = compiled.forEvent(SCOPE.event);
    const scopes = [
      { tags: ["a", "b"], pick: "x" },
      { tags: ["a", "c"], pick: "x" },
      { tags: ["a", "b", "c"], pick: "y" },
      { tags: ["a", "b"], pick: "y" },
      { tags: "ab", pick: "x" },
      { tags: ["a", "b"], pick: "x", missing: { deep: "here" } },
      { tags: ["a", "b"], pick: "x" },
    ].map((traits) => ({ profile: { traits }, item: { x: "X", y: "Y" } }));
    for (const scope of scopes) {
      expect(render(undefined, [], scope)).toEqual(
        compiled.render(undefined, [], { ...scope, event: SCOPE.event }),
      );
    }
  });

  it("when another event is rendered, then its own fields are rendered anew", () => {
    const compiled = compileMessage(SALE, VARIANTS);
    const first = compiled.forEvent({ properties: { name: "Lamp" } });
    const second = compiled.forEvent({ properties: { name: "Desk" } });
    const scope = { profile: {} };
    expect(first("a", [], scope).title).toBe("Lamp is on sale");
    expect(second("a", [], scope).title).toBe("Desk is on sale");
    expect(first("a", [], scope).deepLink).toBe("shop://lamp");
  });

  it("when a template may load a partial, then it is rendered for every recipient", () => {
    const renderSync = vi.spyOn(Liquid.prototype, "renderSync");
    const render = compileMessage({
      title: '{% if false %}{% include "x" %}{% endif %}{{ event.name }}',
      body: "b",
    }).forEvent({ name: "Lamp" });
    for (let n = 0; n < 5; n++) {
      expect(render(undefined, [], { profile: {} }).title).toBe("Lamp");
    }
    // The title five times; the body, plain text, never.
    expect(renderSync).toHaveBeenCalledTimes(5);
  });
});

describe("parseTemplate", () => {
  it("when a template is valid, then it parses", () => {
    expect(parseTemplate("Hi {{ profile.traits.first_name }}")).not.toEqual([]);
  });

  it("when a template has bad syntax, then it throws", () => {
    expect(() => parseTemplate("{{ event.name ")).toThrow();
    expect(() => parseTemplate("{% if x %}unclosed")).toThrow();
  });

  it("when a template uses an unknown filter, then it throws", () => {
    expect(() => parseTemplate("{{ x | no_such_filter }}")).toThrow(
      /no_such_filter/,
    );
  });
});
