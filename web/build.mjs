// Builds the logs explorer into api/static (or the folder given as the first argument):
// the page's bundle under content-hashed names, index.html pointing at them, Swagger UI's
// files from swagger-ui-dist (so /docs renders offline) and manifest.json naming them all.
// Deterministic: the same sources and lock file give the same bytes (CI compares them).
import { build } from "esbuild";
import { copyFile, mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, "..", "api", "static"));
const require = (name) => join(here, "node_modules", name);

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });

const result = await build({
  entryPoints: { app: join(here, "src", "main.tsx") },
  absWorkingDir: here, // paths (and so the content hashes) do not depend on the caller's folder
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2020",
  jsx: "automatic",
  jsxImportSource: "preact",
  entryNames: "[name]-[hash]",
  outdir: out,
  metafile: true,
  legalComments: "linked",
  logLevel: "warning",
});

const built = Object.keys(result.metafile.outputs).map((p) => p.split("/").pop());
const appJs = built.find((n) => n.startsWith("app-") && n.endsWith(".js"));
const appCss = built.find((n) => n.startsWith("app-") && n.endsWith(".css"));
if (!appJs || !appCss) throw new Error(`unexpected build outputs: ${built.join(", ")}`);

const swaggerVersion = JSON.parse(await readFile(require("swagger-ui-dist/package.json"), "utf8")).version;
const swaggerDir = `swagger-ui-${swaggerVersion}`;
await mkdir(join(out, swaggerDir));
for (const name of ["swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js", "favicon-32x32.png", "LICENSE"]) {
  await copyFile(require(`swagger-ui-dist/${name}`), join(out, swaggerDir, name));
}

const template = await readFile(join(here, "index.html"), "utf8");
await writeFile(
  join(out, "index.html"),
  template.replace("{{APP_JS}}", `/static/${appJs}`).replace("{{APP_CSS}}", `/static/${appCss}`),
);

const files = (await readdir(out, { recursive: true })).sort();
const manifest = {
  app_js: appJs,
  app_css: appCss,
  swagger_js: `${swaggerDir}/swagger-ui-bundle.js`,
  swagger_css: `${swaggerDir}/swagger-ui.css`,
  swagger_preset_js: `${swaggerDir}/swagger-ui-standalone-preset.js`,
  swagger_favicon: `${swaggerDir}/favicon-32x32.png`,
};
await writeFile(join(out, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`built ${files.length} files into ${out} (${appJs}, ${appCss})`);
