// tinct serve: choosing a method. Methods are grouped by what the user has (the server's `groups`,
// each method's `group` comes from the registry: modality, needs, accepts), each with a plain
// description; automatic methods with a `saturation` option get the strength slider. Nothing here
// names a method: the server's list decides.
"use strict";

import { $ } from "./api.js";

export const methods = { config: null, byName: new Map(), group: null, onChange: () => {} };

export function currentMethod() { return methods.byName.get($("method").value); }
export function secondMethod() { return $("compare-on").checked ? methods.byName.get($("method-b").value) : null; }

function groupOf(name) { return methods.config.groups.find((g) => g.key === name); }

export function fillMethods(config, onChange) {
  methods.config = config;
  methods.onChange = onChange;
  for (const m of config.methods) methods.byName.set(m.name, m);
  const box = $("groups");
  box.textContent = "";
  for (const group of config.groups) {
    if (!config.methods.some((m) => m.group === group.key)) continue;  // only groups that have a method
    const button = document.createElement("button");
    button.type = "button";
    button.className = "group";
    button.dataset.group = group.key;
    button.setAttribute("role", "radio");
    button.textContent = group.title;
    button.addEventListener("click", () => selectGroup(group.key));
    box.appendChild(button);
  }
  const first = methods.byName.get(config.default) || config.methods[0];
  selectGroup(first.group, first.name);
  $("method").disabled = false;
  $("method").addEventListener("change", () => { showMethod(); methods.onChange(); });
  $("method-b").addEventListener("change", () => methods.onChange());
  $("compare-on").addEventListener("change", () => { fillSecond(); methods.onChange(); });
  $("strength").addEventListener("input", () => { $("strength-value").textContent = Number($("strength").value).toFixed(1); });
}

export function selectGroup(key, methodName) {
  methods.group = key;
  for (const button of $("groups").children) {
    const on = button.dataset.group === key;
    button.classList.toggle("selected", on);
    button.setAttribute("aria-checked", on ? "true" : "false");
  }
  $("group-text").textContent = groupOf(key).text;
  const select = $("method");
  select.textContent = "";
  const inGroup = methods.config.methods.filter((m) => m.group === key);
  for (const m of inGroup) select.appendChild(option(m));
  const preferred = methodName || (inGroup.some((m) => m.name === methods.config.default) ? methods.config.default : inGroup[0].name);
  select.value = preferred;
  showMethod();
  methods.onChange();
}

function option(m) {
  const o = document.createElement("option");
  o.value = m.name;
  o.textContent = m.name;
  o.title = m.plain;
  return o;
}

function showMethod() {
  const m = currentMethod();
  if (!m) return;
  $("method-summary").textContent = m.plain;
  $("method-summary").title = `${m.summary} — ${m.paper}`;
  $("strength-section").hidden = !m.saturation;
  $("reference-section").hidden = !m.accepts.includes("reference");
  $("reference-required").textContent = m.needs.includes("reference") ? "(required)" : "(optional)";
  $("reference-help").textContent = m.group === "dual"
    ? "The colour camera's view of the same scene, side by side with the gray one."
    : "A colour photo with similar content: its colours are borrowed.";
  $("caption-section").hidden = !m.accepts.includes("caption");
  $("scribble-section").hidden = !m.accepts.includes("hints");
  $("hints-required").textContent = m.needs.includes("hints") ? "(required)" : "(optional)";
  fillSecond();
}

// The comparison method: any other method that needs no more than the first one's inputs.
function fillSecond() {
  const select = $("method-b");
  const first = currentMethod();
  select.hidden = !$("compare-on").checked;
  const previous = select.value;
  select.textContent = "";
  const fits = methods.config.methods.filter((m) => m.name !== first.name && m.needs.every((n) => first.accepts.includes(n)));
  for (const m of fits) select.appendChild(option(m));
  if (fits.some((m) => m.name === previous)) select.value = previous;
}

// The request fields for method `m` (its strength when it has the slider).
export function methodFields(m) {
  const fields = { method: m.name };
  if (m.saturation) fields.saturation = Number($("strength").value);
  return fields;
}
