export * from "./span.ts";
export * from "./diagnostic.ts";
export * from "./codes.ts";
export * from "./render.ts";
