/**
 * Custom endpoint header values often carry the receiver's credentials (an Authorization value,
 * an API key): lists and the delivery log show them masked. The last four characters stay when
 * the value is long enough (16+) for them to give nothing useful away, so values can be told apart.
 */
export function maskValue(value: string): string {
  return value.length >= 16 ? `***${value.slice(-4)}` : '***';
}

/** Header names as they are, values masked. */
export function maskHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, maskValue(value)]));
}
