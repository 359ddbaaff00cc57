// Lint and format (dprint, run as the @effect/dprint rule) as the Effect repository does on its
// Effect 3 branch (Effect-TS/effect, branch v3, eslint.config.mjs): the same dprint settings and
// the same cheap rules, without its repository-specific plugins (codegen, import, sort keys).
// `npm run lint` checks, `npm run format` (eslint --fix) rewrites.
import * as effectEslint from "@effect/eslint-plugin"
import js from "@eslint/js"
import { defineConfig, globalIgnores } from "eslint/config"
import tseslint from "typescript-eslint"

const dprint = ["error", {
  config: {
    indentWidth: 2,
    lineWidth: 120,
    semiColons: "asi",
    quoteStyle: "alwaysDouble",
    trailingCommas: "never",
    operatorPosition: "maintain",
    "arrowFunction.useParentheses": "force"
  }
}]

export default defineConfig(
  globalIgnores(["**/node_modules", "**/dist", ".test-dist", "bench/chaos-logs", ".dependency-cruiser.cjs"]),
  {
    files: ["{src,test,bench,sandbox,scripts}/**/*.{ts,mts,cts}", "*.{ts,mjs}"],
    extends: [js.configs.recommended, tseslint.configs.recommended, effectEslint.configs.dprint],
    rules: {
      // tsc checks these (noFallthroughCasesInSwitch, noUnused*), or they contradict Effect idioms:
      // Effect.gen bodies without a yield, `any` in variance positions, `{}` and Function types.
      "no-fallthrough": "off",
      "no-irregular-whitespace": "off",
      "no-unused-vars": "off",
      "require-yield": "off",
      "prefer-rest-params": "off",
      "prefer-spread": "off",
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-empty-object-type": "off",
      "@typescript-eslint/no-unsafe-function-type": "off",
      "@typescript-eslint/no-wrapper-object-types": "off",
      "@typescript-eslint/ban-ts-comment": "off",
      "@typescript-eslint/no-array-constructor": "off",
      "@typescript-eslint/no-namespace": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],

      "object-shorthand": "error",
      // Spreading a large array into push's arguments overflows the stack.
      "no-restricted-syntax": ["error", {
        selector: "CallExpression[callee.property.name='push'] > SpreadElement.arguments",
        message: "Do not use spread arguments in Array.push"
      }],
      "@typescript-eslint/array-type": ["warn", { default: "generic", readonly: "generic" }],
      "@typescript-eslint/consistent-type-imports": "warn",

      "@effect/dprint": dprint
    }
  },
  {
    // The operator console's script runs in the browser, as an ES module, with no build step.
    files: ["console/**/*.js"],
    extends: [js.configs.recommended, effectEslint.configs.dprint],
    languageOptions: {
      sourceType: "module",
      globals: {
        document: "readonly",
        sessionStorage: "readonly",
        fetch: "readonly",
        URLSearchParams: "readonly",
        Node: "readonly"
      }
    },
    rules: {
      "no-console": "error",
      "@effect/dprint": dprint
    }
  },
  {
    // The product logs through Effect's Logger; the sandbox, tests and benchmarks may print.
    files: ["src/**/*.ts"],
    rules: { "no-console": "error" }
  }
)
