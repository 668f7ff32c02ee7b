import { Liquid, type Template } from "liquidjs";
import {
  compileTree,
  renderedActions,
  TEXT_FIELDS,
  TREE_FIELDS,
  type MessageFields,
  type RenderedAction,
  type TreeField,
  type TreeRenderer,
} from "./message-fields.ts";
import { plainRenderer, type PlainRenderer } from "./plain-template.ts";
import { keyOf, pathsRead, type Path } from "./template-reads.ts";

/*
 * One set of merged message fields as parsed templates, and their rendering for one
 * recipient. Which variant and locale supply the fields is message-template.ts's part.
 */

export type RenderedMessage = {
  title: string;
  body: string;
  deepLink?: string;
  image?: string;
  sound?: string;
  /** The app icon's badge count as rendered; delivery sends it when it is a whole number. */
  badge?: string;
  data: Record<string, string>;
  /** Buttons, rendered; the ones whose title rendered empty are left out. */
  actions?: RenderedAction[];
  priority?: string;
  /** Each platform's options and overrides, rendered; empty texts left out. */
  apns?: Record<string, unknown>;
  fcm?: Record<string, unknown>;
  webpush?: Record<string, unknown>;
  overrides?: Record<string, unknown>;
  /** The body may be shortened to fit a platform's limit. */
  truncate?: true;
  /** The locale variant used; undefined for the default message. */
  locale?: string;
  /** A background push: wakes the app, shows nothing. */
  silent?: true;
  /** Not stopped or counted by the settings' frequency cap (`delivery.caps: false`). */
  uncapped?: true;
};

export type RenderScope = {
  event: unknown;
  profile: unknown;
  item?: unknown;
};

/**
 * One field's parsed template, and the paths outside `event` that it reads: values
 * that are equal at each of them render equal text for one event. Undefined when that
 * cannot be known (a partial may read anything).
 */
type CompiledField = {
  template: Template[];
  reads: readonly Path[] | undefined;
  /** For a plain template (plain-template.ts), its renderer without Liquid. */
  plain: PlainRenderer | undefined;
};

export type CompiledFields = {
  [K in (typeof TEXT_FIELDS)[number]]?: CompiledField;
} & {
  data: Record<string, CompiledField>;
  trees: Partial<Record<TreeField, TreeRenderer<CompiledField>>>;
};

const engine = new Liquid({ ownPropertyOnly: true, strictFilters: true });

/** Parses one template, throwing a readable error for a syntax mistake. */
export function parseTemplate(source: string): Template[] {
  return engine.parse(source);
}

/** Parses every field of a merged message, so that rendering never parses. */
export function compileFields(fields: MessageFields): CompiledFields {
  const compiled: CompiledFields = { data: {}, trees: {} };
  for (const name of TEXT_FIELDS) {
    const source = fields[name];
    if (source !== undefined) compiled[name] = compileField(source);
  }
  for (const [key, source] of Object.entries(fields.data ?? {}))
    compiled.data[key] = compileField(source);
  for (const name of TREE_FIELDS)
    if (fields[name] !== undefined)
      compiled.trees[name] = compileTree(fields[name], compileField);
  return compiled;
}

function compileField(source: string): CompiledField {
  const template = parseTemplate(source);
  return {
    template,
    reads: pathsRead(engine, template, source),
    plain: plainRenderer(source),
  };
}

/** Texts already rendered for one event, by field and then by the recipient's key. */
export type RenderedTexts = Map<CompiledField, Map<string, string>>;

/** Distinct texts kept per field and event: past this, texts are rendered and not kept. */
const MAX_TEXTS_PER_FIELD = 10_000;

/**
 * Renders the fields for one recipient. With `rendered`, a field's text for a key
 * already seen is taken from it, or rendered and kept there: callers pass one map per
 * event.
 */
export function renderFields(
  fields: CompiledFields,
  scope: RenderScope,
  locale: string | undefined,
  rendered?: RenderedTexts,
): RenderedMessage {
  // A missing variable renders as empty text (or the template's `default:`), never "undefined".
  const renderNow = (field: CompiledField) =>
    (
      field.plain?.(scope) ?? String(engine.renderSync(field.template, scope))
    ).trim();
  const render = (field: CompiledField | undefined) => {
    if (field === undefined) return "";
    if (rendered === undefined || field.reads === undefined)
      return renderNow(field);
    let texts = rendered.get(field);
    if (texts === undefined) {
      texts = new Map();
      rendered.set(field, texts);
    }
    const key = keyOf(field.reads, scope);
    let text = texts.get(key);
    if (text === undefined) {
      text = renderNow(field);
      if (texts.size < MAX_TEXTS_PER_FIELD) texts.set(key, text);
    }
    return text;
  };
  const optional = (field: CompiledField | undefined) => {
    const text = render(field);
    return text === "" ? undefined : text;
  };
  const data: Record<string, string> = {};
  for (const [key, field] of Object.entries(fields.data))
    data[key] = render(field);
  const message: RenderedMessage = {
    title: render(fields.title),
    body: render(fields.body),
    data,
  };
  const deepLink = optional(fields.deepLink);
  const image = optional(fields.image);
  const sound = optional(fields.sound);
  const badge = optional(fields.badge);
  if (deepLink !== undefined) message.deepLink = deepLink;
  if (image !== undefined) message.image = image;
  if (sound !== undefined) message.sound = sound;
  if (badge !== undefined) message.badge = badge;
  const priority = optional(fields.priority);
  if (priority !== undefined) message.priority = priority;
  const actions = renderedActions(fields.trees.actions?.(render));
  if (actions !== undefined) message.actions = actions;
  for (const name of ["apns", "fcm", "webpush", "overrides"] as const) {
    const options = fields.trees[name]?.(render);
    if (options !== undefined)
      message[name] = options as Record<string, unknown>;
  }
  if (fields.trees.truncate?.(render) === true) message.truncate = true;
  if (locale !== undefined) message.locale = locale;
  return message;
}
