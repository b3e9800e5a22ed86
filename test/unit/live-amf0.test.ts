import { describe, expect, test } from "bun:test";
import { Amf0Error, decodeAmf0, EcmaArray, encodeAmf0, firstValueLength } from "../../src/live/rtmp/amf0.ts";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

describe("AMF0", () => {
  test("each type encodes to the bytes the spec gives", () => {
    expect(hex(encodeAmf0(1))).toBe("003ff0000000000000");
    expect(hex(encodeAmf0(true, false))).toBe("01010100");
    expect(hex(encodeAmf0("ab"))).toBe("0200026162");
    expect(hex(encodeAmf0(null, undefined))).toBe("0506");
    expect(hex(encodeAmf0({ a: 1 }))).toBe("0300016100" + "3ff0000000000000" + "000009");
    expect(hex(encodeAmf0(new EcmaArray({ a: true })))).toBe("0800000001" + "0001610101" + "000009");
    expect(hex(encodeAmf0([1, "x"]))).toBe("0a00000002" + "003ff0000000000000" + "02000178");
    expect(hex(encodeAmf0(new Date(0)))).toBe("0b00000000000000000000");
    const long = "y".repeat(70_000);
    const encoded = encodeAmf0(long);
    expect(encoded[0]).toBe(0x0c);
    expect(new DataView(encoded.buffer).getUint32(1)).toBe(70_000);
  });

  test("decode reverses encode for every type, nested", () => {
    const date = new Date(1_700_000_000_000);
    const values = [
      "connect",
      1,
      { app: "live", tcUrl: "rtmp://127.0.0.1/live", fpad: false, capabilities: 15, nested: { list: [1, null, "z"], when: date } },
      null,
      undefined,
      "é".repeat(40_000),
    ];
    const decoded = decodeAmf0(encodeAmf0(...values));
    expect(decoded).toEqual(values);
  });

  test("an ECMA array decodes to a plain object, also without its end marker (some encoders omit it)", () => {
    expect(decodeAmf0(encodeAmf0(new EcmaArray({ width: 320, height: 240 })))).toEqual([{ width: 320, height: 240 }]);
    const withoutEnd = encodeAmf0(new EcmaArray({ width: 320 })).slice(0, -3);
    expect(decodeAmf0(withoutEnd)).toEqual([{ width: 320 }]);
  });

  test("malformed input is an Amf0Error, never a crash or a huge allocation", () => {
    expect(() => decodeAmf0(Uint8Array.of(0x02, 0x00, 0x05, 0x61))).toThrow(Amf0Error); // string cut short
    expect(() => decodeAmf0(Uint8Array.of(0x11))).toThrow("unsupported AMF0 marker 0x11");
    expect(() => decodeAmf0(Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0xff, 0x05))).toThrow("claims 4294967295 elements");
    // 40 strict arrays of one element each, nested: refused by depth before the stack is at risk.
    const deep = Uint8Array.from([...Array.from({ length: 40 }, () => [0x0a, 0, 0, 0, 1]).flat(), 0x05]);
    expect(() => decodeAmf0(deep)).toThrow("nested deeper than 32");
  });

  test("firstValueLength measures one value (cuts @setDataFrame off a data message)", () => {
    const payload = encodeAmf0("@setDataFrame", "onMetaData", new EcmaArray({ width: 320 }));
    const length = firstValueLength(payload);
    expect(length).toBe(1 + 2 + "@setDataFrame".length);
    expect(decodeAmf0(payload.subarray(length))).toEqual(["onMetaData", { width: 320 }]);
  });
});
