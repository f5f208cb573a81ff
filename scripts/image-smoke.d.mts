type Instruction = { keyword: string; args: string };
type Stage = { name: string | null; instructions: Instruction[] };

/** The Dockerfile's stages, continuation lines joined and comments dropped. */
export function parseDockerfile(text: string): Stage[];

/** What the final stage copies, sets, installs, probes and runs. */
export function imageRecipe(stages: Stage[]): {
  workdir: string;
  /** `source` relative to the checkout (another stage's output: where it was built). */
  copies: { source: string; dest: string }[];
  env: Record<string, string>;
  install: string[];
  healthcheck: { command: string[]; startPeriodMs: number };
  cmd: string[];
};
