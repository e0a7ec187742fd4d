import type { Options } from "tsup";

/**
 * How every @hookline package is minified. esbuild drops whitespace and simplifies syntax; terser then renames local
 * variables and parameters only: top-level names, function names and class names stay as written, so a stack trace
 * still names Hookline's functions (without source maps, which carried the sources and tripled the install). No
 * `compress`: the code runs as written. esbuild's whitespace pass drops `#__PURE__` annotations, so module-level code
 * must not call anything a bundler would need to drop (build lazily instead, as the receiver does).
 */
export const minification = {
  minifyWhitespace: true,
  minifySyntax: true,
  minify: "terser",
  terserOptions: {
    compress: false,
    mangle: { toplevel: false, keep_fnames: true, keep_classnames: true },
    format: { comments: false },
  },
  sourcemap: false,
} satisfies Options;
