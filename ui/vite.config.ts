// One UMD bundle for the three React apps of the plugin (page, dashboard card, DAG-run panel).
// React, the router, Chakra and Emotion are Airflow's own copies (globals its UI sets), so the
// page shares Airflow's router, theme (light and dark) and color mode, and the bundle stays small.
import react from "@vitejs/plugin-react";
import { resolve } from "node:path";
import { defineConfig } from "vite";

const HOST_GLOBALS: Record<string, string> = {
  react: "React",
  "react-dom": "ReactDOM",
  "react-router-dom": "ReactRouterDOM",
  "react/jsx-runtime": "ReactJSXRuntime",
  "@chakra-ui/react": "ChakraUI",
  "@emotion/react": "EmotionReact",
};

export default defineConfig({
  plugins: [react()],
  define: { "process.env.NODE_ENV": JSON.stringify("production") },
  build: {
    outDir: resolve(import.meta.dirname, "../plugins/whatsapp/ui/dist"),
    emptyOutDir: true,
    lib: {
      entry: resolve(import.meta.dirname, "src/main.tsx"),
      formats: ["umd"],
      name: "WhatsAppHealthBundle",
      fileName: () => "whatsapp-health.js",
    },
    rollupOptions: {
      external: Object.keys(HOST_GLOBALS),
      output: { globals: HOST_GLOBALS },
    },
  },
});
