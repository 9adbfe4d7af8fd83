/**
 * The dashboard's only way to build DOM. Strings always become text nodes and
 * attribute values, never markup: stored text (payloads, progress messages,
 * error messages and stacks) cannot turn into elements or scripts. No
 * sink that parses HTML is used anywhere in the dashboard (a test scans for them).
 */

/** What may be given as a child: strings and numbers become text nodes; null, undefined and false are skipped. */
export type Child = Node | string | number | null | undefined | false | readonly Child[];

/** Properties of {@link el}: listeners (`onclick`), `class`, `dataset`, and attributes. */
export interface Props {
  [attribute: string]: string | number | boolean | null | undefined | EventListener | Record<string, string>;
  class?: string;
  dataset?: Record<string, string>;
}

/** URLs the dashboard builds: its own hash routes and same-origin paths. Anything else (a `javascript:` URL built from stored text) throws. */
function checkUrl(value: string): string {
  if (/^(#|\/(?![/\\])|\?)/.test(value)) return value;
  throw new Error(`refused URL ${JSON.stringify(value.slice(0, 100))}: only #routes and same-origin paths are linked`);
}

function setProp(node: Element, key: string, value: Props[string]): void {
  if (value === undefined || value === null || value === false) return;
  if (key === "class") {
    node.setAttribute("class", String(value));
  } else if (key === "dataset") {
    for (const [name, text] of Object.entries(value as Record<string, string>)) (node as HTMLElement).dataset[name] = text;
  } else if (key.startsWith("on")) {
    // Listeners only: a string here would be an inline handler, which the CSP refuses anyway.
    if (typeof value !== "function") throw new Error(`${key}: expected a function`);
    node.addEventListener(key.slice(2), value as EventListener);
  } else if (key === "href" || key === "src" || key === "action") {
    node.setAttribute(key, checkUrl(String(value)));
  } else if (key === "value" && "value" in node) {
    (node as HTMLInputElement).value = String(value);
  } else if (key === "checked" && "checked" in node) {
    (node as HTMLInputElement).checked = Boolean(value);
  } else {
    node.setAttribute(key, value === true ? "" : String(value));
  }
}

/** Appends children to `parent`: nodes as they are, strings and numbers as text nodes. */
export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, ...(child as Child[]));
    else if (typeof child === "string" || typeof child === "number") parent.appendChild(document.createTextNode(String(child)));
    else parent.appendChild(child as Node);
  }
}

/** Creates an HTML element: `el("a", { href: "#/jobs", class: "link" }, "Jobs")`. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props?: Props | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props) for (const [key, value] of Object.entries(props)) setProp(node, key, value);
  append(node, ...children);
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** Creates an SVG element (charts): `svg("rect", { x: 0, y: 0, width: 4, height: 10 })`. */
export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes?: Record<string, string | number> | null, ...children: Child[]): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, tag);
  if (attributes) for (const [key, value] of Object.entries(attributes)) setProp(node, key, value);
  append(node, ...children);
  return node;
}

/** Replaces every child of `parent`. */
export function replace(parent: Node & ParentNode, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

/** Sets a node's text only when it changed: live updates touch the DOM only where something moved. */
export function setText(node: Node, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}
