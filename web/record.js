// The exam and reaction record of the session in view, on both pages (issue 10).
// The technologist fills the exam, confirms the checklist and presses "Injecting now"; either
// participant presses "Reaction" at onset (one tap: the server stamps the time), then completes
// the findings, treatments, vitals and escalation as they come, beside the facility's own reaction
// card. Every save is an entry of the record; nothing typed here is ever edited in place.

import { $, api, el, formatDuration, parseTime, serverClock, show } from "/static/common.js";

const TYPES = { allergic_like: "Allergic-like", physiologic: "Physiologic" };
const SEVERITIES = { mild: "Mild", moderate: "Moderate", severe: "Severe" };
const OUTCOMES = {
  resolved_on_site: "Resolved on site",
  transferred_ed: "Transferred to the ED",
  admitted: "Admitted",
  died: "Died",
};
const RECOMMENDATIONS = {
  none: "No change next time",
  switch_agent: "Switch to another agent",
  premedicate: "Premedicate",
  avoid_class: "Avoid this class of contrast",
};
const ESCALATIONS = { code_team: "Code team called", ems: "EMS called", ed: "Sent to the ED" };
const REACTION_WINDOW_MIN = 20;

function time(iso) {
  const at = parseTime(iso);
  return Number.isFinite(at) ? new Date(at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }) : "";
}

function field(label, input, hint) {
  return el("label", { class: "rec-field" }, el("span", {}, label), input, hint ? el("small", {}, hint) : null);
}

export class RecordPanel {
  /** ``root``: the element to fill; ``role``: "technologist" or "radiologist"; ``notices``. */
  constructor({ root, role, notices, cardRoot = null }) {
    this.root = root;
    this.cardRoot = cardRoot; // where the reaction card goes, beside the form (else inline)
    this.role = role;
    this.notices = notices;
    this.sessionId = null;
    this.setup = null;
    this.record = null;
    this.openReaction = null; // the reaction entry the form completes
    this.ticker = null;
    this.drafts = new Map(); // what was typed and not saved yet, kept across re-renders
    // Reads of the record in flight can answer out of order (a save's own read and the other
    // side's notice): each is numbered, and one older than the last shown is dropped.
    this.asked = 0;
    this.shown = 0;
  }

  /** Keep what is typed into ``input`` under ``name`` until it is saved (``forget``). */
  keep(name, input) {
    input.name = name;
    if (this.drafts.has(name)) {
      if (input.type === "checkbox") input.checked = this.drafts.get(name);
      else input.value = this.drafts.get(name);
    }
    const note = () => this.drafts.set(name, input.type === "checkbox" ? input.checked : input.value);
    input.addEventListener("input", note);
    input.addEventListener("change", note);
    return input;
  }

  forget(...names) {
    for (const name of names) this.drafts.delete(name);
  }

  async enter(sessionId) {
    if (this.sessionId === sessionId) return this.refresh();
    this.sessionId = sessionId;
    this.setup = null;
    this.record = null;
    this.openReaction = null;
    this.drafts.clear();
    show(this.root, true);
    this.root.replaceChildren(el("p", { class: "hint" }, "Loading the exam record…"));
    try {
      this.setup = await api("GET", `/api/sessions/${sessionId}/exam-setup`);
    } catch (error) {
      this.root.replaceChildren(el("p", { class: "rec-error", role: "alert" }, `The exam record cannot be shown: ${error.detail}`));
      return;
    }
    await this.refresh();
    clearInterval(this.ticker);
    this.ticker = setInterval(() => this.tick(), 1000);
  }

  leave() {
    this.sessionId = null;
    clearInterval(this.ticker);
    show(this.root, false);
    this.root.replaceChildren();
    if (this.cardRoot) { show(this.cardRoot, false); this.cardRoot.replaceChildren(); }
  }

  async refresh() {
    if (!this.sessionId || !this.setup) return;
    const sessionId = this.sessionId;
    const ticket = ++this.asked;
    try {
      const { record } = await api("GET", `/api/sessions/${sessionId}/record`);
      if (sessionId !== this.sessionId || ticket < this.shown) return;
      this.shown = ticket;
      this.record = record;
    } catch (error) {
      this.notices.show("error", `The exam record could not be read: ${error.detail}`);
      return;
    }
    if (!this.openReaction && this.record.reactions.length) {
      this.openReaction = this.record.reactions[this.record.reactions.length - 1].seq;
    }
    this.render();
  }

