#!/usr/bin/env node
// Converts face-api's tfjs weights (model/<net>-weights_manifest.json + .bin shards) into one
// file that src/vision/model.c maps: nova-face.bin. int32 tensors and scalars (graph constants
// of the SSD export: strides, axes, slice sizes, the preprocessor's 2/255 and 1) are not
// weights and are left out. Quantized tensors stay uint8 with their
// scale and min (v = q * scale + min, as tfjs computes it: in double, rounded to float32),
// float32 tensors stay float32, so the file is as compact as the package's own shards.
//   node tools/face_convert.js MODEL_DIR OUT
//
// Format (little-endian; documented in src/vision/internal.h too):
//   header, 64 bytes: magic "NOVAFACE", u32 version (1), u32 tensor count, u64 table offset,
//     u64 data offset, u64 file size, 24 bytes zero
//   table: count entries of 128 bytes each:
//     char name[80]   "<net>/<tfjs name>", NUL-padded; net is tiny, landmark, recog or ssd
//     u32 dtype       1 = uint8 quantized, 2 = float32
//     u32 ndim        1..4
//     u32 shape[4]    tfjs order (conv filters HWIO, depthwise HWC1, FC IO), unused dims 0
//     f64 scale, f64 min   dequantization (uint8 only, else 0)
//     u64 offset      from the start of the file, 64-byte aligned; the size follows from
//                     dtype and shape (count bytes for uint8, 4 * count for float32)
//   data: the tensors' bytes at their offsets.
'use strict';
const fs = require('fs');
const path = require('path');

const NETS = [
    ['tiny', 'tiny_face_detector_model'],
    ['landmark', 'face_landmark_68_model'],
    ['recog', 'face_recognition_model'],
    ['ssd', 'ssd_mobilenetv1_model'],
];
const HEADER = 64, ENTRY = 128, NAME = 80, ALIGN = 64;

function main() {
    const [dir, out] = process.argv.slice(2);
    if (!dir || !out) {
        console.error('usage: face_convert.js MODEL_DIR OUT');
        process.exit(2);
    }
    const tensors = [];
    for (const [prefix, net] of NETS) {
        const manifest = JSON.parse(fs.readFileSync(path.join(dir, `${net}-weights_manifest.json`)));
        for (const group of manifest) {
            const shards = Buffer.concat(group.paths.map((p) => fs.readFileSync(path.join(dir, p))));
            let pos = 0;
            for (const w of group.weights) {
                const count = w.shape.reduce((a, b) => a * b, 1);
                const q = w.quantization;
                if (q && q.dtype !== 'uint8') throw new Error(`${w.name}: quantized as ${q.dtype}`);
                const nbytes = q ? count : count * 4;
                if (w.dtype === 'int32' || w.shape.length === 0) {
                    pos += nbytes;
                    continue;
                }
                if (w.dtype !== 'float32') throw new Error(`${w.name}: dtype ${w.dtype}`);
                if (w.shape.length < 1 || w.shape.length > 4) throw new Error(`${w.name}: rank`);
                const name = `${prefix}/${w.name}`;
                if (Buffer.byteLength(name) >= NAME) throw new Error(`${name}: name too long`);
                tensors.push({ name, shape: w.shape, q, bytes: shards.subarray(pos, pos + nbytes) });
                pos += nbytes;
            }
            if (pos !== shards.length) throw new Error(`${net}: ${shards.length - pos} bytes left over`);
        }
    }
    const tableEnd = HEADER + ENTRY * tensors.length;
    let offset = Math.ceil(tableEnd / ALIGN) * ALIGN;
    const dataOffset = offset;
    for (const t of tensors) {
        t.offset = offset;
        offset = Math.ceil((offset + t.bytes.length) / ALIGN) * ALIGN;
    }
    const file = Buffer.alloc(offset);
    file.write('NOVAFACE', 0, 'ascii');
    file.writeUInt32LE(1, 8);
    file.writeUInt32LE(tensors.length, 12);
    file.writeBigUInt64LE(BigInt(HEADER), 16);
    file.writeBigUInt64LE(BigInt(dataOffset), 24);
    file.writeBigUInt64LE(BigInt(offset), 32);
    tensors.forEach((t, i) => {
        const e = HEADER + i * ENTRY;
        file.write(t.name, e, 'utf8');
        file.writeUInt32LE(t.q ? 1 : 2, e + 80);
        file.writeUInt32LE(t.shape.length, e + 84);
        t.shape.forEach((d, k) => file.writeUInt32LE(d, e + 88 + 4 * k));
        file.writeDoubleLE(t.q ? t.q.scale : 0, e + 104);
        file.writeDoubleLE(t.q ? t.q.min : 0, e + 112);
        file.writeBigUInt64LE(BigInt(t.offset), e + 120);
        t.bytes.copy(file, t.offset);
    });
    const tmp = `${out}.tmp`;
    fs.writeFileSync(tmp, file);
    fs.renameSync(tmp, out);
    console.error(`face_convert: ${tensors.length} tensors, ${offset} bytes -> ${out}`);
}

main();
