// Vite configuration of Tessera's browser UI.
//
// `base: '/'` because the server serves index.html at `/` and the hashed bundles at
// `/assets/*`; the router uses the URL hash, so no other path ever reaches the server.
// `npm run dev` (and `vite preview`) proxy `/api` to a local `tessera serve`, so the UI is
// developed with hot reload against the real API.
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// `TESSERA_API=http://host:port npx vite` points the proxy at another server.
const proxy = { '/api': { target: process.env.TESSERA_API ?? 'http://127.0.0.1:8080' } }

export default defineConfig({
  base: '/',
  plugins: [vue()],
  server: { proxy },
  preview: { proxy },
  build: {
    // Element Plus is one large chunk by nature; the warning is noise for a bundle that is
    // embedded in the binary and cached forever under a content hash.
    chunkSizeWarningLimit: 2000,
  },
})
