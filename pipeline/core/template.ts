import type { Facts, FieldReader } from './facts.ts';
import { compileField, FieldSchema } from './facts.ts';

/** A template compiled once per message version: literal text and placeholders, in order. */
export type CompiledTemplate = (facts: Facts) => string;

const PLACEHOLDER = /\{\{\s*([^\s|{}]+)\s*(?:\|\s*fallback:\s*("(?:[^"\\]|\\.)*")\s*)?\}\}/y;

type Part = string | { readonly read: FieldReader; readonly fallback: string };

/** Why the template text cannot be compiled, or undefined. Used by the message schema. */
export function templateProblem(text: string): string | undefined {
  const parsed = parseTemplate(text);
  return typeof parsed === 'string' ? parsed : undefined;
}

/**
 * `{{ path }}` renders the value as text (numbers and booleans as JSON writes them);
 * `{{ path | fallback: "text" }}` renders "text" when the value is missing (absent or null),
 * otherwise a missing value renders as "". The fallback is a JSON string literal.
 */
export function compileTemplate(text: string): CompiledTemplate {
  const parts = parseTemplate(text);
  if (typeof parts === 'string') throw new Error(`${parts}: validate messages with MessageSchema first`);
  const first = parts[0];
  if (parts.length === 0) return () => '';
  if (parts.length === 1 && typeof first === 'string') return () => first;
  return (facts) => {
    let out = '';
    for (const part of parts) {
      if (typeof part === 'string') {
        out += part;
        continue;
      }
      const value = part.read(facts);
      out += value === undefined ? part.fallback : typeof value === 'string' ? value : JSON.stringify(value);
    }
    return out;
  };
}

function parseTemplate(text: string): Part[] | string {
  const parts: Part[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf('{{', i);
    if (open === -1) {
      literal += text.slice(i);
      break;
    }
    literal += text.slice(i, open);
    PLACEHOLDER.lastIndex = open;
    const match = PLACEHOLDER.exec(text);
    if (!match)
      return `malformed placeholder at character ${open}: use {{ path }} or {{ path | fallback: "text" }}`;
    const [whole, path = '', fallback] = match;
    if (!FieldSchema.safeParse(path).success) {
      return `unknown field "${path}" in placeholder at character ${open}: use metadata.<key>, context.<key>, user.<key> or event.name`;
    }
    const fallbackText = fallback === undefined ? '' : parseStringLiteral(fallback);
    if (fallbackText === undefined)
      return `invalid escape in the fallback of the placeholder at character ${open}`;
    if (literal) parts.push(literal);
    literal = '';
    parts.push({ read: compileField(path), fallback: fallbackText });
    i = open + whole.length;
  }
  if (literal) parts.push(literal);
  return parts;
}

function parseStringLiteral(literal: string): string | undefined {
  try {
    return JSON.parse(literal) as string;
  } catch {
    return undefined;
  }
}
