// import() of an ES module plugin, in a file of its own: the start bundle (scripts/bundle-start.mjs)
// leaves a module that calls import() outside it, to be read and compiled from its own file, so
// the plugin loader stays in the bundle and only an ES module plugin loads this file.

/** `import(url)`, as Node's ES module loader answers it. */
export const importModule = (url: string): Promise<unknown> => import(url);
