import { localeChooser } from "./locale.ts";
import { mergeFields, type MessageFields } from "./message-fields.ts";
import {
  compileFields,
  renderFields,
  type CompiledFields,
  type RenderedMessage,
  type RenderedTexts,
  type RenderScope,
} from "./compiled-fields.ts";

export { mergeFields, type MessageFields } from "./message-fields.ts";
export {
  parseTemplate,
  type RenderedMessage,
  type RenderScope,
} from "./compiled-fields.ts";

export type MessageSpec = MessageFields & {
  title: string;
  body: string;
  silent?: boolean | undefined;
  locales?: Record<string, MessageFields> | undefined;
};

export type VariantMessageSpec = {
  id: string;
  message?:
    | (MessageFields & { locales?: Record<string, MessageFields> | undefined })
    | undefined;
};

/** Renders one recipient's message: what a MessageRenderer needs besides the event. */
export type MessageRenderer = (
  variant: string | undefined,
  preferredLocales: readonly (string | null | undefined)[],
  recipient: Omit<RenderScope, "event">,
) => RenderedMessage;

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
  /**
   * A renderer for the many recipients of one event. A field renders the same for
   * every recipient who has the same values where its template reads (a product's
   * name and deep link read only the event; a greeting reads a first name), so each
   * text is rendered once and reused.
   */
  forEvent(event: unknown): MessageRenderer;
};

/**
 * Compiles a rule's message lazily: a rule with many variants and locales parses only
 * the combinations its recipients need.
 */
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
  const compiled = createFieldsCache(message, variants);
  const chooseLocale = createLocaleChoice(message, variants);
  const renderWith =
    (rendered: RenderedTexts | undefined) =>
    (
      variantId: string | undefined,
      preferredLocales: readonly (string | null | undefined)[],
      scope: RenderScope,
    ) => {
      const locale = chooseLocale(variantId, preferredLocales);
      const fields = renderFields(
        compiled(variantId, locale),
        scope,
        locale,
        rendered,
      );
      if (message.silent === true) fields.silent = true;
      return fields;
    };
  return {
    locales,
    render: renderWith(undefined),
    forEvent(event) {
      const render = renderWith(new Map());
      return (variantId, preferredLocales, recipient) =>
        render(variantId, preferredLocales, { ...recipient, event });
    },
  };
}

/** Merges and parses a (variant, locale) combination the first time it is needed. */
function createFieldsCache(
  message: MessageSpec,
  variants: readonly VariantMessageSpec[],
): (
  variantId: string | undefined,
  locale: string | undefined,
) => CompiledFields {
  const cache = new Map<string, CompiledFields>();
  return (variantId, locale) => {
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
}

/**
 * A variant's users choose among the message's locales and their own variant's only:
 * a locale that only another variant has would hide their fallback ("de-AT" → "de").
 */
function createLocaleChoice(
  message: MessageSpec,
  variants: readonly VariantMessageSpec[],
): (
  variantId: string | undefined,
  preferredLocales: readonly (string | null | undefined)[],
) => string | undefined {
  const variantLocales = new Map<
    string | undefined,
    ReturnType<typeof localeChooser>
  >();
  return (variantId, preferredLocales) => {
    let choose = variantLocales.get(variantId);
    if (choose === undefined) {
      choose = localeChooser([
        ...Object.keys(message.locales ?? {}),
        ...Object.keys(
          variants.find((v) => v.id === variantId)?.message?.locales ?? {},
        ),
      ]);
      variantLocales.set(variantId, choose);
    }
    return choose(preferredLocales);
  };
}
