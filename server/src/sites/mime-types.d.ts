// The part of mime-types' API sites use (the package ships no types).
declare module 'mime-types' {
  function contentType(filenameOrExt: string): string | false;
  const mime: { contentType: typeof contentType };
  export default mime;
}
