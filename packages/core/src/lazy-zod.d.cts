// Typings of lazy-zod.cjs: zod's `z`, as `export { z } from 'zod'` would give it.
export { z } from 'zod';
