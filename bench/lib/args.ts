// A bench's command line: `--json`, and `--name N` numbers with defaults.
const argv = process.argv.slice(2);

export const asJson = argv.includes('--json');

/** The number after `name`, or `dflt` when the flag is absent. */
export function numberFlag(name: string, dflt: number): number {
  const i = argv.indexOf(name);
  return i === -1 ? dflt : Number(argv[i + 1]);
}
