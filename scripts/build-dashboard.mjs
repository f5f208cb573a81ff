// `npm run build`'s second half: bundles dashboard/ (Preact, graphql-ws's browser client)
// with esbuild into dist/dashboard: index.html and assets named by their content hash,
// which src/http/dashboard-assets.ts serves. `--out-dir <dir>` writes elsewhere (tests).
import { mkdir, rm, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const ASSETS_URL = "/dashboard/assets/";

/** Builds into outDir (emptied first); resolves to each asset's name, bytes and gzipped bytes. */
export async function buildDashboard(outDir = join(root, "dist", "dashboard")) {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(join(outDir, "assets"), { recursive: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: ["dashboard/src/main.tsx"],
    outdir: join(outDir, "assets"),
    entryNames: "[name]-[hash]",
    bundle: true,
    minify: true,
    format: "esm",
    target: "es2022",
    platform: "browser",
    jsx: "automatic",
    jsxImportSource: "preact",
    legalComments: "none",
    metafile: true,
    write: false,
    logLevel: "warning",
  });
  const files = [];
  for (const file of result.outputFiles) {
    await writeFile(file.path, file.contents);
    files.push({
      name: basename(file.path),
      bytes: file.contents.length,
      gzipped: gzipSync(file.contents, { level: 9 }).length,
    });
  }
  const script = files.find((file) => file.name.endsWith(".js"));
  const style = files.find((file) => file.name.endsWith(".css"));
  if (!script) throw new Error("esbuild wrote no script");
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Service Integration Gateway</title>
<link rel="icon" href="data:,">
${style ? `<link rel="stylesheet" href="${ASSETS_URL}${style.name}">` : ""}
<script type="module" src="${ASSETS_URL}${script.name}"></script>
</head>
<body>
<div id="app"></div>
<noscript>The dashboard needs JavaScript; the API is at /graphql.</noscript>
</body>
</html>
`;
  await writeFile(join(outDir, "index.html"), html);
  return files;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const flag = process.argv.indexOf("--out-dir");
  const outDir = flag === -1 ? undefined : resolve(process.argv[flag + 1] ?? "");
  const files = await buildDashboard(outDir);
  const gzipped = files.reduce((sum, file) => sum + file.gzipped, 0);
  if (!process.argv.includes("--quiet")) {
    for (const file of files) {
      console.log(`dashboard: ${file.name} ${file.bytes} B (${file.gzipped} B gzipped)`);
    }
    console.log(`dashboard: ${(gzipped / 1024).toFixed(1)} KB gzipped in all`);
  }
}
