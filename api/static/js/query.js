// The query builder: one part per query modality the loaded model takes (built from the
// declarations in GET /v1/model with ./editors.js), liked items, and one weight per active part.
// It turns itself into the URL state and into a search request.

import { editorFor } from "./editors.js";

export class QueryBuilder {
  /** root: the element the parts go in (before the "like" part). */
  constructor(root, onChange) {
    this.root = root;
    this.onChange = onChange;
    this.editors = []; // in the order the model lists its query modalities
    this.weights = {};
    this.like = []; // [{id, weight}]
    this.onError = null;
    this.onSubmit = null;
  }

  /** Build the parts of a model: {query_modalities: [{name, editor, label, ...}], palette}. */
  setModel(model) {
    const page = {
      palette: model.palette || [],
      changed: () => this.onChange(),
      error: (text) => this.onError?.(text),
      submit: () => this.onSubmit?.(),
    };
    for (const editor of this.editors) editor.root.remove();
    this.editors = model.query_modalities.map((decl) => editorFor(decl, page));
    const anchor = this.root.querySelector("#part-like");
    for (const editor of this.editors) this.root.insertBefore(editor.root, anchor);
    for (const editor of this.editors) this.weights[editor.name] ??= 1;
  }

  /** The names of the parts that have content, in page order. */
  active() {
    return this.editors.filter((e) => !e.isEmpty()).map((e) => e.name);
  }

  /** What the URL keeps: everything needed to send the same request again. */
  toState() {
    const s = { w: {}, like: this.like };
    for (const editor of this.editors) {
      if (editor.isEmpty()) continue;
      s.w[editor.name] = this.weights[editor.name];
      s[editor.name] = editor.state();
    }
    return s;
  }

  async fromState(s) {
    for (const editor of this.editors) await editor.load(s[editor.name]);
    this.like = s.like || [];
    for (const [p, w] of Object.entries(s.w || {})) this.weights[p] = w;
  }

  /** The parts of a JSON search request, the zero-weight ones left out (throws on bad input). */
  parts() {
    return this.editors
      .filter((e) => !e.isEmpty() && this.weights[e.name])
      .map((e) => ({ modality: e.name, weight: this.weights[e.name], ...e.value() }));
  }

  /** A search's warnings (words the model could not read) next to the text parts that were sent;
   * the other text parts show none. */
  showWarnings(warnings) {
    for (const editor of this.editors) {
      if (editor.showWarnings) editor.showWarnings(editor.isEmpty() ? [] : warnings);
    }
  }

  reset() {
    for (const editor of this.editors) editor.clear();
    for (const editor of this.editors) this.weights[editor.name] = 1;
    this.like = [];
    this.onChange();
  }
}
