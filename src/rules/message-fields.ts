/*
 * A message's fields as the rules file gives them (every string a Liquid template),
 * how the layers of a message (the message, a variant, their locales) merge, and how
 * the fields that are not plain texts (actions) are compiled and rendered.
 */

/** A button on the notification; `title` and `deepLink` are templates. */
export type ActionSpec = {
  id: string;
  title: string;
  deepLink?: string | undefined;
  foreground?: boolean | undefined;
  destructive?: boolean | undefined;
};

/** An action as rendered and stored with the message. */
export type RenderedAction = {
  id: string;
  title: string;
  deepLink?: string;
  foreground?: boolean;
  destructive?: boolean;
};

/** The fields a message may have; every string is a Liquid template. */
export type MessageFields = {
  title?: string | undefined;
  body?: string | undefined;
  deepLink?: string | undefined;
  image?: string | undefined;
  sound?: string | undefined;
  badge?: string | undefined;
  data?: Record<string, string> | undefined;
  actions?: ActionSpec[] | undefined;
  priority?: string | undefined;
  /** Options only APNs, FCM or browsers read: strings are templates. */
  apns?: OptionsSpec | undefined;
  fcm?: OptionsSpec | undefined;
  webpush?: OptionsSpec | undefined;
  /** Shorten the body to fit a platform's payload limit instead of suppressing. */
  truncate?: boolean | undefined;
  /** By platform, shared fields and that platform's options that replace the message's. */
  overrides?: Partial<Record<PlatformName, OptionsSpec>> | undefined;
};

type PlatformName = "apns" | "fcm" | "webpush";
type OptionsSpec = Record<string, string | number | boolean | undefined>;
const PLATFORMS = ["apns", "fcm", "webpush"] as const;

export const TEXT_FIELDS = [
  "title",
  "body",
  "deepLink",
  "image",
  "sound",
  "badge",
  "priority",
] as const;

/** Fields that hold more than one text: compiled as a tree of templates. */
export const TREE_FIELDS = [
  "actions",
  "apns",
  "fcm",
  "webpush",
  "overrides",
  "truncate",
] as const;
export type TreeField = (typeof TREE_FIELDS)[number];

/**
 * The layers merged, the later over the earlier: a text replaces, data and each
 * platform's options and overrides merge key by key, and a list of actions replaces
 * the whole list, so that a locale that translates the buttons says every button it
 * shows.
 */
export function mergeFields(
  ...layers: (MessageFields | undefined)[]
): MessageFields {
  const merged: MessageFields = {};
  for (const layer of layers) {
    if (layer === undefined) continue;
    for (const name of TEXT_FIELDS) {
      const value = layer[name];
      if (value !== undefined) merged[name] = value;
    }
    if (layer.data !== undefined)
      merged.data = { ...merged.data, ...layer.data };
    if (layer.actions !== undefined) merged.actions = layer.actions;
    if (layer.truncate !== undefined) merged.truncate = layer.truncate;
    for (const platform of PLATFORMS) {
      const options = layer[platform];
      if (options !== undefined)
        merged[platform] = { ...merged[platform], ...options };
      const override = layer.overrides?.[platform];
      if (override !== undefined)
        merged.overrides = {
          ...merged.overrides,
          [platform]: { ...merged.overrides?.[platform], ...override },
        };
    }
  }
  return merged;
}

/** Renders a compiled tree with the given text renderer. */
export type TreeRenderer<F> = (render: (field: F) => string) => unknown;

/**
 * Compiles every string of a JSON value as a template, keeping its shape. An id or a
 * fixed option value holds no Liquid (the schema says so), so it renders as written.
 * When rendered, a text that comes out empty is left out, as an optional field is.
 */
export function compileTree<F>(
  value: unknown,
  compile: (source: string) => F,
): TreeRenderer<F> {
  if (typeof value === "string") {
    const field = compile(value);
    return (render) => {
      const text = render(field);
      return text === "" ? undefined : text;
    };
  }
  if (Array.isArray(value)) {
    const items = value.map((item) => compileTree(item, compile));
    return (render) =>
      items.map((item) => item(render)).filter((item) => item !== undefined);
  }
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).map(
      ([key, item]) => [key, compileTree(item, compile)] as const,
    );
    return (render) => {
      const out: Record<string, unknown> = {};
      for (const [key, item] of entries) {
        const rendered = item(render);
        if (rendered !== undefined) out[key] = rendered;
      }
      return out;
    };
  }
  return () => value;
}

/**
 * The rendered actions that can be shown: a button whose title rendered empty is left
 * out rather than shown blank. Undefined when none is left.
 */
export function renderedActions(value: unknown): RenderedAction[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const actions = value.filter(
    (a): a is RenderedAction =>
      typeof a === "object" &&
      a !== null &&
      typeof (a as RenderedAction).id === "string" &&
      typeof (a as RenderedAction).title === "string",
  );
  return actions.length === 0 ? undefined : actions;
}
