import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run build:web` (scripts/build-web.mjs) builds into web/dist, served by src/api/console.ts.
// `npx vite web` serves it with hot reload, proxying the API to a service on :8181.
const api = { target: 'http://127.0.0.1:8181', changeOrigin: false };
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, reportCompressedSize: false, chunkSizeWarningLimit: 400 },
  server: { proxy: { '/api': api, '/v1': api, '/docs': api } },
});
