/**
 * Something drawn on the terminal's last line of stderr (a progress bar) that log lines must not
 * run into: a log line clears it, is written on a line of its own, and the status line is drawn
 * again under it.
 */
export interface StatusLine {
  clear(): void;
  redraw(): void;
}

let current: StatusLine | undefined;

/** Register the status line drawn on stderr (one at a time); returns the function that removes it. */
export function setStatusLine(line: StatusLine): () => void {
  current = line;
  return () => {
    if (current === line) current = undefined;
  };
}

/** Run `write` (a log line) with the status line cleared before and drawn again after. */
export function aroundStatusLine(write: () => void): void {
  const line = current;
  line?.clear();
  try {
    write();
  } finally {
    line?.redraw();
  }
}
