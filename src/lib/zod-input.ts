import { z } from "zod";
import { GatewayError } from "../domain/errors.js";

/**
 * Parses with a zod schema; failures become BAD_USER_INPUT naming the first bad field
 * under `fieldPrefix` (e.g. `input.baseUrl`), with every problem listed in `problems`.
 */
export function parseInput<S extends z.ZodType>(
  schema: S,
  value: unknown,
  fieldPrefix: string,
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => ({
    field: [fieldPrefix, ...issue.path.map(String)].filter(Boolean).join("."),
    message: issue.message,
  }));
  const [first] = problems as [{ field: string; message: string }];
  throw new GatewayError("BAD_USER_INPUT", `${first.field}: ${first.message}`, {
    field: first.field,
    problems,
  });
}

/** One of `values`, in any case and with spaces around it: " post " is POST. */
export function anyCaseEnum<const T extends readonly [string, ...string[]]>(values: T) {
  return z
    .string()
    .trim()
    .transform((value) => value.toUpperCase())
    .pipe(z.enum(values, { error: `must be one of ${values.join(", ")}` }));
}
