import { defineConfig } from "vitest/config";

// testkit/vitest.ts registers the test kit's cleanup hook (stop leftover processes, remove temporary
// folders) after the last test of every test file.
export default defineConfig({ test: { setupFiles: ["testkit/vitest.ts"] } });