  async post(method, path, body, what, saved = []) {
    try {
      const answer = await api(method, `/api/sessions/${this.sessionId}${path}`, body);
      this.forget(...saved);
      await this.refresh();
      return answer;
    } catch (error) {
      this.notices.show("error", `${what} not saved: ${error.detail}`);
      this.render(); // keep what was typed visible
      throw error;
    }
  }

  tick() {
    const since = this.root.querySelector("[data-since]");
    if (!since) return;
    const seconds = Math.max(0, (serverClock.now() - parseTime(since.dataset.since)) / 1000);
    since.textContent = formatDuration(seconds);
    const minutes = seconds / 60;
    since.closest(".rec-injected")?.setAttribute("data-window", minutes < REACTION_WINDOW_MIN ? "watch" : "past");
  }

  // --- rendering ---------------------------------------------------------------------------

  render() {
    if (!this.record || !this.setup) return;
    const r = this.record;
    const parts = [
      el("div", { class: "rec-head" },
        el("h3", {}, "Exam record"),
        el("button", {
          id: "reaction-now", class: "danger big rec-reaction", type: "button",
          "data-testid": "reaction-now", onclick: () => this.reactionNow(),
        }, r.reactions.length ? "New reaction" : "Reaction"),
      ),
    ];
    if (r.prior_reactions.length) parts.push(this.priors(r.prior_reactions));
    parts.push(this.exam(r), this.checklist(r), this.injection(r));
    for (const reaction of r.reactions) parts.push(this.reaction(reaction));
    const typing = this.typingIn();
    this.root.replaceChildren(...parts);
    this.typeOn(typing);
    if (this.cardRoot) {
      this.cardRoot.replaceChildren(...(r.reactions.length ? [this.card()] : []));
      show(this.cardRoot, r.reactions.length > 0);
    }
    this.tick();
  }

  /** The field being typed in (by its ``keep`` name) and where the caret is, before a re-render:
   * a change the other side saves re-renders the panel, and must not take the field away. */
  typingIn() {
    const active = document.activeElement;
    if (!active || !active.name || !this.root.contains(active)) return null;
    let caret = null;
    try { caret = [active.selectionStart, active.selectionEnd]; } catch { /* number inputs have none */ }
    return { name: active.name, caret };
  }

  typeOn(typing) {
    if (!typing) return;
    const again = [...this.root.querySelectorAll("[name]")].find((node) => node.name === typing.name);
    if (!again) return;
    again.focus({ preventScroll: true });
    if (typing.caret && typing.caret[0] !== null) {
      try { again.setSelectionRange(...typing.caret); } catch { /* not a text field */ }
    }
  }

  priors(priors) {
    return el("div", { class: "rec-priors", role: "alert", "data-testid": "prior-reactions" },
      el("b", {}, "Prior contrast reactions recorded for this patient"),
      el("ul", {}, priors.map((p) => el("li", {},
        `${new Date(parseTime(p.onset_at)).toLocaleDateString()} at ${p.facility}: `,
        p.agent ? `${p.agent.product} (${p.agent.generic})` : "agent not recorded",
        `, ${SEVERITIES[p.severity] || "severity not recorded"}`,
        p.recommendation ? ` — ${RECOMMENDATIONS[p.recommendation]}` : ""))),
    );
  }

