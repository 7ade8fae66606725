/**
 * Recording schedules: a device records only inside its time windows, e.g.
 * ["mon-fri 08:00-18:00", "sat,sun 10:00-14:00", "daily 22:00-06:00"], in the streamer's local
 * time (its TZ). A window whose end is not after its start runs past midnight into the next day
 * (it belongs to the day it starts on); "24:00" ends at midnight.
 */

export interface ScheduleWindow {
  /** Days the window starts on, 0 = Sunday … 6 = Saturday. */
  days: number[];
  /** Minutes after local midnight. */
  fromMin: number;
  toMin: number;
}

const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/** Parses one window; a clear message (thrown as Error) says what is wrong. */
export function parseWindow(text: string): ScheduleWindow {
  const m = /^\s*([a-z,-]+)\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$/i.exec(text);
  if (!m) throw new Error(`"${text}": expected "DAYS HH:MM-HH:MM", e.g. "mon-fri 08:00-18:00" or "daily 22:00-06:00"`);
  const fromMin = minutes(m[2], m[3], false, text), toMin = minutes(m[4], m[5], true, text);
  if (fromMin === toMin) throw new Error(`"${text}": the window is empty (start = end); "daily 00:00-24:00" is all day`);
  return { days: days(m[1].toLowerCase(), text), fromMin, toMin };
}

function minutes(h: string, m: string, end: boolean, text: string): number {
  const v = Number(h) * 60 + Number(m);
  if (Number(m) > 59 || v > (end ? 24 * 60 : 24 * 60 - 1)) throw new Error(`"${text}": ${h}:${m} is not a time of day`);
  return v;
}

function days(spec: string, text: string): number[] {
  if (spec === "daily") return [0, 1, 2, 3, 4, 5, 6];
  const out = new Set<number>();
  for (const part of spec.split(",")) {
    const [a, b] = part.split("-");
    const i = DAYS.indexOf(a), j = b === undefined ? i : DAYS.indexOf(b);
    if (i < 0 || j < 0) throw new Error(`"${text}": "${part}" is not a day or day range (mon, tue, … sun, mon-fri, daily)`);
    // A range may wrap over the week's end: fri-mon is fri, sat, sun, mon.
    for (let d = i; ; d = (d + 1) % 7) {
      out.add(d);
      if (d === j) break;
    }
  }
  return [...out].sort();
}

/** Whether local time `at` falls inside any of the windows. */
export function inSchedule(windows: ScheduleWindow[], at: Date): boolean {
  const day = at.getDay(), min = at.getHours() * 60 + at.getMinutes();
  const yesterday = (day + 6) % 7;
  return windows.some((w) => w.fromMin < w.toMin
    ? w.days.includes(day) && min >= w.fromMin && min < w.toMin
    : (w.days.includes(day) && min >= w.fromMin) || (w.days.includes(yesterday) && min < w.toMin));
}
