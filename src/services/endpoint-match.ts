import type { ServiceEndpoint } from "../domain/service.js";

/**
 * Whether a service declared `method path` among its endpoints. A declared path is a
 * template: `{name}` stands for one whole, non-empty segment (`/executions/{id}` matches
 * `/executions/42`, not `/executions/42/steps` nor `/executions/`). A trailing slash is
 * not significant.
 */
export function declaresEndpoint(
  endpoints: readonly ServiceEndpoint[],
  method: string,
  path: string,
): boolean {
  const segments = segmentsOf(path);
  return endpoints.some(
    (endpoint) =>
      endpoint.method.toUpperCase() === method && templateMatches(endpoint.path, segments),
  );
}

function templateMatches(template: string, segments: readonly string[]): boolean {
  const parts = segmentsOf(template);
  if (parts.length !== segments.length) return false;
  return parts.every((part, i) => {
    const segment = segments[i] as string;
    return /^\{[^/{}]+\}$/.test(part) ? segment !== "" : part === segment;
  });
}

function segmentsOf(path: string): string[] {
  const trimmed = path.replace(/\/+$/, "");
  return trimmed === "" ? [] : trimmed.slice(1).split("/");
}
