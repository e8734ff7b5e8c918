import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", ".e2e/", "**/*.js", "**/*.mjs"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      eqeqeq: ["error", "smart"],
    },
  },
  {
    // The plan worker and the tests load the program with require() after the mocks are set:
    // an import would be hoisted above setMocks.
    files: ["offline/planWorker.ts", "tests/**/*.ts"],
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
