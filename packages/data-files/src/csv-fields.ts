/**
 * Splits one CSV line into trimmed fields. Double-quoted fields may hold commas and doubled quotes (RFC 4180);
 * a field cannot span lines. Returns undefined for a line whose quotes do not close.
 */
export function splitCsvLine(line: string): string[] | undefined {
  // Feature rows rarely quote anything: skip the character loop when there is nothing to unquote.
  if (!line.includes('"')) {
    const fields = line.split(',');
    for (let i = 0; i < fields.length; i++) fields[i] = fields[i]!.trim();
    return fields;
  }
  const fields: string[] = [];
  let at = 0;
  for (;;) {
    while (line[at] === ' ' || line[at] === '\t') at++;
    let field = '';
    if (line[at] === '"') {
      at++;
      for (;;) {
        const quote = line.indexOf('"', at);
        if (quote < 0) return undefined;
        field += line.slice(at, quote);
        at = quote + 1;
        if (line[at] !== '"') break;
        field += '"';
        at++;
      }
      const comma = line.indexOf(',', at);
      const rest = line.slice(at, comma < 0 ? line.length : comma);
      // Text after the closing quote (`"a"b`) is malformed.
      if (rest.trim() !== '') return undefined;
      fields.push(field);
      if (comma < 0) return fields;
      at = comma + 1;
    } else {
      const comma = line.indexOf(',', at);
      fields.push(line.slice(at, comma < 0 ? line.length : comma).trim());
      if (comma < 0) return fields;
      at = comma + 1;
    }
  }
}
