// ESLint for the client-side components: `npm ci`, then `npx eslint app_pages/components`.
import js from "@eslint/js";

// The browser names the components use, declared here rather than through another package.
const browser = Object.fromEntries(
  [
    "window", "document", "performance", "requestAnimationFrame", "cancelAnimationFrame",
    "setTimeout", "clearTimeout", "atob", "getComputedStyle", "MutationObserver",
    "ResizeObserver", "HTMLElement",
  ].map((name) => [name, "readonly"]),
);

export default [
  {
    files: ["app_pages/components/**/*.js"],
    languageOptions: { ecmaVersion: "latest", sourceType: "module", globals: browser },
    rules: {
      ...js.configs.recommended.rules,
      "no-unused-vars": "error",
      eqeqeq: "error",
      "prefer-const": "error",
      "no-var": "error",
    },
  },
];
