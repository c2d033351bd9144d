// Undo/redo stacks of snapshots, shared by the sketch canvas and the painters.

export class History {
  constructor(limit = 40) {
    this.limit = limit;
    this.undos = [];
    this.redos = [];
  }

  /** Remember the state before a change; a new change forgets what could be redone. */
  push(snapshot) {
    this.undos.push(snapshot);
    if (this.undos.length > this.limit) this.undos.shift();
    this.redos = [];
  }

  /** The state to go back to (current goes onto redo), or null. */
  undo(current) {
    if (!this.undos.length) return null;
    this.redos.push(current);
    return this.undos.pop();
  }

  redo(current) {
    if (!this.redos.length) return null;
    this.undos.push(current);
    return this.redos.pop();
  }

  clear() {
    this.undos = [];
    this.redos = [];
  }
}

/** Call onStroke(x, y, first) in canvas pixels for a pointer drag (mouse, pen or touch). */
export function trackPointer(canvas, onStroke, onEnd) {
  let active = null;
  const at = (ev) => {
    const r = canvas.getBoundingClientRect();
    return [((ev.clientX - r.left) / r.width) * canvas.width,
      ((ev.clientY - r.top) / r.height) * canvas.height];
  };
  canvas.addEventListener("pointerdown", (ev) => {
    if (active !== null || ev.button > 0) return;
    active = ev.pointerId;
    canvas.setPointerCapture(ev.pointerId);
    onStroke(...at(ev), true);
    ev.preventDefault();
  });
  canvas.addEventListener("pointermove", (ev) => {
    if (ev.pointerId !== active) return;
    // coalesced events keep fast strokes smooth instead of a few straight segments
    for (const e of ev.getCoalescedEvents?.() ?? [ev]) onStroke(...at(e), false);
  });
  const end = (ev) => {
    if (ev.pointerId !== active) return;
    active = null;
    onEnd();
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
}
