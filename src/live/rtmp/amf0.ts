/**
 * AMF0, the value encoding of RTMP commands and FLV script data. Pure.
 *
 * Decoded values map to JavaScript: number, boolean, string (short and long), null, undefined, Date, arrays
 * (strict arrays), plain objects (objects and ECMA arrays both decode to plain objects). Encoding a plain
 * object writes an AMF0 object; wrap it in `EcmaArray` to write an ECMA array (what onMetaData carries).
 */

export type Amf0Value = number | boolean | string | null | undefined | Date | EcmaArray | Amf0Value[] | Amf0Object;
export interface Amf0Object {
  [key: string]: Amf0Value;
}

/** An ECMA (associative) array when encoding; decoding yields a plain object. */
export class EcmaArray {
  constructor(readonly entries: Amf0Object) {}
}

export const AMF0 = {
  number: 0x00,
  boolean: 0x01,
  string: 0x02,
  object: 0x03,
  null: 0x05,
  undefined: 0x06,
  ecmaArray: 0x08,
  objectEnd: 0x09,
  strictArray: 0x0a,
  date: 0x0b,
  longString: 0x0c,
} as const;

/** Malformed AMF0 (truncated, unknown marker, too deep): the connection speaks something else. */
export class Amf0Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Amf0Error";
  }
}

/** Nesting deeper than this is refused: a hostile payload cannot exhaust the stack. */
const MAX_DEPTH = 32;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

class ByteSink {
  private parts: Uint8Array[] = [];
  private length = 0;
  push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.length += bytes.length;
  }
  byte(value: number): void {
    this.push(Uint8Array.of(value & 0xff));
  }
  u16(value: number): void {
    this.push(Uint8Array.of((value >>> 8) & 0xff, value & 0xff));
  }
  u32(value: number): void {
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setUint32(0, value >>> 0);
    this.push(bytes);
  }
  double(value: number): void {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setFloat64(0, value);
    this.push(bytes);
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const part of this.parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }
}

function writeKey(sink: ByteSink, key: string): void {
  const encoded = textEncoder.encode(key);
  if (encoded.length > 0xffff) throw new Amf0Error(`AMF0 property name longer than 65535 bytes`);
  sink.u16(encoded.length);
  sink.push(encoded);
}

function writeProperties(sink: ByteSink, entries: Amf0Object, depth: number): void {
  for (const [key, value] of Object.entries(entries)) {
    writeKey(sink, key);
    writeValue(sink, value, depth + 1);
  }
  sink.u16(0);
  sink.byte(AMF0.objectEnd);
}

function writeValue(sink: ByteSink, value: Amf0Value, depth: number): void {
  if (depth > MAX_DEPTH) throw new Amf0Error(`AMF0 value nested deeper than ${MAX_DEPTH}`);
  if (value === null) return sink.byte(AMF0.null);
  if (value === undefined) return sink.byte(AMF0.undefined);
  if (typeof value === "number") {
    sink.byte(AMF0.number);
    return sink.double(value);
  }
  if (typeof value === "boolean") {
    sink.byte(AMF0.boolean);
    return sink.byte(value ? 1 : 0);
  }
  if (typeof value === "string") {
    const encoded = textEncoder.encode(value);
    if (encoded.length > 0xffff) {
      sink.byte(AMF0.longString);
      sink.u32(encoded.length);
    } else {
      sink.byte(AMF0.string);
      sink.u16(encoded.length);
    }
    return sink.push(encoded);
  }
  if (value instanceof Date) {
    sink.byte(AMF0.date);
    sink.double(value.getTime());
    return sink.u16(0); // time zone: reserved, always 0
  }
  if (value instanceof EcmaArray) {
    sink.byte(AMF0.ecmaArray);
    sink.u32(Object.keys(value.entries).length);
    return writeProperties(sink, value.entries, depth);
  }
  if (Array.isArray(value)) {
    sink.byte(AMF0.strictArray);
    sink.u32(value.length);
    for (const item of value) writeValue(sink, item, depth + 1);
    return;
  }
  sink.byte(AMF0.object);
  writeProperties(sink, value, depth);
}

