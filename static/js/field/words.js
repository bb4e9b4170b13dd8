// A refusal as a responder reads it: what happened, in plain words, and what to do. The
// server's codes and messages are for machines and dispatchers; nobody on scene should have
// to decode "illegal_transition".

const BY_CODE = {
  assignment_cancelled: "Dispatch cancelled this call. Do not continue to the scene; call dispatch if you are unsure.",
  illegal_transition: "This step does not fit the call's status any more (it changed on another tablet or at dispatch). Check the status shown and tap the next step.",
  not_on_scene: "The call never reached \u201con scene\u201d, so it has no outcome to record. Tap On scene first, or ask dispatch.",
  outcome_exists: "This call's outcome is already recorded (perhaps by your partner). Nothing more to do.",
  not_on_shift: "You are not on shift. Start your shift, then try again.",
  unit_unavailable: "Your unit is already on a call. Clear that call first, then try again.",
  assignment_active: "Your unit is still on a call and nobody else is on it. Clear the call, or ask dispatch to take it back, then end the shift.",
  already_exists: "This was already recorded. Nothing more to do.",
  idempotency_key_reused: "The tablet sent two different changes under one name. Do it again from the screen.",
  unit_out_of_service: "This unit is out of service. Choose another unit or call dispatch.",
};

const BY_STATUS = {
  401: "You are signed out. Sign in again: what is waiting stays on this tablet.",
  403: "Your account may not do this on the tablet. Call dispatch.",
  404: "This call is no longer on your unit (dispatch moved it). Call dispatch if you are unsure.",
  413: "Too much text to send at once. Shorten the narrative and try again.",
  429: "The server asked the tablet to slow down. It will try again by itself.",
};

const FIELDS = {
  at: "The tablet's clock looks wrong, so the time of this step was not accepted. Check the tablet's date and time, then tap the step again.",
  destination: "Say where you are transporting to.",
  transport_destination: "Say where the person was transported.",
  disposition: "Choose what happened (the disposition).",
  people_contacted: "Give the number of people contacted.",
  follow_up: "Choose the follow-up service and record consent.",
};

function fieldWords(body) {
  const lines = [];
  for (const [field, messages] of Object.entries(body)) {
    const text = [].concat(messages).map((m) => (typeof m === "object" ? Object.values(m).flat().join(" ") : m)).join(" ");
    lines.push(FIELDS[field] || `${field.replaceAll("_", " ")}: ${text}`);
  }
  return lines.join(" ");
}

export function explain(status, body) {
  if (body && typeof body === "object" && body.code && BY_CODE[body.code]) return BY_CODE[body.code];
  if (BY_STATUS[status]) return BY_STATUS[status];
  if (status === 400 && body && typeof body === "object") return fieldWords(body);
  if (body && typeof body === "object" && body.detail) return `${body.detail} Call dispatch if you are unsure.`;
  return `The server did not accept this (answer ${status}). Call dispatch if it matters now.`;
}
