import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` proxies the API to a local server (scripts/start), so the portal runs same-origin
// exactly as it does when the server serves ui/dist.
const api = process.env.VOXEDGE_API ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // The microphone worklet stays a file of its own: `audioWorklet.addModule` of a data: URL is
    // refused by some browsers.
    assetsInlineLimit: (file) => (file.endsWith("-worklet.js") ? false : undefined),
  },
  server: {
    proxy: {
      "/graphql": { target: api, ws: true },
      "/export": api,
      "/v1": { target: api, ws: true },
    },
  },
});
