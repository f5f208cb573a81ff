/** One file esbuild wrote into the assets folder. */
export type BuiltAsset = { name: string; bytes: number; gzipped: number };

/** Builds the dashboard into outDir (default dist/dashboard, emptied first). */
export function buildDashboard(outDir?: string): Promise<BuiltAsset[]>;