/** The AMF0 bytes of the values, one after the other (a command is name, transaction id, then arguments). */
export function encodeAmf0(...values: Amf0Value[]): Uint8Array {
  const sink = new ByteSink();
  for (const value of values) writeValue(sink, value, 0);
  return sink.bytes();
}

class ByteSource {
  offset = 0;
  private readonly view: DataView;
  constructor(private readonly data: Uint8Array) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }
  get remaining(): number {
    return this.data.length - this.offset;
  }
  need(count: number, what: string): void {
    if (this.remaining < count) throw new Amf0Error(`truncated AMF0 ${what} at byte ${this.offset}`);
  }
  byte(what: string): number {
    this.need(1, what);
    return this.data[this.offset++]!;
  }
  u16(what: string): number {
    this.need(2, what);
    const value = this.view.getUint16(this.offset);
    this.offset += 2;
    return value;
  }
  u32(what: string): number {
    this.need(4, what);
    const value = this.view.getUint32(this.offset);
    this.offset += 4;
    return value;
  }
  double(what: string): number {
    this.need(8, what);
    const value = this.view.getFloat64(this.offset);
    this.offset += 8;
    return value;
  }
  text(length: number, what: string): string {
    this.need(length, what);
    const value = textDecoder.decode(this.data.subarray(this.offset, this.offset + length));
    this.offset += length;
    return value;
  }
}

function readProperties(source: ByteSource, depth: number, limit = Infinity): Amf0Object {
  const entries: Amf0Object = {};
  for (let count = 0; ; count++) {
    // Some encoders omit the end marker of an ECMA array at the end of a message.
    if (source.remaining === 0 && limit !== Infinity) return entries;
    const keyLength = source.u16("property name");
    if (keyLength === 0) {
      // An empty key followed by the end marker closes the object.
      if (source.remaining > 0 && source.byte("object end") !== AMF0.objectEnd) throw new Amf0Error("AMF0 empty property name without an object end marker");
      return entries;
    }
    const key = source.text(keyLength, "property name");
    entries[key] = readValue(source, depth + 1);
  }
}

function readValue(source: ByteSource, depth: number): Amf0Value {
  if (depth > MAX_DEPTH) throw new Amf0Error(`AMF0 value nested deeper than ${MAX_DEPTH}`);
  const marker = source.byte("marker");
  switch (marker) {
    case AMF0.number:
      return source.double("number");
    case AMF0.boolean:
      return source.byte("boolean") !== 0;
    case AMF0.string:
      return source.text(source.u16("string length"), "string");
    case AMF0.longString:
      return source.text(source.u32("long string length"), "long string");
    case AMF0.object:
      return readProperties(source, depth);
    case AMF0.null:
      return null;
    case AMF0.undefined:
      return undefined;
    case AMF0.ecmaArray: {
      const declared = source.u32("ECMA array count");
      return readProperties(source, depth, declared);
    }
    case AMF0.strictArray: {
      const count = source.u32("strict array count");
      // Every element takes at least one byte: a count beyond the bytes left is a lie, not an allocation.
      if (count > source.remaining) throw new Amf0Error(`AMF0 strict array claims ${count} elements in ${source.remaining} bytes`);
      const items: Amf0Value[] = [];
      for (let i = 0; i < count; i++) items.push(readValue(source, depth + 1));
      return items;
    }
    case AMF0.date: {
      const time = source.double("date");
      source.u16("date time zone");
      return new Date(time);
    }
    default:
      throw new Amf0Error(`unsupported AMF0 marker 0x${marker.toString(16).padStart(2, "0")} at byte ${source.offset - 1}`);
  }
}

/** Every value in the bytes, in order. Throws Amf0Error on malformed input. */
export function decodeAmf0(bytes: Uint8Array): Amf0Value[] {
  const source = new ByteSource(bytes);
  const values: Amf0Value[] = [];
  while (source.remaining > 0) values.push(readValue(source, 0));
  return values;
}

/** The byte length of the first AMF0 value of `bytes` (to cut `@setDataFrame` off a data message). */
export function firstValueLength(bytes: Uint8Array): number {
  const source = new ByteSource(bytes);
  readValue(source, 0);
  return source.offset;
}

export function isAmf0Object(value: Amf0Value): value is Amf0Object {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date) && !(value instanceof EcmaArray);
}
