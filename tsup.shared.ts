import type { Options } from "tsup";

/**
 * How every @hookline package is minified. esbuild drops whitespace and simplifies syntax; terser then renames local
 * variables and parameters only: top-level names, function names and class names stay as written, so a stack trace
 * still names Hookline's functions (without source maps, which carried the sources and tripled the install), and
 * `#__PURE__` annotations stay, so bundlers still drop what a caller does not use. No `compress`: the code runs as
 * written.
 */
export const minification = {
  minifyWhitespace: true,
  minifySyntax: true,
  minify: "terser",
  terserOptions: {
    compress: false,
    mangle: { toplevel: false, keep_fnames: true, keep_classnames: true },
    format: { comments: false, preserve_annotations: true },
  },
  sourcemap: false,
} satisfies Options;
