/** `module.path:function`: a dotted module path, a colon, and a (dotted) attribute name. */
export const ENTRY_POINT =
  /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
export const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
