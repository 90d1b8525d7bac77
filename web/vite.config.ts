import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));

// The Threadline browser UI. The server serves web/dist: index.html for every
// non-API GET path (client-side routing) and the bundles under /assets/.
export default defineConfig({
  root: here,
  base: "/",
  plugins: [react()],
  build: {
    outDir: path.join(here, "dist"),
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
  },
  server: {
    // `npx vite --config web/vite.config.ts` proxies the API to a local server.
    proxy: {
      "/api": process.env.THREADLINE_URL ?? "http://127.0.0.1:8080",
    },
  },
});
