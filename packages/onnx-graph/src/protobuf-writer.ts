/**
 * The few protobuf wire-format pieces ONNX models need, written by hand: varints, length-delimited fields and
 * packed scalars. Avoids a protobuf runtime plus a copy of onnx.proto for a write-only use.
 */
export class ProtobufWriter {
  private chunks: Uint8Array[] = [];
  private current: number[] = [];
  private length = 0;

  private flush(): void {
    if (this.current.length) {
      this.chunks.push(Uint8Array.from(this.current));
      this.current = [];
    }
  }

  private byte(value: number): void {
    this.current.push(value);
    this.length++;
  }

  private bytes(value: Uint8Array): void {
    this.flush();
    this.chunks.push(value);
    this.length += value.length;
  }

  /** Unsigned or negative (two's complement, 10 bytes) 64-bit varint. */
  varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.byte(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.byte(Number(v));
  }

  private tag(field: number, wireType: 0 | 1 | 2 | 5): void {
    this.varint((field << 3) | wireType);
  }

  int(field: number, value: number | bigint): void {
    this.tag(field, 0);
    this.varint(value);
  }

  float(field: number, value: number): void {
    this.tag(field, 5);
    const buffer = new Uint8Array(4);
    new DataView(buffer.buffer).setFloat32(0, value, true);
    this.bytes(buffer);
  }

  raw(field: number, value: Uint8Array): void {
    this.tag(field, 2);
    this.varint(value.length);
    this.bytes(value);
  }

  string(field: number, value: string): void {
    this.raw(field, new TextEncoder().encode(value));
  }

  message(field: number, write: (writer: ProtobufWriter) => void): void {
    const inner = new ProtobufWriter();
    write(inner);
    this.raw(field, inner.finish());
  }

  packedInts(field: number, values: readonly (number | bigint)[]): void {
    const inner = new ProtobufWriter();
    for (const value of values) inner.varint(value);
    this.raw(field, inner.finish());
  }

  packedFloats(field: number, values: readonly number[]): void {
    const buffer = new Uint8Array(values.length * 4);
    const view = new DataView(buffer.buffer);
    values.forEach((value, i) => view.setFloat32(i * 4, value, true));
    this.raw(field, buffer);
  }

  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}
