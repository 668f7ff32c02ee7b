import { Liquid, type Template } from "liquidjs";
import { chooseLocale } from "./locale.ts";

/** The fields a message may have; every string is a Liquid template. */
export type MessageFields = {
  title?: string | undefined;
  body?: string | undefined;
  deepLink?: string | undefined;
  image?: string | undefined;
  sound?: string | undefined;
  data?: Record<string, string> | undefined;
};

export type MessageSpec = MessageFields & {
  title: string;
  body: string;
  locales?: Record<string, MessageFields> | undefined;
};

export type VariantMessageSpec = {
  id: string;
  message?:
    | (MessageFields & { locales?: Record<string, MessageFields> | undefined })
    | undefined;
};

export type RenderedMessage = {
  title: string;
  body: string;
  deepLink?: string;
  image?: string;
  sound?: string;
  data: Record<string, string>;
  /** The locale variant used; undefined for the default message. */
  locale?: string;
};

export type RenderScope = {
  event: unknown;
  profile: unknown;
  item?: unknown;
};

type CompiledFields = {
  [K in keyof Required<Omit<MessageFields, "data">>]?: Template[];
} & { data: Record<string, Template[]> };

/**
 * A rule's message, compiled once per rule version: every (variant, locale) combination
 * is merged and parsed the first time it is needed and reused after that.
 *
 * Precedence, strongest first: the variant's locale text, the message's locale text,
 * the variant's text, the message's text. A German user in variant "b" reads German.
 */
export type CompiledMessage = {
  locales: readonly string[];
  render(
    variant: string | undefined,
    preferredLocales: readonly (string | null | undefined)[],
    scope: RenderScope,
  ): RenderedMessage;
};

const engine = new Liquid({ ownPropertyOnly: true, strictFilters: true });

/** Parses one template, throwing a readable error for a syntax mistake. */
export function parseTemplate(source: string): Template[] {
  return engine.parse(source);
}

export function compileMessage(
  message: MessageSpec,
  variants: readonly VariantMessageSpec[] = [],
): CompiledMessage {
  const locales = [
    ...new Set([
      ...Object.keys(message.locales ?? {}),
      ...variants.flatMap((v) => Object.keys(v.message?.locales ?? {})),
    ]),
  ];
  const cache = new Map<string, CompiledFields>();
  const compiled = (
    variantId: string | undefined,
    locale: string | undefined,
  ) => {
    const key = `${variantId ?? ""}\u0000${locale ?? ""}`;
    let fields = cache.get(key);
    if (fields === undefined) {
      const variant = variants.find((v) => v.id === variantId)?.message;
      fields = compileFields(
        mergeFields(
          message,
          variant,
          locale === undefined ? undefined : message.locales?.[locale],
          locale === undefined ? undefined : variant?.locales?.[locale],
        ),
      );
      cache.set(key, fields);
    }
    return fields;
  };
  // A variant's users choose among the message's locales and their own variant's only:
  // a locale that only another variant has would hide their fallback ("de-AT" → "de").
  const localesOf = (variantId: string | undefined) => [
    ...Object.keys(message.locales ?? {}),
    ...Object.keys(
      variants.find((v) => v.id === variantId)?.message?.locales ?? {},
    ),
  ];
  return {
    locales,
    render(variantId, preferredLocales, scope) {
      const locale = chooseLocale(localesOf(variantId), preferredLocales);
      return renderFields(compiled(variantId, locale), scope, locale);
    },
  };
}

const TEXT_FIELDS = ["title", "body", "deepLink", "image", "sound"] as const;

function mergeFields(...layers: (MessageFields | undefined)[]): MessageFields {
  const merged: MessageFields = {};
  for (const layer of layers) {
    if (layer === undefined) continue;
    for (const name of TEXT_FIELDS) {
      const value = layer[name];
      if (value !== undefined) merged[name] = value;
    }
    if (layer.data !== undefined)
      merged.data = { ...merged.data, ...layer.data };
  }
  return merged;
}

function compileFields(fields: MessageFields): CompiledFields {
  const compiled: CompiledFields = { data: {} };
  for (const name of TEXT_FIELDS) {
    const source = fields[name];
    if (source !== undefined) compiled[name] = parseTemplate(source);
  }
  for (const [key, source] of Object.entries(fields.data ?? {}))
    compiled.data[key] = parseTemplate(source);
  return compiled;
}

function renderFields(
  fields: CompiledFields,
  scope: RenderScope,
  locale: string | undefined,
): RenderedMessage {
  // A missing variable renders as empty text (or the template's `default:`), never "undefined".
  const render = (template: Template[] | undefined) =>
    template === undefined
      ? ""
      : String(engine.renderSync(template, scope)).trim();
  const optional = (template: Template[] | undefined) => {
    const text = render(template);
    return text === "" ? undefined : text;
  };
  const data: Record<string, string> = {};
  for (const [key, template] of Object.entries(fields.data))
    data[key] = render(template);
  const rendered: RenderedMessage = {
    title: render(fields.title),
    body: render(fields.body),
    data,
  };
  const deepLink = optional(fields.deepLink);
  const image = optional(fields.image);
  const sound = optional(fields.sound);
  if (deepLink !== undefined) rendered.deepLink = deepLink;
  if (image !== undefined) rendered.image = image;
  if (sound !== undefined) rendered.sound = sound;
  if (locale !== undefined) rendered.locale = locale;
  return rendered;
}
