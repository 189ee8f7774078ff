// elfy ships no types; this is the part of its parse result the rewriter reads.
declare module 'elfy' {
  interface ElfyProgram {
    type: string | number;
    offset: number;
    vaddr: number;
    paddr: number;
    filesz: number;
    memsz: number;
    flags: Record<string, boolean>;
    align: number;
  }
  interface ElfySection {
    name: string;
    type: string | number;
    flags: Record<string, boolean>;
    addr: number;
    off: number;
    size: number;
    link: number;
    info: number;
    addralign: number;
    entsize: number;
    data: Buffer;
  }
  interface ElfyResult {
    class: string;
    endian: string;
    type: string;
    machine: string;
    entry: number;
    phoff: number;
    shoff: number;
    flags: number;
    phnum: number;
    shnum: number;
    shstrndx: number;
    body: { programs: ElfyProgram[]; sections: ElfySection[] };
  }
  const elfy: { parse(buf: Buffer): ElfyResult };
  export default elfy;
}
