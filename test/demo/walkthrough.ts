import { readFileSync } from "node:fs";
import { Kind, parse } from "graphql";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

/** The README's walkthrough: its "Try it in GraphiQL" section. */
export function walkthroughSection(): string {
  const start = readme.indexOf("## Try it in GraphiQL");
  const end = readme.indexOf("\n## ", start + 1);
  if (start < 0 || end < 0) throw new Error("the README has no walkthrough section");
  return readme.slice(start, end);
}

export type WalkthroughStep =
  | {
      kind: "graphql";
      /** The block, sent whole (a named operation chooses its own). */
      document: string;
      operationName: string | undefined;
      subscription: boolean;
    }
  | { kind: "curl"; path: string; body: string };

/**
 * Every operation of the walkthrough in reading order: each operation of each `graphql`
 * block, and each `curl … localhost:8090<path> … -d '<json>'` of its `bash` blocks.
 */
export function walkthroughSteps(): WalkthroughStep[] {
  const steps: WalkthroughStep[] = [];
  for (const [, language, text] of walkthroughSection().matchAll(/```(\w+)\n([\s\S]*?)```/g)) {
    if (language === "graphql") {
      for (const definition of parse(text as string).definitions) {
        if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
        steps.push({
          kind: "graphql",
          document: text as string,
          operationName: definition.name?.value,
          subscription: definition.operation === "subscription",
        });
      }
    } else if (language === "bash") {
      const joined = (text as string).replace(/\\\n\s*/g, " ");
      for (const [, path, body] of joined.matchAll(
        /curl -s localhost:8090(\S+) .*?-d '([^']*)'/g,
      )) {
        steps.push({ kind: "curl", path: path as string, body: body as string });
      }
    }
  }
  return steps;
}
