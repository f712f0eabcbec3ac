import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { z } from 'zod';
import { formatIssues, keysOf } from '../../core/validation.ts';
import { InputError, parseJson } from '../../errors.ts';

/** Reads a JSON file and checks it against a schema; every problem names the file and the path. */
export async function readJsonDefinitions<S extends z.ZodType>(
  path: string,
  schema: S,
): Promise<z.output<S>> {
  const name = basename(path);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new InputError(
      path,
      [`cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)})`],
      {
        cause: error,
      },
    );
  }
  const json = parseJson(text, name);
  const result = schema.safeParse(json);
  if (!result.success) throw new InputError(name, formatIssues(result.error.issues, [], keysOf(schema)));
  return result.data;
}
