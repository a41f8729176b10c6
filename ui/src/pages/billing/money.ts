// Money is exact decimal strings from the API ("49.00", "0.015"): shown as they are, with a currency sign and
// thousands separators added to the digits — never through a floating-point number.

const SIGNS: Record<string, string> = { usd: "$", eur: "€", gbp: "£", cad: "CA$", aud: "A$", jpy: "¥" };

/** `1234.5` → `1,234.5`: grouping on the digit string, so nothing is rounded. */
function group(digits: string): string {
  const [whole, fraction] = digits.split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}

export function formatMoney(money: { amount: string; currency: string }): string {
  const negative = money.amount.startsWith("-");
  const digits = group(negative ? money.amount.slice(1) : money.amount);
  const sign = SIGNS[money.currency] ?? `${money.currency.toUpperCase()} `;
  return `${negative ? "−" : ""}${sign}${digits}`;
}

/**
 * A quantity shown with separators, to at most `places` decimals (half up, on the digits), trailing zeros
 * dropped: `2000` → `2,000`, `64.516129` → `64.52`. Display only: amounts are never rounded here.
 */
export function formatQuantity(value: string, places = 2): string {
  const rounded = roundDecimal(value, places);
  const trimmed = rounded.includes(".") ? rounded.replace(/0+$/, "").replace(/\.$/, "") : rounded;
  return group(trimmed);
}

function roundDecimal(value: string, places: number): string {
  const negative = value.startsWith("-");
  const [whole, fraction = ""] = (negative ? value.slice(1) : value).split(".");
  if (fraction.length <= places) return value;
  const scale = 10n ** BigInt(places);
  let units = BigInt(whole || "0") * scale + BigInt(fraction.slice(0, places) || "0");
  if (Number(fraction[places]) >= 5) units += 1n;
  const digits = `${units / scale}${places > 0 ? `.${(units % scale).toString().padStart(places, "0")}` : ""}`;
  return negative ? `-${digits}` : digits;
}

/** What a metric is called on screen. */
export function metricLabel(metric: string): string {
  switch (metric) {
    case "CALL_MS":
      return "Call time";
    case "STT_AUDIO_MS":
      return "Speech-to-text";
    case "LLM_INPUT_TOKENS":
      return "LLM input";
    case "LLM_OUTPUT_TOKENS":
      return "LLM output";
    case "TTS_CHARACTERS":
      return "Text-to-speech";
    default:
      return metric;
  }
}

/** `minute` → `minutes`, `1k tokens` stays. */
export function unitLabel(unit: string, quantity = "2"): string {
  return unit === "minute" && quantity !== "1" ? "minutes" : unit;
}

/** The exact sum of decimal strings with at most `places` decimals (BigInt, no floating point). */
export function sumDecimals(values: string[], places: number): string {
  const scale = 10n ** BigInt(places);
  let total = 0n;
  for (const value of values) {
    const negative = value.startsWith("-");
    const [whole, fraction = ""] = (negative ? value.slice(1) : value).split(".");
    const units = BigInt(whole || "0") * scale + BigInt((fraction + "0".repeat(places)).slice(0, places) || "0");
    total += negative ? -units : units;
  }
  const negative = total < 0n;
  const abs = negative ? -total : total;
  const whole = (abs / scale).toString();
  const fraction = (abs % scale).toString().padStart(places, "0");
  return `${negative ? "-" : ""}${whole}${places > 0 ? `.${fraction}` : ""}`;
}
