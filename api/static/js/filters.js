// The filter rows: conditions on the collection's fields (GET /v1/collections/{name}/fields), each
// a field, an operator suited to its kind and a value; all of them must hold. They become the
// search body's `filter` and a part of the URL state, so a shared link filters the same way.

/** The operators each kind of field offers, first = the default (docs/api.md "filters"). */
const OPERATORS = {
  string: ["equals", "any_of", "exists"],
  strings: ["any_of", "exists"],
  number: ["range", "equals", "exists"],
  boolean: ["equals", "exists"],
  date: ["range", "exists"],
};
const OPERATOR_LABELS = { equals: "equals", any_of: "any of", range: "between", exists: "has a value" };
/** The <input> type a value of each kind is typed in. */
const INPUT_TYPES = { string: "text", strings: "text", number: "number", date: "date", boolean: "text" };

const el = (tag, props = {}) => Object.assign(document.createElement(tag), props);

/** A value as the API wants it: numbers for number fields, the text otherwise. */
function typed(kind, text) {
  return kind === "number" ? Number(text) : text;
}

export class FilterRows {
  /** root: the fieldset the rows go in; it holds #filter-rows and #filter-add. */
  constructor(root) {
    this.root = root;
    this.rows = root.querySelector("#filter-rows");
    this.fields = []; // [{name, kind, source}]
    root.querySelector("#filter-add").addEventListener("click", () => this.add()?.focus());
  }

  /** The fields of the collection now searched; rows naming a field it lacks are dropped. The
   * fieldset's data-collection names whose fields the rows offer (until then, the last one's). */
  setFields(fields, collection = "") {
    this.fields = fields;
    this.root.dataset.collection = collection;
    const known = new Set(fields.map((f) => f.name));
    for (const row of [...this.rows.children]) if (!known.has(row.dataset.field)) row.remove();
    this.root.querySelector("#filter-add").disabled = !fields.length;
  }

  kindOf(name) {
    return this.fields.find((f) => f.name === name)?.kind ?? "string";
  }

  /** A new row ({field, op, value, to}); returns its field picker (to focus). */
  add(condition = {}) {
    if (!this.fields.length) return null;
    const row = el("div", { className: "filter-row" });
    row.setAttribute("role", "group");
    const field = el("select", { className: "filter-field" });
    field.setAttribute("aria-label", "field");
    // your own fields first: they are what people filter on
    const ordered = [...this.fields].sort((a, b) => (a.source === b.source ? 0 : a.source === "metadata" ? -1 : 1));
    field.append(...ordered.map((f) => new Option(`${f.name} (${f.kind})`, f.name)));
    const op = el("select", { className: "filter-op" });
    op.setAttribute("aria-label", "operator");
    const values = el("span", { className: "filter-values" });
    const remove = el("button", { type: "button", textContent: "×", className: "filter-remove" });
    remove.setAttribute("aria-label", "remove this condition");
    remove.addEventListener("click", () => row.remove());
    row.append(field, op, values, remove);
    this.rows.append(row);

    const renderOps = (wanted) => {
      const ops = OPERATORS[this.kindOf(field.value)];
      op.replaceChildren(...ops.map((o) => new Option(OPERATOR_LABELS[o], o)));
      op.value = ops.includes(wanted) ? wanted : ops[0];
    };
    const renderValues = (value = "", to = "") => {
      row.dataset.field = field.value;
      row.dataset.op = op.value;
      values.replaceChildren(...this.valueInputs(this.kindOf(field.value), op.value, value, to));
    };
    field.addEventListener("change", () => { renderOps(op.value); renderValues(); });
    op.addEventListener("change", () => renderValues());
    if (condition.field && this.fields.some((f) => f.name === condition.field)) field.value = condition.field;
    renderOps(condition.op);
    renderValues(condition.value ?? "", condition.to ?? "");
    return field;
  }

  /** The inputs of one operator on one kind: one value, two bounds, or none. */
  valueInputs(kind, op, value, to) {
    if (op === "exists") return [];
    if (kind === "boolean") {
      const select = el("select", { className: "filter-value" });
      select.setAttribute("aria-label", "value");
      select.append(new Option("true", "true"), new Option("false", "false"));
      select.value = value === "false" ? "false" : "true";
      return [select];
    }
    const input = (label, v, extra = {}) => {
      const box = el("input", { type: INPUT_TYPES[kind], value: v, ...extra });
      box.setAttribute("aria-label", label);
      if (kind === "number") box.step = "any";
      return box;
    };
    if (op === "range") {
      return [
        input("from (inclusive)", value, { className: "filter-value", placeholder: "from" }),
        input("to (inclusive)", to, { className: "filter-to", placeholder: "to" }),
      ];
    }
    const placeholder = op === "any_of" ? "a|b|c" : "value";
    return [input(op === "any_of" ? "values, separated by |" : "value", value,
      { className: "filter-value", placeholder, type: op === "any_of" ? "text" : INPUT_TYPES[kind] })];
  }

  /** Every row as {field, op, value, to}, the URL's form of the filter. */
  conditions() {
    return [...this.rows.children].map((row) => ({
      field: row.dataset.field,
      op: row.dataset.op,
      value: row.querySelector(".filter-value")?.value ?? "",
      to: row.querySelector(".filter-to")?.value ?? "",
    }));
  }

  /** The search body's `filter`, or null without conditions (throws on an incomplete row). */
  toRequest() {
    const filter = { equals: {}, any_of: {}, ranges: {}, exists: [] };
    for (const c of this.conditions()) {
      const kind = this.kindOf(c.field);
      if (c.op === "exists") filter.exists.push(c.field);
      else if (c.op === "equals") {
        if (c.value === "") throw new Error(`filter on ${c.field}: give a value`);
        filter.equals[c.field] = kind === "boolean" ? c.value === "true" : typed(kind, c.value);
      } else if (c.op === "any_of") {
        const wanted = c.value.split("|").map((v) => v.trim()).filter(Boolean);
        if (!wanted.length) throw new Error(`filter on ${c.field}: give values separated by |`);
        filter.any_of[c.field] = wanted.map((v) => typed(kind, v));
      } else {
        if (c.value === "" && c.to === "") throw new Error(`filter on ${c.field}: give a lower or upper bound`);
        const range = {};
        if (c.value !== "") range.gte = typed(kind, c.value);
        if (c.to !== "") range.lte = typed(kind, c.to);
        filter.ranges[c.field] = range;
      }
    }
    const used = Object.fromEntries(Object.entries(filter).filter(([, v]) => Object.keys(v).length));
    return Object.keys(used).length ? used : null;
  }

  /** Rows from the URL's conditions (those naming a field this collection lacks are dropped). */
  load(conditions) {
    this.rows.replaceChildren();
    for (const c of conditions || []) this.add(c);
  }

  clear() {
    this.rows.replaceChildren();
  }
}
