import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "typegen/node_modules/", "src/generated/", "test/.tmp-*/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.js", "**/*.mjs"],
    languageOptions: {
      globals: { process: "readonly", console: "readonly", fetch: "readonly", URL: "readonly", TextEncoder: "readonly", setTimeout: "readonly", clearTimeout: "readonly", performance: "readonly", WebSocket: "readonly" },
    },
  },
  {
    // A service worker: its global is `self`.
    files: ["test/browser/sw.js"],
    languageOptions: { globals: { self: "readonly" } },
  },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
);
