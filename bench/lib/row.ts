// One line of the results table: our figure, the peer's figure from the same run, their ratio.
export interface Figure {
  /** Number in `unit`, or null when it could not be measured (then `text` says why). */
  value: number | null;
  unit: string;
  text?: string;
}

export interface Row {
  id: string;
  figure: string;
  ours: Figure;
  peerName: string;
  peer: Figure | null;
  /** ours / peer (null when there is no peer or either side is missing). */
  ratio: number | null;
  goal: string;
  /** Goal met? null when the goal is not a number we can check. */
  met: boolean | null;
  notes: string[];
  raw: Record<string, unknown>;
}

export function ratioOf(ours: Figure, peer: Figure | null): number | null {
  if (!peer || ours.value === null || peer.value === null || peer.value === 0) return null;
  return ours.value / peer.value;
}

export function fmt(f: Figure | null): string {
  if (!f) return "—";
  if (f.value === null) return f.text ?? "n/a";
  const v = Math.abs(f.value) >= 100 ? f.value.toFixed(0) : Math.abs(f.value) >= 10 ? f.value.toFixed(1) : f.value.toFixed(3);
  return `${v} ${f.unit}${f.text ? ` (${f.text})` : ""}`;
}

export interface BenchOptions {
  /** Tiny parameters: checks that the bench still runs (make test), figures are not meaningful. */
  tiny: boolean;
  log: (msg: string) => void;
}
