export async function main(argv: string[]): Promise<number> {
  console.log("xdpc", argv.join(" "));
  return 0;
}
