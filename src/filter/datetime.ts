// Datetime strings for `range` conditions with string bounds: the formats Qdrant's DateTimeWrapper
// accepts (lib/segment/src/types.rs, `FromStr for DateTimePayloadType`), as epoch microseconds.

const DATETIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?)?$/

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}

/**
 * Parses `YYYY-MM-DD`, `YYYY-MM-DD[T ]HH:MM`, `YYYY-MM-DD[T ]HH:MM:SS[.fraction]` with an optional
 * zone (`Z`, `±HH`, `±HHMM`, `±HH:MM`) after the seconds; no zone means UTC. Returns epoch
 * microseconds (fractions below a microsecond are dropped; a leap second `:60` reads as
 * `:59.999999`), or null when the string is not such a datetime.
 * @example parseDateTime('2020-02-15T00:00:00Z') // 1581724800000000
 */
export function parseDateTime(s: string): number | null {
  const m = DATETIME_RE.exec(s)
  if (m === null) return null
  const year = Number(m[1])
  const month = Number(m[2])
  const day = Number(m[3])
  const hour = m[4] === undefined ? 0 : Number(m[4])
  const minute = m[5] === undefined ? 0 : Number(m[5])
  let second = m[6] === undefined ? 0 : Number(m[6])
  const hasZone = m[8] !== undefined || m[9] !== undefined
  if (hasZone && m[6] === undefined) return null
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null
  if (hour > 23 || minute > 59 || second > 60) return null
  let micros = m[7] === undefined ? 0 : Number(m[7].padEnd(6, '0').slice(0, 6))
  if (second === 60) {
    second = 59
    micros = 999_999
  }
  let offsetMinutes = 0
  if (m[9] !== undefined) {
    const oh = Number(m[10])
    const om = m[11] === undefined ? 0 : Number(m[11])
    if (oh > 23 || om > 59) return null
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (oh * 60 + om)
  }
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  date.setUTCHours(hour, minute, second, 0)
  return (date.getTime() - offsetMinutes * 60_000) * 1000 + micros
}