  exam(r) {
    const exam = r.exam;
    const fixed = this.role !== "technologist" || r.injection || r.state === "ended";
    const agentName = exam.agent ? `${exam.agent.product} (${exam.agent.generic}, ${exam.agent.concentration})` : "not chosen";
    if (fixed) {
      return el("section", { class: "rec-block", "data-testid": "rec-exam" },
        el("h4", {}, "Exam"),
        el("p", {}, `${exam.modality} · agent ${agentName}`,
          exam.volume_ml ? ` · ${exam.volume_ml} mL` : "", exam.route ? ` ${exam.route}` : "",
          exam.iv_site ? ` · ${exam.iv_site}` : "", exam.delivery ? ` · by ${exam.delivery}` : ""));
    }
    const agent = el("select", { id: "rec-agent", required: true },
      el("option", { value: "" }, "Choose the contrast agent…"),
      this.setup.formulary.map((a) => el("option", { value: a.code, selected: exam.agent && exam.agent.code === a.code },
        `${a.product} — ${a.generic} ${a.concentration}`)));
    const volume = this.keep("exam-volume", el("input", { id: "rec-volume", type: "number", min: "1", max: "500", step: "1", inputmode: "decimal", value: exam.volume_ml ?? "" }));
    const site = this.keep("exam-site", el("input", { id: "rec-site", maxlength: "100", value: exam.iv_site ?? "", placeholder: "e.g. left antecubital" }));
    const delivery = el("select", { id: "rec-delivery" },
      el("option", { value: "injector", selected: exam.delivery !== "hand" }, "Power injector"),
      el("option", { value: "hand", selected: exam.delivery === "hand" }, "Hand injection"));
    const premed = el("input", { id: "rec-premed", type: "checkbox", checked: exam.premedicated === true });
    const patient = this.keep("exam-patient", el("input", { id: "rec-patient", maxlength: "64", autocomplete: "off", spellcheck: "false" }));
    this.keep("exam-agent", agent);
    this.keep("exam-delivery", delivery);
    this.keep("exam-premed", premed);
    const save = el("button", { id: "rec-save-exam", class: "primary", type: "submit" }, exam.recorded_at ? "Save the exam again" : "Save the exam");
    const form = el("form", { class: "rec-block rec-exam", "data-testid": "rec-exam", novalidate: true },
      el("h4", {}, "Exam"),
      field("Contrast agent", agent),
      el("div", { class: "rec-row" }, field("Volume (mL)", volume), field("IV site", site), field("Given by", delivery)),
      el("label", { class: "rec-check" }, premed, " Patient premedicated"),
      field("Patient identifier (optional)", patient, "Used only to find earlier reactions in Standby; never shown again."),
      exam.recorded_at ? el("p", { class: "hint" }, `Saved ${time(exam.recorded_at)} by ${exam.recorded_by.name}`) : null,
      save);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!agent.value) { this.notices.show("error", "Choose the contrast agent from the list."); agent.focus(); return; }
      if (!(Number(volume.value) > 0)) { this.notices.show("error", "Enter the volume in mL."); volume.focus(); return; }
      const body = { agent: agent.value, volume_ml: Number(volume.value), delivery: delivery.value, premedicated: premed.checked };
      if (site.value.trim()) body.iv_site = site.value.trim();
      if (patient.value.trim()) body.patient_id = patient.value.trim();
      save.disabled = true;
      try {
        await this.post("PUT", "/exam", body, "The exam", ["exam-volume", "exam-site", "exam-patient", "exam-agent", "exam-delivery", "exam-premed"]);
      } catch { save.disabled = false; }
    });
    return form;
  }

  checklist(r) {
    const items = r.checklist;
    const mine = this.role === "technologist" && !r.injection && r.state !== "ended";
    const boxes = items.map((item) => {
      const box = el("input", { type: "checkbox", value: item.code, checked: item.confirmed, disabled: item.confirmed || !mine });
      return el("li", { class: item.confirmed ? "done" : "" },
        el("label", {}, box, ` ${item.label}`),
        item.confirmed ? el("small", {}, ` ${item.by.name}, ${time(item.at)}`) : null);
    });
    const open = items.filter((i) => !i.confirmed).length;
    const heading = ["Before the injection", el("span", { class: open ? "rec-todo" : "rec-ok" }, open ? ` · ${open} to confirm` : ` · all ${items.length} confirmed`)];
    if (!open) {
      return el("details", { class: "rec-block", "data-testid": "rec-checklist" },
        el("summary", { class: "rec-summary" }, ...heading), el("ul", { class: "rec-checklist" }, boxes));
    }
    const block = el("section", { class: "rec-block", "data-testid": "rec-checklist" },
      el("h4", {}, ...heading),
      el("ul", { class: "rec-checklist" }, boxes));
    if (mine && open) {
      block.append(el("button", {
        id: "rec-confirm", type: "button", class: "primary",
        onclick: async () => {
          const confirmed = [...block.querySelectorAll("input:checked:not(:disabled)")].map((b) => b.value);
          if (!confirmed.length) { this.notices.show("error", "Tick what is done first."); return; }
          await this.post("POST", "/checklist", { confirmed }, "The checklist").catch(() => {});
        },
      }, "Confirm the ticked items"));
    }
    return block;
  }

  injection(r) {
    if (r.injection) {
      const inj = r.injection;
      return el("section", {
        class: "rec-block rec-injected", "data-testid": "rec-injection",
        "data-verified": inj.verified ? "yes" : "no", "data-window": "watch",
      },
        el("p", { class: "rec-injected-line" },
          el("b", {}, `Injected ${time(inj.at)}`), " · ",
          inj.verified ? "under verified two-way supervision" : `NOT under verified supervision: ${inj.link}`),
        el("p", { class: "rec-since" }, el("span", { class: "rec-since-time", "data-since": inj.at }, "0:00"),
          ` since the injection · reactions cluster in the first ${REACTION_WINDOW_MIN} minutes`));
    }
    if (this.role !== "technologist" || r.state === "ended") {
      return el("section", { class: "rec-block", "data-testid": "rec-injection" }, el("p", { class: "hint" }, "No injection recorded yet."));
    }
    const open = r.checklist.filter((i) => !i.confirmed).length;
    const rule = this.setup.require_verified_injection
      ? `${this.setup.facility} records an injection only under verified two-way supervision.` : "";
    return el("section", { class: "rec-block", "data-testid": "rec-injection" },
      el("button", {
        id: "inject-now", class: "primary big", type: "button", "data-testid": "inject-now",
        onclick: (event) => this.injectNow(event.currentTarget),
      }, "Injecting now"),
      open ? el("p", { class: "rec-todo" }, `${open} checklist item${open > 1 ? "s" : ""} not confirmed yet.`) : null,
      !r.exam.recorded_at ? el("p", { class: "rec-todo" }, "The exam (agent, volume) is not saved yet.") : null,
      rule ? el("p", { class: "hint" }, rule) : null,
      el("p", { id: "inject-refused", class: "rec-error", role: "alert", hidden: true }));
  }

  async injectNow(button) {
    button.disabled = true;
    try {
      await api("POST", `/api/sessions/${this.sessionId}/injection`);
      await this.refresh();
    } catch (error) {
      button.disabled = false;
      const refused = $("inject-refused");
      if (refused) {
        refused.textContent = error.code === "not_verified_live" ? `Not recorded: ${error.detail}` : error.detail;
        show(refused, true);
      }
    }
  }

  async reactionNow() {
    const button = $("reaction-now");
    if (button) button.disabled = true;
    try {
      const answer = await this.post("POST", "/reactions", {}, "The reaction");
      this.openReaction = answer.reaction;
      this.render();
      if (answer.stat_paged) this.notices.show("warn", "No radiologist is verified on the line: every tier is being paged now (STAT).");
      this.root.querySelector(`[data-reaction="${answer.reaction}"]`)?.scrollIntoView({ block: "start" });
    } catch {
      if (button) button.disabled = false;
    }
  }

  reaction(x) {
    const base = `/reactions/${x.seq}`;
    const save = (path, body, what, saved = []) => this.post("POST", `${base}${path}`, body, what, saved).catch(() => {});
    const kept = (name, input) => this.keep(`r${x.seq}-${name}`, input);
    const choice = (name, options, current, onPick) => el("div", { class: "rec-choice", role: "group", "aria-label": name },
      Object.entries(options).map(([value, label]) => el("button", {
        type: "button", class: value === current ? "chosen" : "", "aria-pressed": value === current ? "true" : "false",
        "data-value": value, onclick: () => onPick(value),
      }, label)));
    const finding = (key) => (value) => save("/findings", { [key]: value }, "The finding");
    const manifestations = new Set(x.manifestations);
    const signs = el("div", { class: "rec-signs" }, this.setup.manifestations
      .filter((m) => m.type === x.type || manifestations.has(m.key))
      .map((m) => el("label", { class: "rec-chip" },
        el("input", { type: "checkbox", value: m.key, checked: manifestations.has(m.key) }), ` ${m.label}`)));
    const saveSigns = el("button", {
      type: "button", onclick: () => save("/findings", {
        manifestations: [...signs.querySelectorAll("input:checked")].map((b) => b.value),
      }, "The signs"),
    }, "Save the signs");

    const drug = kept("drug", el("input", { maxlength: "100", placeholder: "drug", "aria-label": "Drug" }));
    const dose = kept("dose", el("input", { maxlength: "100", placeholder: "dose", "aria-label": "Dose" }));
    const route = kept("route", el("input", { maxlength: "100", placeholder: "route", "aria-label": "Route" }));
    const givenBy = kept("given-by", el("input", { maxlength: "100", placeholder: "given by", "aria-label": "Given by" }));
    const addTreatment = el("button", {
      type: "button", onclick: () => {
        if (![drug, dose, route, givenBy].every((i) => i.value.trim())) { this.notices.show("error", "A treatment needs drug, dose, route and who gave it."); return; }
        save("/treatments", { drug: drug.value.trim(), dose: dose.value.trim(), route: route.value.trim(), given_by: givenBy.value.trim() }, "The treatment",
          [drug.name, dose.name, route.name, givenBy.name]);
      },
    }, "Add treatment");
    const vital = (placeholder, max) => kept(placeholder, el("input", { type: "number", inputmode: "numeric", min: "0", max, placeholder, "aria-label": placeholder }));
    const sys = vital("BP sys", "300"), dia = vital("BP dia", "200"), hr = vital("HR", "300"), rr = vital("RR", "80"), spo2 = vital("SpO₂ %", "100");
    const addVitals = el("button", {
      type: "button", onclick: () => {
        const body = {};
        for (const [key, input] of Object.entries({ systolic: sys, diastolic: dia, heart_rate: hr, respiratory_rate: rr, spo2 })) {
          if (input.value !== "") body[key] = Number(input.value);
        }
        if (!Object.keys(body).length) { this.notices.show("error", "Enter at least one vital sign."); return; }
        save("/vitals", body, "The vital signs", [sys, dia, hr, rr, spo2].map((i) => i.name));
      },
    }, "Add vitals");
    const text = (key, label, current) => {
      const input = kept(key, el("textarea", { rows: "2", maxlength: "500" }, current ?? ""));
      return el("div", { class: "rec-text" }, field(label, input),
        el("button", { type: "button", onclick: () => { if (input.value.trim()) save("/findings", { [key]: input.value.trim() }, label, [input.name]); } }, "Save"));
    };
    const yesNo = (key, label, current) => el("label", { class: "rec-check" },
      el("input", { type: "checkbox", checked: current === true, onchange: (e) => save("/findings", { [key]: e.target.checked }, label) }), ` ${label}`);
    const select = (key, label, options, current) => field(label, el("select", {
      onchange: (e) => { if (e.target.value) save("/findings", { [key]: e.target.value }, label); },
    }, el("option", { value: "" }, "—"), Object.entries(options).map(([v, l]) => el("option", { value: v, selected: v === current }, l))));

    return el("section", { class: "rec-block rec-reaction-form", "data-reaction": x.seq, "data-testid": "reaction-form", "data-severity": x.severity || "" },
      el("h4", {}, `Reaction, onset ${time(x.onset_at)}`, x.breakthrough ? el("span", { class: "rec-todo" }, " · breakthrough (premedicated)") : null),
      this.onsetCorrection(x),
      el("p", { class: "hint" }, `Recorded by ${x.reported_by.name}`,
        x.stat_paged_at ? ` · every tier paged at ${time(x.stat_paged_at)}` : "",
        x.first_action_at ? ` · radiologist ${x.first_action} at ${time(x.first_action_at)} (${Math.round(x.onset_to_action_s)} s after onset)` : ""),
      el("div", { class: "rec-reaction-body" },
        el("div", { class: "rec-reaction-fields" },
          el("p", { class: "rec-label" }, "Severity"), choice("Severity", SEVERITIES, x.severity, finding("severity")),
          el("p", { class: "rec-label" }, "Type"), choice("Type", TYPES, x.type, finding("type")),
          el("p", { class: "rec-label" }, "Signs"),
          x.type ? [signs, saveSigns] : el("p", { class: "hint" }, "Choose the type to list its signs."),
          el("p", { class: "rec-label" }, "Treatments"),
          el("ul", { class: "rec-list" }, x.treatments.map((t) => el("li", {}, `${time(t.at)} ${t.drug} ${t.dose} ${t.route}, by ${t.given_by}`))),
          el("div", { class: "rec-row" }, drug, dose, route, givenBy, addTreatment),
          el("p", { class: "rec-label" }, "Vital signs"),
          el("ul", { class: "rec-list" }, x.vitals.map((v) => el("li", {}, `${time(v.at)} `,
            [v.systolic && `BP ${v.systolic}/${v.diastolic ?? "–"}`, v.heart_rate && `HR ${v.heart_rate}`, v.respiratory_rate && `RR ${v.respiratory_rate}`, v.spo2 && `SpO₂ ${v.spo2}%`].filter(Boolean).join(" · ")))),
          el("div", { class: "rec-row" }, sys, dia, hr, rr, spo2, addVitals),
          el("p", { class: "rec-label" }, "Escalation"),
          el("div", { class: "rec-choice" }, Object.entries(ESCALATIONS).map(([kind, label]) => el("button", {
            type: "button", class: x.escalations.some((e) => e.kind === kind) ? "chosen" : "",
            onclick: () => save("/escalations", { kind }, label),
          }, label))),
          el("details", { class: "rec-later", open: Boolean(x.outcome || x.recommendation || x.instructions || x.handoff) },
            el("summary", { class: "rec-summary" }, "Afterwards: outcome, next time, allergy list, instructions, handoff"),
          select("outcome", "Outcome", OUTCOMES, x.outcome),
          select("recommendation", "Next time", RECOMMENDATIONS, x.recommendation),
          yesNo("allergy_recorded", "Allergy list updated with this exact agent", x.allergy_recorded),
          yesNo("premedicated", "Patient was premedicated", x.premedicated),
          text("instructions", "Instructions given to the patient", x.instructions),
          text("handoff", "Handoff (to whom, what was said)", x.handoff),
          text("note", "Note", null),
          ),
          x.notes.length ? el("ul", { class: "rec-list" }, x.notes.map((n) => el("li", {}, n))) : null,
        ),
        this.cardRoot ? null : this.card(),
      ));
  }

  card() {
    const card = this.setup.reaction_card;
    if (!card) {
      return el("aside", { class: "rec-card", "data-testid": "reaction-card" },
        el("p", { class: "hint" }, "This facility has no reaction card in Standby: use the one posted in the room."));
    }
    return el("aside", { class: "rec-card", "data-testid": "reaction-card" },
      el("h4", {}, card.title), el("p", { class: "hint" }, card.approved),
      card.sections.map((section) => el("div", {}, el("b", {}, section.heading),
        el("ul", {}, section.lines.map((line) => el("li", {}, line))))));
  }

  /** The onset, corrected by an amendment with a reason (the first time stays in the record). */
  onsetCorrection(x) {
    const local = new Date(parseTime(x.onset_at));
    const pad = (n) => String(n).padStart(2, "0");
    const input = this.keep(`r${x.seq}-onset`, el("input", {
      type: "time", step: "1", "aria-label": "Onset time",
      value: `${pad(local.getHours())}:${pad(local.getMinutes())}:${pad(local.getSeconds())}`,
    }));
    const reason = this.keep(`r${x.seq}-onset-why`, el("input", { maxlength: "500", placeholder: "why (e.g. signs began before the tap)", "aria-label": "Why the onset is corrected" }));
    const save = el("button", {
      type: "button",
      onclick: async () => {
        const [h, m, sec] = input.value.split(":").map(Number);
        if (!reason.value.trim() || Number.isNaN(h)) { this.notices.show("error", "A corrected onset needs the time and why."); return; }
        const when = new Date(local);
        when.setHours(h, m, sec || 0, 0);
        await this.post("POST", "/amendments", {
          target_seq: x.seq, changes: { onset_at: when.toISOString() }, reason: reason.value.trim(),
        }, "The corrected onset", [input.name, reason.name]).catch(() => {});
      },
    }, "Correct the onset");
    return el("details", { class: "rec-later", "data-testid": "onset-correction" },
      el("summary", { class: "rec-summary" }, "Correct the onset time"),
      el("div", { class: "rec-row" }, input, reason, save));
  }
}
